#include "services/ingestion/ingestion_service.h"

#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/server/reactor.h"
#include "libs/status/error_details.h"

namespace omnicx::ingestion {

using ::omnicx::server::FinishWith;

namespace {

using omnicx::v1::EventResult;
using omnicx::v1::Interaction;
using omnicx::v1::TrackRequest;
using omnicx::v1::TrackResponse;

// Validation normalises events in place. A unary callback handler receives
// its request as const, but the object is the call's own message (TrackBatch:
// on the call's arena, see server::ArenaRequestAllocator; Track: in gRPC's
// default message holder), created mutable and destroyed only after the
// reactor is done, which is after the intake's completion has run.
// Normalising it there saves a deep copy of every event.
template <typename Request>
Request* MutableRequest(const Request* request) {
  return const_cast<Request*>(request);
}

// INVALID_ARGUMENT with the rejected event's violations (Track only; the
// batch and stream answer per event).
absl::Status RejectedStatus(const EventResult& result) {
  std::vector<status::FieldViolation> violations;
  for (const auto& v : result.violations()) {
    violations.push_back({v.field(), v.description()});
  }
  return status::InvalidArgumentError(
      absl::StrCat("invalid event: ", violations.size(),
                   " field violation(s), first ", violations.front().field, " ",
                   violations.front().description),
      violations);
}

// One result per TrackRequest, in request order. Each event read is handed
// to the intake at once (the commit queue batches across streams and calls);
// at most `window` events are between reading and answering, beyond which
// the reactor stops reading, so HTTP/2 flow control slows a fast client. On
// a whole-call failure (Redis unavailable, back-pressure) the answers before
// the failed event are still written, then the stream ends with that status
// and the client resends what was not answered (deduplicated).
class TrackStreamReactor final
    : public grpc::ServerBidiReactor<TrackRequest, TrackResponse> {
 public:
  TrackStreamReactor(Intake& intake, int window, bool trusted_identities)
      : intake_(intake),
        window_(window),
        trusted_identities_(trusted_identities) {
    absl::MutexLock lock(&mu_);
    MaybeReadLocked();
  }

  void OnReadDone(bool ok) override {
    Slot* slot = nullptr;
    {
      absl::MutexLock lock(&mu_);
      reading_ = false;
      if (!ok) {
        reads_done_ = true;
        MaybeFinishLocked();
        return;
      }
      if (final_status_.has_value()) {
        MaybeFinishLocked();
        return;
      }
      slots_.emplace_back();
      slot = &slots_.back();  // deque: stable address
      slot->request = std::move(incoming_);
      incoming_.Clear();
      ++pending_;
      MaybeReadLocked();
    }
    intake_.ProcessAsync(
        {slot->request.mutable_interaction()}, "interaction",
        trusted_identities_,
        [this, slot](absl::StatusOr<std::vector<EventResult>> results) {
          absl::MutexLock lock(&mu_);
          --pending_;
          if (results.ok()) {
            *slot->response.mutable_result() = std::move(results->front());
            slot->ready = true;
          } else {
            slot->failed = true;
            if (!final_status_.has_value()) {
              final_status_ = status::ToGrpcStatus(results.status());
            }
          }
          MaybeWriteLocked();
          MaybeFinishLocked();
        });
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    slots_.pop_front();
    if (!ok && !final_status_.has_value()) {
      final_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
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
  struct Slot {
    TrackRequest request;
    TrackResponse response;
    bool ready = false;
    bool failed = false;
  };

  void MaybeReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reading_ || reads_done_ || finished_ || final_status_.has_value() ||
        static_cast<int>(slots_.size()) >= window_) {
      return;
    }
    reading_ = true;
    StartRead(&incoming_);
  }

  // Writes the oldest answer once it is ready; answers go out in order.
  void MaybeWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_ || slots_.empty() || !slots_.front().ready) {
      return;
    }
    if (final_status_.has_value() &&
        final_status_->error_code() == grpc::StatusCode::CANCELLED) {
      return;  // nobody is listening
    }
    writing_ = true;
    // When the next answer is ready too, let gRPC hold this one back and
    // send both together (one flush for a run of answers, not one each).
    grpc::WriteOptions options;
    if (slots_.size() > 1 && slots_[1].ready) options.set_buffer_hint();
    StartWrite(&slots_.front().response, options);
  }

