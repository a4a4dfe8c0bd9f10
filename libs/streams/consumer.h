// A Redis Streams consumer-group worker shared by the services that consume
// the event log (profile; journey later).
//
//   StreamConsumer consumer(redis, {.group = "profile", .consumer = "pod-1",
//                                   .streams = shard_keys,
//                                   .dead_letter = keys.DeadLetter("profile"),
//                                   .blocking_reads = &blocking_redis},
//                           [&](const StreamEntry& e) { return Apply(e); });
//   consumer.Start();   // background thread
//   ...
//   consumer.Stop();
//
// A handler that batches its own work takes the whole read instead:
//   StreamConsumer consumer(redis, options, StreamConsumer::Batched{},
//       [&](const std::vector<StreamEntry>& es) { return ApplyAll(es); });
//
// Delivery contract (at least once, made effectively once by idempotent
// handlers):
//   - an entry is XACKed only after its handler returned OK, so a crash
//     between applying and acknowledging redelivers it;
//   - on start the consumer first re-reads its own pending entries (id 0);
//   - entries whose handler failed for a reason that may pass (Redis
//     unreachable, a timeout, a race) are read again by the same consumer
//     after retry_backoff, before anything new;
//   - entries idle longer than claim_idle in any consumer (a dead pod) are
//     taken over with XAUTOCLAIM;
//   - an entry delivered max_deliveries times without success goes to the
//     dead-letter stream (fields: stream, id, error, payload) and is acked,
//     so one poison event cannot stall a shard;
//   - with replica_wait.replicas > 0 (strict durability), every write of the
//     handler (and the dead-letter copy) is followed by WAIT on the node
//     that took it (redis::ReplicaWaitScope), and a read whose WAITs were
//     not all acknowledged by that many replicas is acknowledged not at all:
//     its entries fail UNAVAILABLE and are handled again (idempotently), so
//     a failover cannot lose a commit whose entry was acknowledged.
//
// Reading (safe on Redis Cluster, where each stream shard `{ev:<k>}`,
// resolved shard or partition stream is its own hash slot, and a command
// naming keys of two slots is refused with CROSSSLOT): every command names
// one stream. A round reads all the consumer's streams without blocking, one
// XREADGROUP each in one pipeline (one round trip per node; under load that
// is the whole loop, with the same batches as one multi-stream read). When
// all were empty it blocks on one stream for at most block_slice (50 ms),
// the next one the round after: an entry on the stream waited on is taken at
// once, one on another within block_slice (up to 100 ms when Redis is
// otherwise idle: it times blocked reads out on its hz tick). Measured with
// 4 shards (bench/streams/consumer_reads, docs/architecture.md): idle,
// 0.09 % of a core in the process and 0.05 % more in Redis than one
// multi-stream read; pickup p99 48 ms under traffic. A consumer of one
// stream blocks on it for the whole `block`. Blocking reads use
// options.blocking_reads, so they never hold a connection of the command
// pool (on a Cluster: of a node's pool).
// XPENDING, XAUTOCLAIM, XACK and the dead-letter XADD each name one key.
#ifndef OMNICX_LIBS_STREAMS_CONSUMER_H_
#define OMNICX_LIBS_STREAMS_CONSUMER_H_

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "libs/redis/client.h"

