// Intake: the ingestion pipeline behind Track, TrackBatch and TrackStream —
// back-pressure check, validation and normalisation, in-call deduplication,
// durable append, counters. Transport-free: the gRPC adapter only converts.
//
//   Intake intake(event_log, options, clock);
//   absl::StatusOr<std::vector<omnicx::v1::EventResult>> results =
//       intake.Process(events, "interactions");   // paths interactions[i]
//
// Process fails whole only when nothing can be promised: RESOURCE_EXHAUSTED
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
  Intake(EventLog& log, IntakeOptions options, metrics::Registry& registry,
         std::function<absl::Time()> clock = absl::Now);

  // Validates, deduplicates and appends `events` (normalised in place).
  // `path` names the events in violations: "interaction" for a single event,
  // "interactions" for a batch (then "interactions[i]").
  absl::StatusOr<std::vector<omnicx::v1::EventResult>> Process(
      const std::vector<omnicx::v1::Interaction*>& events,
      absl::string_view path);

  // Records the slowest group's lag (the monitor thread calls this).
  void SetObservedLag(int64_t lag) { observed_lag_.store(lag); }
  const IntakeOptions& options() const { return options_; }

 private:
  EventLog& log_;
  IntakeOptions options_;
  std::function<absl::Time()> clock_;
  std::atomic<int64_t> observed_lag_{0};
  metrics::CounterFamily& events_;
  metrics::HistogramFamily& append_seconds_;
  metrics::HistogramFamily& call_events_;
};

}  // namespace omnicx::ingestion

#endif  // OMNICX_SERVICES_INGESTION_INTAKE_H_
