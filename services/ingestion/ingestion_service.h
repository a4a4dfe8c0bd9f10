// gRPC adapter of the ingestion service: converts requests to Intake calls
// and results back, mapping absl::Status to grpc::Status in one place
// (status::ToGrpcStatus). Track and TrackBatch run on the callback API's
// unary reactors; TrackStream is a bidirectional reactor that keeps at most
// `stream_window` events in flight per stream (it stops reading when the
// window is full, so HTTP/2 flow control pushes back on a fast client) and
// answers in request order. Every call is authorised first (app role; a
// stream once, when it opens).
#ifndef OMNICX_SERVICES_INGESTION_INGESTION_SERVICE_H_
#define OMNICX_SERVICES_INGESTION_INGESTION_SERVICE_H_

#include "libs/auth/authenticator.h"
#include "libs/server/arena_allocator.h"
#include "omnicx/v1/ingestion.grpc.pb.h"
#include "services/ingestion/intake.h"

namespace omnicx::ingestion {

class IngestionServiceImpl final
    : public omnicx::v1::IngestionService::CallbackService {
 public:
  IngestionServiceImpl(Intake& intake, auth::Authenticator& auth,
                       int stream_window = 256)
      : intake_(intake), auth_(auth), stream_window_(stream_window) {
    SetMessageAllocatorFor_TrackBatch(&batch_allocator_);
  }

  grpc::ServerUnaryReactor* Track(grpc::CallbackServerContext* context,
                                  const omnicx::v1::TrackRequest* request,
                                  omnicx::v1::TrackResponse* response) override;

  grpc::ServerUnaryReactor* TrackBatch(
      grpc::CallbackServerContext* context,
      const omnicx::v1::TrackBatchRequest* request,
      omnicx::v1::TrackBatchResponse* response) override;

  grpc::ServerBidiReactor<omnicx::v1::TrackRequest, omnicx::v1::TrackResponse>*
  TrackStream(grpc::CallbackServerContext* context) override;

 private:
  Intake& intake_;
  auth::Authenticator& auth_;
  int stream_window_;
  server::ArenaRequestAllocator<omnicx::v1::TrackBatchRequest,
                                omnicx::v1::TrackBatchResponse>
      batch_allocator_;
};

}  // namespace omnicx::ingestion

#endif  // OMNICX_SERVICES_INGESTION_INGESTION_SERVICE_H_