namespace omnicx::streams {

struct StreamEntry {
  std::string stream;
  std::string id;
  // The entry's field "e" (the event); empty when absent.
  std::string payload;
  // Every field, in order (records without an "e" field, such as the
  // profile service's merge log, are read from here).
  std::vector<std::pair<std::string, std::string>> fields;
  int64_t deliveries = 1;
};

// An XREADGROUP / XAUTOCLAIM-style reply, [[stream, [[id, [field, value,
// ...]], ...]], ...], to entries; malformed parts are skipped (pure, so
// fuzzed without Redis: tests/fuzz/stream_entry_fuzzer.cc).
std::vector<StreamEntry> ParseStreamRead(const redis::Reply& reply);

// This process's name in consumer groups: the host name (a pod's name on
// Kubernetes, stable across restarts of the container, so a restarted
// consumer finds its own pending entries), else "pid-<pid>". Append "-<i>"
// for several consumers per process.
std::string DefaultConsumerName();

// The stream shards consumer i of a process's n reads: shard s when
// s mod n == i (with more consumers than shards, shard i mod shards). Each
// shard is then read by one consumer of the process, so the entries of one
// customer in one shard are applied by one thread, in order, and its
// commits do not race each other (other replicas in the group still share
// the shard).
std::vector<int> ShardsOfConsumer(int consumer, int consumers, int shards);

struct ConsumerOptions {
  std::string group;
  std::string consumer;
  std::vector<std::string> streams;
  std::string dead_letter;
  // Entries per stream per read.
  int batch = 100;
  // How long the consumer's thread waits in one blocking read when nothing
  // is there (also how long Stop may wait for it).
  absl::Duration block = absl::Milliseconds(500);
  // With several streams: the longest a blocking read waits on one of them
  // (see "Reading" above); bounds the pickup delay of an entry on another.
  absl::Duration block_slice = absl::Milliseconds(50);
  // The client of the blocking reads, on connections of its own so a read
  // waiting for `block` never holds one of the command pool (services pass
  // ServiceContext::blocking_redis); null: the command client.
  redis::Client* blocking_reads = nullptr;
  absl::Duration claim_idle = absl::Seconds(30);
  absl::Duration claim_interval = absl::Seconds(5);
  int max_deliveries = 5;
  // After a read whose entries failed for a reason that may pass
  // (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, RESOURCE_EXHAUSTED), the
  // consumer waits this long and reads its own pending entries again.
  // Other failures wait for claim_idle (and the dead-letter count).
  absl::Duration retry_backoff = absl::Milliseconds(200);
  // Strict durability: replicas each write of a handler must reach before
  // its entries are acknowledged (see above); 0: none.
  redis::ReplicaWait replica_wait;
};

struct ConsumerStats {
  std::atomic<int64_t> applied{0};
  std::atomic<int64_t> failed{0};
  std::atomic<int64_t> dead_lettered{0};
  std::atomic<int64_t> claimed{0};
};

class StreamConsumer {
 public:
  using Handler = std::function<absl::Status(const StreamEntry& entry)>;
  // Handles a whole read at once and returns one status per entry, in
  // order, so a handler can batch its own Redis round trips.
  using BatchHandler = std::function<std::vector<absl::Status>(
      const std::vector<StreamEntry>& entries)>;
  struct Batched {};

  StreamConsumer(redis::Client& redis, ConsumerOptions options,
                 Handler handler);
  StreamConsumer(redis::Client& redis, ConsumerOptions options, Batched,
                 BatchHandler handler);
  ~StreamConsumer();

  // Creates the group on every stream (MKSTREAM, from 0) where missing.
  absl::Status EnsureGroups();
  void Start();
  void Stop();

  // One round (tests drive the consumer with these instead of the thread):
  // read new entries and handle them; returns how many were handled.
  absl::StatusOr<int> PollOnce(absl::Duration block);
  // Own pending entries (after a restart).
  absl::StatusOr<int> RecoverPending();
  // Entries idle in other (dead) consumers, and dead-lettering.
  absl::StatusOr<int> ClaimIdle();

  // Whether this consumer reads `stream` (one of options.streams).
  bool Reads(absl::string_view stream) const;
  // Applies one entry with this consumer's handler, outside any read: how
  // an operator replays a dead-lettered entry (DeadLetterQueue::Replay).
  // Nothing is acknowledged; handlers are idempotent.
  absl::Status Replay(const StreamEntry& entry);

  const ConsumerStats& stats() const { return stats_; }

 private:
  void Run();
  // The handler's statuses, in a ReplicaWaitScope of options.replica_wait:
  // entries it handled fail when their writes' WAITs fell short.
  std::vector<absl::Status> HandleReplicated(
      const std::vector<StreamEntry>& entries);
  // Handles entries and acknowledges the successful ones in one pipeline.
  absl::StatusOr<int> HandleAll(const std::vector<StreamEntry>& entries);
  // XREADGROUP of new entries of one stream, blocking when block > 0.
  redis::Command ReadNew(const std::string& stream, absl::Duration block) const;
  // One blocking read of `stream` (on options.blocking_reads), handled.
  absl::StatusOr<int> BlockingRead(const std::string& stream,
                                   absl::Duration block);

  redis::Client& redis_;
  const ConsumerOptions options_;
  BatchHandler handler_;
  ConsumerStats stats_;
  // Set by HandleAll, read by Run (the consumer's own thread).
  bool retry_own_pending_ = false;
  // The stream the next blocking read waits on (rotates; PollOnce).
  size_t next_blocking_ = 0;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace omnicx::streams

#endif  // OMNICX_LIBS_STREAMS_CONSUMER_H_
