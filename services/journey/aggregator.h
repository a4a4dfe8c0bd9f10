// Folds the journey's per-partition outboxes into the cross-customer
// aggregates. Each commit appends one delta record (aggregate_delta.h) to
// its customer's partition outbox `{p:<n>}:outbox`; every `interval` the
// aggregator reads every partition's records after its checkpoint (at most
// `max_entries` per partition per pass) and, per aggregate shard
// (partition p folds into shard p mod kAggregateShards), sums the records
// of all its partitions in C++ and adds the sums to `{agg:<g>}:pain` and
// `{agg:<g>}:funnel:<day>` while moving those partitions' checkpoints in
// `{agg:<g>}:ckpt`, in one script in the shard's slot
// (lua/fold_outbox.lua). The script refuses when a checkpoint moved since
// it was read, so replicas folding at once never count a record twice.
// Folded records are then trimmed from the outboxes (reads start after the
// checkpoint, so a record left by a failed trim is never counted again).
// Summing a whole shard's second of records first means the Redis work
// grows with the distinct fields changed, not with the events. Reads merge
// the kAggregateShards shards (ReadPainShards, ReadFunnelShards).
//
//   Aggregator aggregator(redis, keys, {});
//   aggregator.Start();                  // or FoldOnce() in tests
//   absl::StatusOr<int64_t> folded = aggregator.FoldOnce();
#ifndef OMNICX_SERVICES_JOURNEY_AGGREGATOR_H_
#define OMNICX_SERVICES_JOURNEY_AGGREGATOR_H_

#include <cstdint>
#include <functional>
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
  // Run by the background thread before each fold (e.g.
  // JourneyStore::SweepDue, whose records the fold then takes); null: none.
  std::function<absl::StatusOr<int64_t>()> before_fold;
  // Strict durability: replicas a fold must reach before its records are
  // trimmed from the outboxes (WAIT behind the fold script); 0: none. A
  // fold that fell short is reported and its records stay (after the
  // checkpoint, never folded twice; a fold lost in a failover is redone).
  redis::ReplicaWait replica_wait;
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

  // Records of one partition read after its checkpoint.
  struct PartitionRecords {
    int partition = 0;
    std::string expected_checkpoint;  // "" = none
    std::vector<OutboxEntry> entries;
  };
  // Folds the records of some partitions of `shard` if each checkpoint is
  // still as expected; false when another worker folded one of them first
  // (nothing written).
  absl::StatusOr<bool> FoldShard(int shard,
                                 const std::vector<PartitionRecords>& parts);

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

// The pain aggregate, merged over every shard (one pipeline).
absl::StatusOr<AggregateFields> ReadPainShards(redis::Client& redis,
                                               const keys::KeyBuilder& keys);
// The funnel transitions of the UTC `days`, summed over the days and merged
// over every shard (one pipeline).
absl::StatusOr<AggregateFields> ReadFunnelShards(
    redis::Client& redis, const keys::KeyBuilder& keys,
    const std::vector<std::string>& days);

}  // namespace omnicx::journey

#endif  // OMNICX_SERVICES_JOURNEY_AGGREGATOR_H_
