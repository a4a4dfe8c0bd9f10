// Ends a unary callback-API call with an absl::Status (mapped to a
// grpc::Status with its details in one place, status::ToGrpcStatus):
//
//   grpc::ServerUnaryReactor* Svc::Get(grpc::CallbackServerContext* context,
//                                      const Req* request, Resp* response) {
//     absl::StatusOr<auth::Principal> who = auth_.Authorize(*context, kGet);
//     if (!who.ok()) return FinishWith(context, who.status());
//     ...
//     return FinishWith(context, absl::OkStatus());
//   }
#ifndef OMNICX_LIBS_SERVER_REACTOR_H_
#define OMNICX_LIBS_SERVER_REACTOR_H_

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "libs/status/error_details.h"

namespace omnicx::server {

inline grpc::ServerUnaryReactor* FinishWith(
    grpc::CallbackServerContext* context, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status::ToGrpcStatus(status));
  return reactor;
}

}  // namespace omnicx::server

#endif  // OMNICX_LIBS_SERVER_REACTOR_H_
