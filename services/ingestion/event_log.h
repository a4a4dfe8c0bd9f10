// The durable, deduplicated event log in Redis Streams.
//
//   EventLog log(redis, keys, options);
//   OMNICX_RETURN_IF_ERROR(log.EnsureConsumerGroups());
//   absl::StatusOr<std::vector<AppendResult>> r = log.Append(events);
//
// Layout: shard k is the stream `cx:<t>:{ev:k}:stream`; an accepted event is
// one entry with field `e` = the serialised omnicx.v1.Interaction. Its
// dedup record is the field <event_id> = <entry id> of the hash
// `cx:<t>:{ev:k}:dd:<bucket>`, one hash per shard per dedup window of Redis
// time, expiring two windows after the bucket began; ids are checked in the
// current and the previous bucket, so an id is remembered for at least the
// window and at most twice it. One hash field costs Redis less than a key
// with its own expiry (see docs/performance.md). All share the hash tag
// {ev:k}, so one Lua script per shard (per 500 events) checks and appends
// atomically: no crash can separate "seen" from "appended", and a retried
// event (same id, same customer reference, hence same shard) is reported
// DUPLICATE with the original entry id; an id repeated within one call is
// sent once and its repeats answered DUPLICATE of the first. All scripts
// of a call go out in one pipeline (one round trip).
//
// Durability: `fast` acknowledges once Redis has applied the script (Redis
// AOF everysec: at most ~1 s of acknowledged events lost if Redis crashes).
// `strict` additionally requires, on the same connection, `WAIT
// <strict_replicas>` to succeed, or — with strict_replicas = 0 — Redis to run
// with appendfsync always (checked by CheckDurability). See
// docs/guarantees.md.
//
// Trimming: entries are removed only below the oldest entry that some
// consumer group has not yet acknowledged (XTRIM MINID), so no group ever
// loses an unacknowledged event; while a group lags, the stream grows and
// Append's caller answers RESOURCE_EXHAUSTED past max_consumer_lag.
#ifndef OMNICX_SERVICES_INGESTION_EVENT_LOG_H_
#define OMNICX_SERVICES_INGESTION_EVENT_LOG_H_

#include <atomic>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/keys/key_builder.h"
#include "libs/redis/client.h"
#include "libs/redis/script.h"
#include "omnicx/v1/common.pb.h"

namespace omnicx::ingestion {

struct EventLogOptions {
  int shards = 16;
  absl::Duration dedup_window = absl::Hours(24 * 7);
  bool strict = false;
  int strict_replicas = 0;
  absl::Duration strict_wait_timeout = absl::Milliseconds(500);
  // Consumer groups created on every shard (from id 0) so that nothing is
  // trimmed before they first read.
  std::vector<std::string> consumer_groups = {"profile"};
};

struct AppendResult {
  omnicx::v1::EventStatus status = omnicx::v1::EVENT_STATUS_UNSPECIFIED;
  // "<shard>/<entry id>" of the stored entry (the original for duplicates).
  std::string stream_id;
};

// Per consumer group: entries not yet delivered plus delivered-but-unacked,
// summed over shards.
struct GroupLag {
  std::string group;
  int64_t lag = 0;
  int64_t pending = 0;
};

class EventLog {
 public:
  EventLog(redis::Client& redis, const keys::KeyBuilder& keys,
           EventLogOptions options);

  const EventLogOptions& options() const { return options_; }

  // Creates the consumer groups (MKSTREAM, from 0) where missing.
  absl::Status EnsureConsumerGroups();

  // In strict mode with no replicas, Redis must run appendonly yes with
  // appendfsync always; FailedPrecondition otherwise. Append runs it itself
  // until it has passed once (Redis may be down when the service starts),
  // and acknowledges nothing before.
  absl::Status CheckDurability();

  // Appends valid, normalised events; results in input order. Fails whole
  // (Unavailable) when Redis cannot be reached or the strict WAIT fails —
  // then some events may be stored, and a retry reports them DUPLICATE.
  absl::StatusOr<std::vector<AppendResult>> Append(
      const std::vector<const omnicx::v1::Interaction*>& events);

  // Lag per consumer group (XINFO GROUPS, summed over shards).
  absl::StatusOr<std::vector<GroupLag>> ConsumerLag();

  // Removes entries every group has acknowledged; returns how many.
  absl::StatusOr<int64_t> Trim();

 private:
  redis::Client& redis_;
  const keys::KeyBuilder& keys_;
  EventLogOptions options_;
  redis::Script append_script_;
  std::atomic<bool> durability_checked_{false};
};

}  // namespace omnicx::ingestion

#endif  // OMNICX_SERVICES_INGESTION_EVENT_LOG_H_
