// The one place Redis key names are made. Every key lives under
// `cx:<tenant>:`; identifier values never appear raw in a key.
//
//   KeyBuilder keys("default");
//   keys.Profile(customer_id);     // cx:default:{p:417}:c:rc_5f3a...:profile
//   keys.EventShard(3);            // cx:default:{ev:3}:stream
//
// Encoding of an identifier value v (EncodeId):
//   - up to 96 bytes: "r" + percent-encoding of every byte outside
//     [A-Za-z0-9_.-]  (so no ':', '{', '}', whitespace or newline survives);
//   - longer: "h" + SHA-256 hex of v.
// The two forms start with different letters and each is injective, so two
// different ids never share a key and no id can close a hash tag or reach
// into another key kind's namespace.
//
// Keys of one customer, and their erased-customer tombstone, share the Redis
// Cluster hash tag of the customer's partition `{p:<n>}`, n = Partition(id),
// so a script over one customer's keys and tombstone runs in one slot; the
// keys of one event shard (its stream and its dedup entries) share `{ev:<k>}`.
#ifndef OMNICX_LIBS_KEYS_KEY_BUILDER_H_
#define OMNICX_LIBS_KEYS_KEY_BUILDER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace omnicx::keys {

// Number of customer partitions. NEVER change it once data exists: every
// customer's keys and tombstone would move to another partition, and the old
// ones would no longer be found. Why 1024: the tags {p:0}..{p:1023} fall in
// 1024 distinct cluster slots (of 16384), so with the default even slot split
// each node of a 3-10 node cluster holds within 8 % of its share (336-346 of
// 341 at 3 nodes), 29-39 of 34 at 30 nodes; at 100 nodes (6-15 of 10) the
// operator moves slots to even it out. Many more would multiply the
// per-partition state (outboxes, their folders) to walk.
inline constexpr int kPartitions = 1024;

// Number of shards of the cross-customer aggregates; partition p folds into
// shard p mod kAggregateShards, whose keys share the tag {agg:<g>}. Also
// NEVER to change once data exists (each shard holds its partitions' fold
// checkpoints). Few, so one fold of about a second of deltas adds up the
// changes of many customers before it writes them: the fold's Redis work
// grows with the distinct fields changed per shard, not with the events.
inline constexpr int kAggregateShards = 16;

// Injective, namespace-safe encoding of an identifier (see above).
std::string EncodeId(absl::string_view id);

class KeyBuilder {
 public:
  // Tenants are 1–32 characters of [a-z0-9_-]; anything else is an error.
  static absl::StatusOr<KeyBuilder> Create(absl::string_view tenant);

  const std::string& tenant() const { return tenant_; }
  // `cx:<tenant>:` — every key starts with it (used by scans in tests/tools).
  const std::string& prefix() const { return prefix_; }

  // --- events (ingestion) ---
  // Stream shard k of the event log.
  std::string EventShard(int shard) const;
  // Dedup hash of shard k for time bucket `bucket` (Redis time divided by
  // the dedup window): field = event id, value = its entry id. In the same
  // slot as the shard's stream.
  std::string DedupBucket(int shard, int64_t bucket) const;
  // Stream shard k of resolved events: the profile service republishes every
  // event it applied with resolved_customer_id set, sharded by that id, for
  // the journey service.
  std::string ResolvedShard(int shard) const;
  // Dead-letter stream for events a consumer could not apply.
  std::string DeadLetter(absl::string_view consumer_group) const;

  // --- identities ---
  // Index entry for an identity; `identity_hmac` is the HMAC hex of the
  // normalised "type:value" (never the value itself).
  std::string IdentityIndex(absl::string_view identity_hmac) const;
  // Tombstone of an erased identity (same HMAC input).
  std::string ErasedIdentity(absl::string_view identity_hmac) const;

  // --- partitions ---
  // The customer's partition, StableHash64(id) mod kPartitions.
  static int Partition(absl::string_view customer_id);
  // The hash tag of partition n: `{p:<n>}`.
  static std::string PartitionTag(int partition);

  // Tombstone of an erased customer id, `cx:<t>:{p:<n>}:erased:<sha256>`: in
  // the customer's slot, hashed (it must not reference them), and outside
  // CustomerKeyPattern (erasure's SCAN + DEL must not delete it).
  std::string ErasedCustomer(absl::string_view customer_id) const;
  // Per-partition outbox of the journey's aggregate deltas,
  // `cx:<t>:{p:<n>}:outbox` (a stream; entries carry no customer id).
  std::string Outbox(int partition) const;
  // Per-partition stream of the churn learner's labelled examples,
  // `cx:<t>:{p:<n>}:examples` (entries carry no customer id).
  std::string ChurnExamples(int partition) const;
  // Per-partition sorted set of the journey's customers by the time their
  // stage next changes by time alone, `cx:<t>:{p:<n>}:due` (member the
  // customer id, score ms; the journey's Forget removes the member).
  std::string StageDue(int partition) const;
  // The learned churn model with the learner's checkpoints,
  // `cx:<t>:{model}:churn` (one key, its own slot).
  std::string ChurnModel() const;
  // Shard g of a cross-customer aggregate folded from the outboxes,
  // `cx:<t>:{agg:<g>}:<kind>` ("pain", "funnel:<day>", and "ckpt": the last
  // folded outbox entry of each of its partitions).
  std::string AggregateShard(int shard, absl::string_view kind) const;
  // The aggregate shard partition p folds into.
  static int AggregateShardOf(int partition) {
    return partition % kAggregateShards;
  }

