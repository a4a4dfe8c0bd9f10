// Folds the journey's per-partition outboxes into the cross-customer
// aggregates. Each commit appends one delta record (aggregate_delta.h) to
// its customer's partition outbox `{p:<n>}:outbox`; every `interval` the
// aggregator reads each partition's pending records (at most
// `max_entries` per partition per pass), sums them in C++ and, in one
// script in the partition's slot (lua/fold_outbox.lua), adds the sums to
// the partition's shards `{p:<n>}:agg:pain` and `{p:<n>}:agg:funnel:<day>`,
// moves the checkpoint `{p:<n>}:agg:ckpt` and trims the folded records.
// The script refuses when the checkpoint moved since it was read, so
// replicas folding at once never count a record twice. Reads merge the
// shards (ReadPainShards, ReadFunnelShards).
//
//   Aggregator aggregator(redis, keys, {});
//   aggregator.Start();                  // or FoldOnce() in tests
//   absl::StatusOr<int64_t> folded = aggregator.FoldOnce();
#ifndef OMNICX_SERVICES_JOURNEY_AGGREGATOR_H_
#define OMNICX_SERVICES_JOURNEY_AGGREGATOR_H_

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "libs/keys/key_builder.h"
#include "libs/redis/client.h"
#include "libs/redis/script.h"
#include "services/journey/aggregate_delta.h"

namespace omnicx::journey {

struct AggregatorOptions {
  // Time between passes of the background thread.
  absl::Duration interval = absl::Seconds(1);
  // Records folded per partition per pass (bounds the work of a pass).
  int max_entries = 1000;
  // How long funnel day shards are kept.
  absl::Duration funnel_retention = absl::Hours(24 * 400);
};

// One outbox record as read.
struct OutboxEntry {
  std::string id;
  std::string record;
};

class Aggregator {
 public:
  Aggregator(redis::Client& redis, const keys::KeyBuilder& keys,
             AggregatorOptions options = {});
  ~Aggregator();

  // One pass over every partition; how many records it folded.
  absl::StatusOr<int64_t> FoldOnce();

  // Folds `entries` of `partition` if its checkpoint is still
  // `expected_checkpoint` ("" = none); false when another worker folded
  // first (nothing written).
  absl::StatusOr<bool> FoldPartition(int partition,
                                     const std::string& expected_checkpoint,
                                     const std::vector<OutboxEntry>& entries);

  // Runs FoldOnce every interval on its own thread until Stop.
  void Start();
  void Stop();

 private:
  redis::Client& redis_;
  const keys::KeyBuilder& keys_;
  AggregatorOptions options_;
  redis::Script fold_script_;
  absl::Notification stop_;
  std::thread thread_;
};

// The pain aggregate, merged over every partition's shard (one pipeline).
absl::StatusOr<AggregateFields> ReadPainShards(redis::Client& redis,
                                               const keys::KeyBuilder& keys);
// The funnel transitions of the UTC `days`, summed over the days and merged
// over every partition (one pipeline).
absl::StatusOr<AggregateFields> ReadFunnelShards(
    redis::Client& redis, const keys::KeyBuilder& keys,
    const std::vector<std::string>& days);

}  // namespace omnicx::journey

#endif  // OMNICX_SERVICES_JOURNEY_AGGREGATOR_H_
