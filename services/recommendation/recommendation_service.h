// gRPC adapter of the recommendation service: translates between omnicx.v1
// protos and the domain logic, and maps absl::Status to grpc::Status in one
// place (status::ToGrpcStatus). Methods not built yet answer UNIMPLEMENTED (the
// callback API's default).
#ifndef OMNICX_SERVICES_RECOMMENDATION_RECOMMENDATION_SERVICE_H_
#define OMNICX_SERVICES_RECOMMENDATION_RECOMMENDATION_SERVICE_H_

#include "omnicx/v1/recommendation.grpc.pb.h"

namespace omnicx::recommendation {

class RecommendationServiceImpl final
    : public omnicx::v1::RecommendationService::CallbackService {};

}  // namespace omnicx::recommendation

#endif  // OMNICX_SERVICES_RECOMMENDATION_RECOMMENDATION_SERVICE_H_
