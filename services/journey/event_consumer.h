// What the journey service does with its two input streams, and the upkeep
// of the first:
//   - resolved events (KeyBuilder::ResolvedShard, written by the profile
//     service with resolved_customer_id set): JourneyStore::Apply, once per
//     event id;
//   - merge records (KeyBuilder::MergeLog, fields survivor/merged, written
//     by the profile service when it merges two customers):
//     JourneyStore::Merge, effectively once (single-slot steps; the
//     survivor records each id folded in, and the merged state is gone
//     after the last step; a record redelivered after a crash between
//     steps finishes the merge).
// Both run under libs/streams StreamConsumer (at-least-once delivery, XACK
// after the handler succeeded, dead letters after 5 failures).
//
//   JourneyHandlers handlers(store, registry);
//   StreamConsumer events(redis, options,
//       [&](const StreamEntry& e) { return handlers.HandleEvent(e); });
//   ResolvedShardTrimmer trimmer(redis, shard_keys, absl::Seconds(10));
#ifndef OMNICX_SERVICES_JOURNEY_EVENT_CONSUMER_H_
#define OMNICX_SERVICES_JOURNEY_EVENT_CONSUMER_H_

#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "libs/metrics/registry.h"
#include "libs/redis/client.h"
#include "libs/streams/consumer.h"
#include "services/journey/journey_store.h"

namespace omnicx::journey {

class JourneyHandlers {
 public:
  JourneyHandlers(JourneyStore& store, metrics::Registry& registry);

  absl::Status HandleEvent(const streams::StreamEntry& entry);
  // A whole read at once (JourneyStore::ApplyBatch): one status per entry.
  std::vector<absl::Status> HandleEvents(
      const std::vector<streams::StreamEntry>& entries);
  absl::Status HandleMerge(const streams::StreamEntry& entry);

 private:
  JourneyStore& store_;
  metrics::CounterFamily& events_;
  metrics::CounterFamily& merges_;
};

// Trims the resolved-event shards below what the journey group (and any
// other group) acknowledged, every `interval`, on its own thread.
class ResolvedShardTrimmer {
 public:
  ResolvedShardTrimmer(redis::Client& redis, std::vector<std::string> streams,
                       metrics::Registry& registry, absl::Duration interval);
  ~ResolvedShardTrimmer();
  void Stop();

 private:
  redis::Client& redis_;
  const std::vector<std::string> streams_;
  metrics::CounterFamily& trimmed_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace omnicx::journey

#endif  // OMNICX_SERVICES_JOURNEY_EVENT_CONSUMER_H_
