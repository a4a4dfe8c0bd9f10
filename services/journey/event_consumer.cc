#include "services/journey/event_consumer.h"

#include "libs/events/stream_records.h"
#include "libs/logging/log.h"
#include "libs/streams/retention.h"
#include "omnicx/v1/common.pb.h"

namespace omnicx::journey {

JourneyHandlers::JourneyHandlers(JourneyStore& store,
                                 metrics::Registry& registry)
    : store_(store),
      events_(registry.Counter("omnicx_journey_events_total",
                               "Resolved events by outcome (applied, "
                               "duplicate, erased, failed).",
                               {"result"})),
      merges_(registry.Counter("omnicx_journey_merges_total",
                               "Merge records by outcome (merged: a state "
                               "moved; noop: nothing to move; failed).",
                               {"result"})) {}

absl::Status JourneyHandlers::HandleEvent(const streams::StreamEntry& entry) {
  return HandleEvents({entry}).at(0);
}

std::vector<absl::Status> JourneyHandlers::HandleEvents(
    const std::vector<streams::StreamEntry>& entries) {
  std::vector<absl::Status> out(entries.size());
  std::vector<omnicx::v1::Interaction> events;
  std::vector<size_t> where;
  for (size_t i = 0; i < entries.size(); ++i) {
    std::optional<omnicx::v1::Interaction> event =
        omnicx::events::DecodeEventPayload(entries[i].payload,
                                           /*resolved=*/true);
    if (!event.has_value()) {
      events_.WithLabels({"failed"}).Increment();
      out[i] = absl::DataLossError(
          "stream entry is not a resolved omnicx.v1.Interaction");
      continue;
    }
    events.push_back(std::move(*event));
    where.push_back(i);
  }
  std::vector<absl::StatusOr<ApplyResult>> results = store_.ApplyBatch(events);
  for (size_t k = 0; k < results.size(); ++k) {
    const absl::StatusOr<ApplyResult>& r = results[k];
    if (!r.ok()) {
      events_.WithLabels({"failed"}).Increment();
      out[where[k]] = r.status();
      continue;
    }
    switch (*r) {
      case ApplyResult::kApplied:
        events_.WithLabels({"applied"}).Increment();
        break;
      case ApplyResult::kDuplicate:
        events_.WithLabels({"duplicate"}).Increment();
        break;
      case ApplyResult::kErased:
        events_.WithLabels({"erased"}).Increment();
        break;
    }
  }
  return out;
}

absl::Status JourneyHandlers::HandleMerge(const streams::StreamEntry& entry) {
  std::optional<events::MergeRecord> record =
      events::DecodeMergeRecord(entry.fields);
  if (!record.has_value()) {
    merges_.WithLabels({"failed"}).Increment();
    return absl::DataLossError(
        "merge record without distinct survivor and merged");
  }
  absl::StatusOr<bool> moved = store_.Merge(record->survivor, record->merged);
  if (!moved.ok()) {
    merges_.WithLabels({"failed"}).Increment();
    return moved.status();
  }
  merges_.WithLabels({*moved ? "merged" : "noop"}).Increment();
  return absl::OkStatus();
}

ResolvedShardTrimmer::ResolvedShardTrimmer(redis::Client& redis,
                                           std::vector<std::string> streams,
                                           metrics::Registry& registry,
                                           absl::Duration interval)
    : redis_(redis),
      streams_(std::move(streams)),
      trimmed_(registry.Counter(
          "omnicx_journey_resolved_trimmed_total",
          "Resolved-event stream entries trimmed after every group "
          "acknowledged them.",
          {})) {
  thread_ = std::thread([this, interval] {
    while (!stop_.WaitForNotificationWithTimeout(interval)) {
      for (const std::string& stream : streams_) {
        absl::StatusOr<int64_t> n = streams::TrimAcknowledged(redis_, stream);
        if (n.ok()) {
          trimmed_.WithLabels({}).Increment(static_cast<double>(*n));
        } else {
          OMNICX_LOG(kWarn) << "trim " << stream << ": " << n.status();
        }
      }
    }
  });
}

ResolvedShardTrimmer::~ResolvedShardTrimmer() { Stop(); }

void ResolvedShardTrimmer::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

}  // namespace omnicx::journey
