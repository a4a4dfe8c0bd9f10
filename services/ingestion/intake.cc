#include "services/ingestion/intake.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
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

Intake::Intake(CommitQueue& queue, IntakeOptions options,
               metrics::Registry& registry, std::function<absl::Time()> clock)
    : queue_(queue),
      options_(std::move(options)),
      clock_(std::move(clock)),
      events_(registry.Counter("omnicx_ingestion_events_total",
                               "Events by result, channel and rejection "
                               "reason.",
                               {"status", "channel", "reason"})),
      append_seconds_(
          registry
              .Histogram("omnicx_ingestion_append_seconds",
                         "Time to append one call's events to Redis.", {},
                         metrics::DefaultLatencyBuckets())
              .WithLabels({})),
      call_events_(registry
                       .Histogram("omnicx_ingestion_call_events",
                                  "Events per call.", {},
                                  {1, 2, 5, 10, 20, 50, 100, 200, 500})
                       .WithLabels({})) {
  for (int c = 0; c <= omnicx::v1::Channel_MAX; ++c) {
    const auto channel = static_cast<omnicx::v1::Channel>(c);
    accepted_.push_back(
        &events_.WithLabels({"accepted", ChannelLabel(channel), ""}));
    duplicate_.push_back(
        &events_.WithLabels({"duplicate", ChannelLabel(channel), ""}));
  }
}

void Intake::CountStored(bool accepted, omnicx::v1::Channel channel, int n) {
  const auto c = static_cast<size_t>(channel);
  std::vector<metrics::Counter*>& counters = accepted ? accepted_ : duplicate_;
  if (c < counters.size()) {
    counters[c]->Increment(n);
  } else {
    events_
        .WithLabels(
            {accepted ? "accepted" : "duplicate", ChannelLabel(channel), ""})
        .Increment(n);
  }
}

void Intake::ProcessAsync(const std::vector<omnicx::v1::Interaction*>& events,
                          absl::string_view path, bool trusted_identities,
                          Done done) {
  call_events_.Observe(static_cast<double>(events.size()));
  const int64_t lag = observed_lag_.load();
  if (lag > options_.max_consumer_lag) {
    done(status::WithRetryDelay(
        absl::ResourceExhaustedError(absl::StrCat(
            "event consumers are behind by ", lag, " events (limit ",
            options_.max_consumer_lag, "); retry later")),
        options_.retry_delay));
    return;
  }
  const absl::Time now = clock_();
  const bool indexed = path == "interactions";

  // What the append's completion needs; shared with the queue's callback.
  struct Call {
    std::vector<EventResult> results;
    std::vector<const omnicx::v1::Interaction*> to_append;
    std::vector<size_t> append_index;
    std::vector<omnicx::v1::Channel> channels;
    absl::Time start;
    Done done;
  };
  auto call = std::make_shared<Call>();
  call->results.resize(events.size());
  call->channels.resize(events.size());
  // An id repeated within the call is left to EventLog::Append, which
  // answers repeats per shard, as the dedup records in Redis are kept: the
  // same id for a customer reference on another shard is another event.
  for (size_t i = 0; i < events.size(); ++i) {
    EventResult& result = call->results[i];
    result.set_event_id(events[i]->event_id());
    call->channels[i] = events[i]->channel();
    const std::string item_path =
        indexed ? absl::StrCat(path, "[", i, "]") : std::string(path);
    std::vector<status::FieldViolation> violations = ValidateInteraction(
        now, options_.validation, item_path, events[i], trusted_identities);
    if (!violations.empty()) {
      result.set_status(omnicx::v1::EVENT_STATUS_REJECTED);
      for (const auto& v : violations) {
        auto* out = result.add_violations();
        out->set_field(v.field);
        out->set_description(v.description);
      }
      events_
          .WithLabels({"rejected", ChannelLabel(call->channels[i]),
                       ReasonLabel(violations)})
          .Increment();
      continue;
    }
    call->to_append.push_back(events[i]);
    call->append_index.push_back(i);
  }
  call->start = absl::Now();
  call->done = std::move(done);
  std::vector<const omnicx::v1::Interaction*> to_append = call->to_append;
  queue_.Submit(
      std::move(to_append),
      [this, call](absl::StatusOr<std::vector<AppendResult>> appended) {
        append_seconds_.Observe(
            absl::ToDoubleSeconds(absl::Now() - call->start));
        if (!appended.ok()) {
          call->done(appended.status());
          return;
        }
        // Stored events per (accepted?, channel), counted once per call.
        absl::flat_hash_map<std::pair<bool, omnicx::v1::Channel>, int> stored;
        for (size_t k = 0; k < appended->size(); ++k) {
          const size_t i = call->append_index[k];
          EventResult& result = call->results[i];
          result.set_status((*appended)[k].status);
          result.set_stream_id(std::move((*appended)[k].stream_id));
          ++stored[{result.status() == omnicx::v1::EVENT_STATUS_ACCEPTED,
                    call->channels[i]}];
        }
        for (const auto& [key, n] : stored)
          CountStored(key.first, key.second, n);
        call->done(std::move(call->results));
      });
}

absl::StatusOr<std::vector<EventResult>> Intake::Process(
    const std::vector<omnicx::v1::Interaction*>& events, absl::string_view path,
    bool trusted_identities) {
  absl::Notification finished;
  absl::StatusOr<std::vector<EventResult>> out;
  ProcessAsync(events, path, trusted_identities,
               [&](absl::StatusOr<std::vector<EventResult>> results) {
                 out = std::move(results);
                 finished.Notify();
               });
  finished.WaitForNotification();
  return out;
}

}  // namespace omnicx::ingestion
