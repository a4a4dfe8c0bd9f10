#include "services/ingestion/ingestion_service.h"

#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "libs/status/error_details.h"

namespace omnicx::ingestion {
namespace {

using omnicx::v1::EventResult;
using omnicx::v1::Interaction;
using omnicx::v1::TrackRequest;
using omnicx::v1::TrackResponse;

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context,
                               const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status::ToGrpcStatus(status));
  return reactor;
}

// One result per TrackRequest, in order; at most `window` requests between
// reading and answering. Reads continue while the window has room, so
// requests that arrive while a batch is being stored are stored together in
// the next batch. On a whole-call failure (Redis unavailable, back-pressure)
// the answers already computed are still written, then the stream ends with
// that status and the client resends what was not answered.
class TrackStreamReactor final
    : public grpc::ServerBidiReactor<TrackRequest, TrackResponse> {
 public:
  TrackStreamReactor(Intake& intake, int window)
      : intake_(intake), window_(window) {
    absl::MutexLock lock(&mu_);
    MaybeReadLocked();
  }

  void OnReadDone(bool ok) override {
    bool process = false;
    {
      absl::MutexLock lock(&mu_);
      reading_ = false;
      if (!ok) {
        reads_done_ = true;
      } else if (!final_status_.has_value()) {
        inbox_.push_back(std::move(incoming_));
        incoming_.Clear();
        ++in_flight_;
        MaybeReadLocked();
        if (!processing_) process = processing_ = true;
      }
      MaybeFinishLocked();
    }
    if (process) ProcessLoop();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    outbox_.pop_front();
    --in_flight_;
    if (!ok && !final_status_.has_value()) {
      final_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
      outbox_.clear();
    }
    MaybeWriteLocked();
    MaybeReadLocked();
    MaybeFinishLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    if (!final_status_.has_value()) {
      final_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    }
    MaybeFinishLocked();
  }

  void OnDone() override { delete this; }

 private:
  // Drains the inbox in batches on this callback thread. Redis commands carry
  // their own timeout, so the time spent here is bounded.
  void ProcessLoop() {
    for (;;) {
      std::vector<TrackRequest> batch;
      {
        absl::MutexLock lock(&mu_);
        if (inbox_.empty() || final_status_.has_value()) {
          processing_ = false;
          MaybeFinishLocked();
          return;
        }
        while (!inbox_.empty()) {
          batch.push_back(std::move(inbox_.front()));
          inbox_.pop_front();
        }
      }
      std::vector<Interaction*> events;
      events.reserve(batch.size());
      for (TrackRequest& r : batch) events.push_back(r.mutable_interaction());
      absl::StatusOr<std::vector<EventResult>> results =
          intake_.Process(events, "interaction");
      absl::MutexLock lock(&mu_);
      if (!results.ok()) {
        final_status_ = status::ToGrpcStatus(results.status());
        continue;  // ends the loop and finishes once writes drain
      }
      for (EventResult& result : *results) {
        TrackResponse response;
        *response.mutable_result() = std::move(result);
        outbox_.push_back(std::move(response));
      }
      MaybeWriteLocked();
    }
  }

  void MaybeReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reading_ || reads_done_ || finished_ || final_status_.has_value() ||
        in_flight_ >= window_) {
      return;
    }
    reading_ = true;
    StartRead(&incoming_);
  }

  void MaybeWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || outbox_.empty() || finished_) return;
    writing_ = true;
    StartWrite(&outbox_.front());
  }

  // Finishes once nothing is being stored or written and either the client
  // closed its side with every request answered, or the call failed.
  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || processing_ || writing_ || !outbox_.empty()) return;
    if (final_status_.has_value()) {
      finished_ = true;
      Finish(*final_status_);
    } else if (reads_done_ && in_flight_ == 0) {
      finished_ = true;
      Finish(grpc::Status::OK);
    }
  }

  Intake& intake_;
  const int window_;
  absl::Mutex mu_;
  TrackRequest incoming_;  // filled by the outstanding read
  std::deque<TrackRequest> inbox_ ABSL_GUARDED_BY(mu_);
  std::deque<TrackResponse> outbox_ ABSL_GUARDED_BY(mu_);
  // Requests read and not yet answered (inbox, being stored, outbox).
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool processing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> final_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

grpc::ServerUnaryReactor* IngestionServiceImpl::Track(
    grpc::CallbackServerContext* context, const TrackRequest* request,
    TrackResponse* response) {
  if (!request->has_interaction()) {
    return Done(context,
                status::InvalidArgumentError("invalid event",
                                             {{"interaction", "is required"}}));
  }
  Interaction event = request->interaction();
  absl::StatusOr<std::vector<EventResult>> results =
      intake_.Process({&event}, "interaction");
  if (!results.ok()) return Done(context, results.status());
  EventResult& result = results->front();
  if (result.status() == omnicx::v1::EVENT_STATUS_REJECTED) {
    std::vector<status::FieldViolation> violations;
    for (const auto& v : result.violations()) {
      violations.push_back({v.field(), v.description()});
    }
    return Done(context, status::InvalidArgumentError(
                             absl::StrCat("invalid event: ", violations.size(),
                                          " field violation(s), first ",
                                          violations.front().field, " ",
                                          violations.front().description),
                             violations));
  }
  *response->mutable_result() = std::move(result);
  return Done(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* IngestionServiceImpl::TrackBatch(
    grpc::CallbackServerContext* context,
    const omnicx::v1::TrackBatchRequest* request,
    omnicx::v1::TrackBatchResponse* response) {
  std::vector<status::FieldViolation> limits =
      ValidateBatchLimits(intake_.options().validation, *request);
  if (!limits.empty()) {
    return Done(context,
                status::InvalidArgumentError("batch too large", limits));
  }
  // Validation normalises in place, so work on a copy of the request.
  omnicx::v1::TrackBatchRequest batch = *request;
  std::vector<Interaction*> events;
  events.reserve(batch.interactions_size());
  for (Interaction& e : *batch.mutable_interactions()) events.push_back(&e);
  absl::StatusOr<std::vector<EventResult>> results =
      intake_.Process(events, "interactions");
  if (!results.ok()) return Done(context, results.status());
  for (EventResult& r : *results) *response->add_results() = std::move(r);
  return Done(context, absl::OkStatus());
}

grpc::ServerBidiReactor<TrackRequest, TrackResponse>*
IngestionServiceImpl::TrackStream(grpc::CallbackServerContext* context) {
  return new TrackStreamReactor(intake_, stream_window_);
}

}  // namespace omnicx::ingestion
