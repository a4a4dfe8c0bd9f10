// Intake: the ingestion pipeline behind Track, TrackBatch and TrackStream —
// back-pressure check, validation and normalisation, in-call deduplication,
// durable append, counters. Transport-free: the gRPC adapter only converts.
//
//   Intake intake(commit_queue, options, registry);
//   intake.ProcessAsync(events, "interactions",   // paths interactions[i]
//                       [](absl::StatusOr<std::vector<EventResult>> r) {...});
//
// Validation runs on the caller's thread; the append goes through the
// CommitQueue (group commit), whose thread runs the callback.
// A call fails whole only when nothing can be promised: RESOURCE_EXHAUSTED
// (with RetryInfo) when the slowest consumer group lags past the bound, or
// UNAVAILABLE when Redis cannot be reached; a retry after either is
// deduplicated, so every event is stored exactly once.
#ifndef OMNICX_SERVICES_INGESTION_INTAKE_H_
#define OMNICX_SERVICES_INGESTION_INTAKE_H_

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/metrics/registry.h"
#include "omnicx/v1/common.pb.h"
#include "services/ingestion/commit_queue.h"
#include "services/ingestion/event_log.h"
#include "services/ingestion/validation.h"

namespace omnicx::ingestion {

struct IntakeOptions {
  ValidationOptions validation;
  // Slowest consumer group's lag (entries) beyond which calls are refused.
  int64_t max_consumer_lag = 1000000;
  absl::Duration retry_delay = absl::Seconds(1);
};

class Intake {
 public:
  using Done = std::function<void(
      absl::StatusOr<std::vector<omnicx::v1::EventResult>> results)>;

  Intake(CommitQueue& queue, IntakeOptions options, metrics::Registry& registry,
         std::function<absl::Time()> clock = absl::Now);

  // Validates, deduplicates and appends `events` (normalised in place; they
  // must outlive `done`). `path` names the events in violations:
  // "interaction" for a single event, "interactions" for a batch (then
  // "interactions[i]"). `done` runs exactly once, possibly inline.
  //
  // `trusted_identities` is the caller's credential's
  // (auth::Principal::TrustsIdentities()): when false, each event's
  // identities are stored as unverified `claimed_identities` and an event
  // naming its subject by `customer.identity` is REJECTED (see
  // ValidateInteraction).
  void ProcessAsync(const std::vector<omnicx::v1::Interaction*>& events,
                    absl::string_view path, bool trusted_identities, Done done);
  // Trusted identities (callers that predate authentication, tests).
  void ProcessAsync(const std::vector<omnicx::v1::Interaction*>& events,
                    absl::string_view path, Done done) {
    ProcessAsync(events, path, /*trusted_identities=*/true, std::move(done));
  }

  // Blocking form of ProcessAsync.
  absl::StatusOr<std::vector<omnicx::v1::EventResult>> Process(
      const std::vector<omnicx::v1::Interaction*>& events,
      absl::string_view path, bool trusted_identities = true);

  // Records the slowest group's lag (the monitor thread calls this).
  void SetObservedLag(int64_t lag) { observed_lag_.store(lag); }
  const IntakeOptions& options() const { return options_; }

 private:
  CommitQueue& queue_;
  IntakeOptions options_;
  std::function<absl::Time()> clock_;
  std::atomic<int64_t> observed_lag_{0};
  // Counts `n` stored events of one channel as accepted or duplicate.
  void CountStored(bool accepted, omnicx::v1::Channel channel, int n);

  metrics::CounterFamily& events_;
  metrics::Histogram& append_seconds_;
  metrics::Histogram& call_events_;
  // The accepted and duplicate counters of every channel, looked up once:
  // stored events have a valid channel, so their labels are known ahead.
  std::vector<metrics::Counter*> accepted_;   // index: Channel value
  std::vector<metrics::Counter*> duplicate_;  // index: Channel value
};

}  // namespace omnicx::ingestion

#endif  // OMNICX_SERVICES_INGESTION_INTAKE_H_
