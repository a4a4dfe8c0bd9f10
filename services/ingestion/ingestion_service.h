// gRPC adapter of the ingestion service: translates between omnicx.v1 protos
// and the domain logic, and maps absl::Status to grpc::Status in one place
// (status::ToGrpcStatus). Methods not built yet answer UNIMPLEMENTED (the
// callback API's default).
#ifndef OMNICX_SERVICES_INGESTION_INGESTION_SERVICE_H_
#define OMNICX_SERVICES_INGESTION_INGESTION_SERVICE_H_

#include "omnicx/v1/ingestion.grpc.pb.h"

namespace omnicx::ingestion {

class IngestionServiceImpl final
    : public omnicx::v1::IngestionService::CallbackService {};

}  // namespace omnicx::ingestion

#endif  // OMNICX_SERVICES_INGESTION_INGESTION_SERVICE_H_
