// gRPC adapter of the journey service: translates between omnicx.v1 protos
// and the domain logic, and maps absl::Status to grpc::Status in one place
// (status::ToGrpcStatus). Methods not built yet answer UNIMPLEMENTED (the
// callback API's default).
#ifndef OMNICX_SERVICES_JOURNEY_JOURNEY_SERVICE_H_
#define OMNICX_SERVICES_JOURNEY_JOURNEY_SERVICE_H_

#include "omnicx/v1/journey.grpc.pb.h"

namespace omnicx::journey {

class JourneyServiceImpl final
    : public omnicx::v1::JourneyService::CallbackService {};

}  // namespace omnicx::journey

#endif  // OMNICX_SERVICES_JOURNEY_JOURNEY_SERVICE_H_