  // Finishes when no callback is outstanding (the reactor must outlive
  // them), nothing is being written, and either every request was answered
  // after the client closed its side, or the call failed and every answer
  // before the failure was written.
  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || pending_ > 0 || writing_) return;
    const bool answers_left = !slots_.empty() && slots_.front().ready;
    if (final_status_.has_value()) {
      const bool cancelled =
          final_status_->error_code() == grpc::StatusCode::CANCELLED;
      if (answers_left && !cancelled) return;
      finished_ = true;
      Finish(*final_status_);
    } else if (reads_done_ && slots_.empty()) {
      finished_ = true;
      Finish(grpc::Status::OK);
    }
  }

  Intake& intake_;
  const int window_;
  // From the stream's credential: may identities link and merge profiles?
  const bool trusted_identities_;
  absl::Mutex mu_;
  TrackRequest incoming_;  // filled by the outstanding read
  // Requests read and not yet answered, oldest first.
  std::deque<Slot> slots_ ABSL_GUARDED_BY(mu_);
  int pending_ ABSL_GUARDED_BY(mu_) = 0;  // intake callbacks outstanding
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> final_status_ ABSL_GUARDED_BY(mu_);
};

// A stream refused before it starts (authentication, authorisation).
class RefusedStreamReactor final
    : public grpc::ServerBidiReactor<TrackRequest, TrackResponse> {
 public:
  explicit RefusedStreamReactor(const absl::Status& status) {
    Finish(status::ToGrpcStatus(status));
  }
  void OnDone() override { delete this; }
};

constexpr char kTrack[] = "/omnicx.v1.IngestionService/Track";
constexpr char kTrackBatch[] = "/omnicx.v1.IngestionService/TrackBatch";
constexpr char kTrackStream[] = "/omnicx.v1.IngestionService/TrackStream";

}  // namespace

grpc::ServerUnaryReactor* IngestionServiceImpl::Track(
    grpc::CallbackServerContext* context, const TrackRequest* request,
    TrackResponse* response) {
  absl::StatusOr<auth::Principal> who = auth_.Authorize(*context, kTrack);
  if (!who.ok()) return FinishWith(context, who.status());
  if (!request->has_interaction()) {
    return FinishWith(context,
                      status::InvalidArgumentError(
                          "invalid event", {{"interaction", "is required"}}));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  intake_.ProcessAsync(
      {MutableRequest(request)->mutable_interaction()}, "interaction",
      who->TrustsIdentities(),
      [reactor, response](absl::StatusOr<std::vector<EventResult>> results) {
        if (!results.ok()) {
          reactor->Finish(status::ToGrpcStatus(results.status()));
        } else if (results->front().status() ==
                   omnicx::v1::EVENT_STATUS_REJECTED) {
          reactor->Finish(
              status::ToGrpcStatus(RejectedStatus(results->front())));
        } else {
          *response->mutable_result() = std::move(results->front());
          reactor->Finish(grpc::Status::OK);
        }
      });
  return reactor;
}

grpc::ServerUnaryReactor* IngestionServiceImpl::TrackBatch(
    grpc::CallbackServerContext* context,
    const omnicx::v1::TrackBatchRequest* request,
    omnicx::v1::TrackBatchResponse* response) {
  absl::StatusOr<auth::Principal> who = auth_.Authorize(*context, kTrackBatch);
  if (!who.ok()) return FinishWith(context, who.status());
  std::vector<status::FieldViolation> limits =
      ValidateBatchLimits(intake_.options().validation, *request);
  if (!limits.empty()) {
    return FinishWith(context,
                      status::InvalidArgumentError("batch too large", limits));
  }
  std::vector<Interaction*> events;
  events.reserve(request->interactions_size());
  for (Interaction& e : *MutableRequest(request)->mutable_interactions()) {
    events.push_back(&e);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  intake_.ProcessAsync(
      events, "interactions", who->TrustsIdentities(),
      [reactor, response](absl::StatusOr<std::vector<EventResult>> results) {
        if (!results.ok()) {
          reactor->Finish(status::ToGrpcStatus(results.status()));
          return;
        }
        for (EventResult& r : *results) *response->add_results() = std::move(r);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerBidiReactor<TrackRequest, TrackResponse>*
IngestionServiceImpl::TrackStream(grpc::CallbackServerContext* context) {
  absl::StatusOr<auth::Principal> who = auth_.Authorize(*context, kTrackStream);
  if (!who.ok()) return new RefusedStreamReactor(who.status());
  return new TrackStreamReactor(intake_, stream_window_,
                                who->TrustsIdentities());
}

}  // namespace omnicx::ingestion