  // --- per customer: `cx:<t>:{p:<n>}:c:<enc>:<kind>` ---
  // SCAN pattern matching every key of one customer
  // (`cx:<t>:{p:<n>}:c:<enc>:*`) and no other customer's (EncodeId never
  // emits ':'); erasure deletes them all, whichever service wrote them.
  std::string CustomerKeyPattern(absl::string_view customer_id) const;
  // `cx:<t>:{p:<n>}:c:<enc>:<kind>`; CustomerKey(id, "") is the common stem.
  std::string CustomerKey(absl::string_view customer_id,
                          absl::string_view kind) const;
  std::string Profile(absl::string_view cid) const {
    return CustomerKey(cid, "profile");
  }
  std::string Identities(absl::string_view cid) const {
    return CustomerKey(cid, "ids");
  }
  // Identities claimed for the customer by untrusted senders (sorted set of
  // "type:value", score = the latest claiming event's time): unverified,
  // never in the identity index.
  std::string Claims(absl::string_view cid) const {
    return CustomerKey(cid, "claims");
  }
  std::string Timeline(absl::string_view cid) const {
    return CustomerKey(cid, "timeline");
  }
  std::string Traits(absl::string_view cid) const {
    return CustomerKey(cid, "traits");
  }
  std::string Consents(absl::string_view cid) const {
    return CustomerKey(cid, "consent");
  }
  std::string ConsentLog(absl::string_view cid) const {
    return CustomerKey(cid, "consent_log");
  }
  std::string Journey(absl::string_view cid) const {
    return CustomerKey(cid, "journey");
  }
  std::string Recommendations(absl::string_view cid) const {
    return CustomerKey(cid, "nba");
  }
  // Next-best-action state of one customer (recommendation service):
  // confirmed presentations, slots held by recent decisions, cool-downs,
  // the decision records (fields of one hash), and merged ids already
  // folded in.
  std::string NbaShown(absl::string_view cid) const {
    return CustomerKey(cid, "nba:shown");
  }
  std::string NbaHeld(absl::string_view cid) const {
    return CustomerKey(cid, "nba:held");
  }
  std::string NbaCooldowns(absl::string_view cid) const {
    return CustomerKey(cid, "nba:cool");
  }
  std::string NbaDecisions(absl::string_view cid) const {
    return CustomerKey(cid, "nba:decisions");
  }
  std::string NbaMerged(absl::string_view cid) const {
    return CustomerKey(cid, "nba:merged");
  }
  // Where a merged-away customer went (their id keeps answering).
  std::string MergedInto(absl::string_view cid) const {
    return CustomerKey(cid, "merged_into");
  }
  // Ids merged into this customer.
  std::string MergedIds(absl::string_view cid) const {
    return CustomerKey(cid, "merged");
  }
  // Provenance of identity links and merges (for audit and unmerge).
  std::string Links(absl::string_view cid) const {
    return CustomerKey(cid, "links");
  }
  // A merge of this customer into another that has begun and not finished
  // (hash: to, token, at, source; survivor once final): the record the
  // profile's single-slot merge steps resume from (profile_merge.cc).
  std::string MergingInto(absl::string_view cid) const {
    return CustomerKey(cid, "merging");
  }
  // Customers folded into this one whose merge has steps left (set).
  std::string MergingFrom(absl::string_view cid) const {
    return CustomerKey(cid, "merging_in");
  }
  // Merges into this customer that were called off before their fold
  // (set of "<merged id>:<token>"): a late fold of one of them refuses.
  std::string MergesCancelled(absl::string_view cid) const {
    return CustomerKey(cid, "merge_cancelled");
  }
  // Merge records for the services that keep per-customer state.
  std::string MergeLog() const { return prefix_ + "merges"; }
  std::string Context(absl::string_view cid) const {
    return CustomerKey(cid, "ctx");
  }

  // --- suite-wide ---
  std::string Catalog() const { return prefix_ + "catalog"; }
  // Learning statistics per (action, segment); no customer data.
  std::string NbaStats() const { return prefix_ + "nba:stats"; }
  std::string Analytics(absl::string_view kind) const {
    return prefix_ + "an:" + EncodeId(kind);
  }
  // Append-only audit stream of the tenant's admin operations (exports,
  // erasures, consent changes, merges, links, catalog changes); entries
  // carry a keyed hash of the customer id, never the id (libs/audit).
  std::string AuditStream() const { return prefix_ + "{audit}:stream"; }

 private:
  explicit KeyBuilder(std::string tenant);

  std::string tenant_;
  std::string prefix_;
};

}  // namespace omnicx::keys

#endif  // OMNICX_LIBS_KEYS_KEY_BUILDER_H_
