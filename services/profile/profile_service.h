// gRPC adapter of the profile service: translates between omnicx.v1 protos
// and the domain logic, and maps absl::Status to grpc::Status in one place
// (status::ToGrpcStatus). Methods not built yet answer UNIMPLEMENTED (the
// callback API's default).
#ifndef OMNICX_SERVICES_PROFILE_PROFILE_SERVICE_H_
#define OMNICX_SERVICES_PROFILE_PROFILE_SERVICE_H_

#include "omnicx/v1/profile.grpc.pb.h"

namespace omnicx::profile {

class ProfileServiceImpl final
    : public omnicx::v1::ProfileService::CallbackService {};

}  // namespace omnicx::profile

#endif  // OMNICX_SERVICES_PROFILE_PROFILE_SERVICE_H_
