#include "services/ingestion/intake.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "libs/status/error_details.h"

namespace omnicx::ingestion {
namespace {

using omnicx::v1::EventResult;
using omnicx::v1::EventStatus;

std::string ChannelLabel(omnicx::v1::Channel channel) {
  if (!omnicx::v1::Channel_IsValid(channel)) return "INVALID";
  return omnicx::v1::Channel_Name(channel);
}

// The first violated field, without its index prefix, as a low-cardinality
// reason label ("feedback.nps").
std::string ReasonLabel(const std::vector<status::FieldViolation>& v) {
  if (v.empty()) return "";
  absl::string_view field = v.front().field;
  const size_t dot = field.find('.');
  return dot == absl::string_view::npos ? "event"
                                        : std::string(field.substr(dot + 1));
}

}  // namespace

Intake::Intake(EventLog& log, IntakeOptions options,
               metrics::Registry& registry, std::function<absl::Time()> clock)
    : log_(log),
      options_(std::move(options)),
      clock_(std::move(clock)),
      events_(registry.Counter("omnicx_ingestion_events_total",
                               "Events by result, channel and rejection "
                               "reason.",
                               {"status", "channel", "reason"})),
      append_seconds_(
          registry.Histogram("omnicx_ingestion_append_seconds",
                             "Time to append one call's events to Redis.", {},
                             metrics::DefaultLatencyBuckets())),
      call_events_(registry.Histogram("omnicx_ingestion_call_events",
                                      "Events per call.", {},
                                      {1, 2, 5, 10, 20, 50, 100, 200, 500})) {}

absl::StatusOr<std::vector<EventResult>> Intake::Process(
    const std::vector<omnicx::v1::Interaction*>& events,
    absl::string_view path) {
  call_events_.WithLabels({}).Observe(static_cast<double>(events.size()));
  const int64_t lag = observed_lag_.load();
  if (lag > options_.max_consumer_lag) {
    return status::WithRetryDelay(
        absl::ResourceExhaustedError(absl::StrCat(
            "event consumers are behind by ", lag, " events (limit ",
            options_.max_consumer_lag, "); retry later")),
        options_.retry_delay);
  }
  const absl::Time now = clock_();
  const bool indexed = path == "interactions";
  std::vector<EventResult> results(events.size());
  std::vector<const omnicx::v1::Interaction*> to_append;
  std::vector<size_t> append_index;
  // Later copies of an event id within this call point at the first.
  absl::flat_hash_map<std::string, size_t> first_seen;
  std::vector<std::pair<size_t, size_t>> in_call_duplicates;
  for (size_t i = 0; i < events.size(); ++i) {
    EventResult& result = results[i];
    result.set_event_id(events[i]->event_id());
    const std::string item_path =
        indexed ? absl::StrCat(path, "[", i, "]") : std::string(path);
    std::vector<status::FieldViolation> violations =
        ValidateInteraction(now, options_.validation, item_path, events[i]);
    if (!violations.empty()) {
      result.set_status(omnicx::v1::EVENT_STATUS_REJECTED);
      for (const auto& v : violations) {
        auto* out = result.add_violations();
        out->set_field(v.field);
        out->set_description(v.description);
      }
      events_
          .WithLabels({"rejected", ChannelLabel(events[i]->channel()),
                       ReasonLabel(violations)})
          .Increment();
      continue;
    }
    auto [it, inserted] = first_seen.emplace(events[i]->event_id(), i);
    if (!inserted) {
      in_call_duplicates.emplace_back(i, it->second);
      continue;
    }
    to_append.push_back(events[i]);
    append_index.push_back(i);
  }

  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<AppendResult>> appended = log_.Append(to_append);
  append_seconds_.WithLabels({}).Observe(
      absl::ToDoubleSeconds(absl::Now() - start));
  if (!appended.ok()) return appended.status();
  for (size_t k = 0; k < appended->size(); ++k) {
    EventResult& result = results[append_index[k]];
    result.set_status((*appended)[k].status);
    result.set_stream_id((*appended)[k].stream_id);
    events_
        .WithLabels({result.status() == omnicx::v1::EVENT_STATUS_ACCEPTED
                         ? "accepted"
                         : "duplicate",
                     ChannelLabel(events[append_index[k]]->channel()), ""})
        .Increment();
  }
  for (const auto& [dup, first] : in_call_duplicates) {
    results[dup].set_status(omnicx::v1::EVENT_STATUS_DUPLICATE);
    results[dup].set_stream_id(results[first].stream_id());
    events_.WithLabels({"duplicate", ChannelLabel(events[dup]->channel()), ""})
        .Increment();
  }
  return results;
}

}  // namespace omnicx::ingestion
