// The profile service's storage: identity resolution over an HMAC-keyed
// identity index, idempotent application of events to a customer's profile
// and capped timeline, and the reads behind GetProfile and GetTimeline.
//
//   ProfileStore store(redis, keys, options);
//   absl::StatusOr<Resolution> who = store.Resolve(event.customer(),
//                                                  event.identities(), now,
//                                                  "event:" +
//                                                  event.event_id());
//   absl::StatusOr<bool> applied = store.Apply(who->customer_id, event, now);
//
// Layout (KeyBuilder): identity index `{id:<hmac>}:owner` → customer id;
// per customer (`{p:<n>}:c:<id>:<kind>`): `profile` hash (created_ms; s:
// the serialised ProfileState — event count, first and last seen, lifetime
// value, per-channel counts and the fingerprints of the event ids applied
// within applied_window, the effectively-once record; v: the version every
// write bumps, checked by the apply commit and part of the context
// version), `ids` set of
// "type:value" (values in clear inside the value, never in key names),
// `claims` sorted set of unverified "type:value" claims (events'
// `claimed_identities`, the latest max_unverified_identities; never in the
// identity index, never linked or merged on),
// `timeline` sorted set (score = occurred_at ms, member = serialised
// event), `traits` and `consent`
// hashes, `consent_log` list, `ctx` hash of cached agent contexts (short
// TTL; served only while the context version they were assembled from is
// current, see ContextReads).
//
// Resolution is optimistic and race-free: identities are read first, then
// linked in three single-slot steps (Link): into the chosen customer's
// identity set, each index entry claimed by a one-key compare-and-set, the
// outcome recorded; a lost anchor resolves again, so two concurrent first
// sightings never create two customers. Identities owned by another
// customer are reported as conflicts (merge candidates), and links beyond
// the shared-device guard (per type per profile) are refused. Merges and
// erasure are sequences of single-slot steps too, resumable after a crash
// between any two (profile_merge.cc, docs/architecture.md "Scripts and
// hash slots"): no script or multi-key command spans Redis Cluster slots.
#ifndef OMNICX_SERVICES_PROFILE_PROFILE_STORE_H_
#define OMNICX_SERVICES_PROFILE_PROFILE_STORE_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "libs/identity/directory.h"
#include "libs/keys/key_builder.h"
#include "libs/redis/client.h"
#include "libs/redis/script.h"
#include "libs/redis/state_cache.h"
#include "omnicx/v1/common.pb.h"
#include "omnicx/v1/profile.pb.h"
#include "services/profile/profile_state.h"

namespace omnicx::profile {

struct ProfileStoreOptions {
  std::string identity_secret;
  int timeline_cap = 1000;
  absl::Duration applied_window = absl::Hours(24 * 7);
  // Shared-device guard: identities per type per profile (absent = no cap).
  std::map<std::string, int> max_per_type = {
      {"email", 3}, {"phone", 3}, {"device_id", 10}};
  // Event stream shards (to find a customer's entries when erasing).
  int stream_shards = 16;
  // How long tombstones of erased identities and ids stop late events.
  absl::Duration tombstone_ttl = absl::Hours(24 * 366);
  // Unverified identity claims kept per profile (the latest by event time).
  int max_unverified_identities = 10;
  // Customers whose counters ApplyBatch keeps in memory after committing
  // them, so their next events skip the read (0 = none); the commit checks
  // the version, so a stale entry only costs a retry. A few hundred bytes
  // each.
  int state_cache_entries = 50000;
  // Identities whose customer ResolveBatch remembers (0 = none).
  int owner_cache_entries = 200000;
  // New customer ids; injectable for tests.
  std::function<std::string()> new_customer_id;
  // Tests only: called after each step of a merge ("freeze", "fold",
  // "repoint", "finalize", "log") and of a link ("record", "claim"); an
  // error stops the operation there, as a crash would.
  std::function<absl::Status(absl::string_view step)> fault;
};

struct Resolution {
  std::string customer_id;
  bool created = false;
  // "type" of identities refused by the shared-device guard.
  std::vector<std::string> refused;
  // Other customers owning identities of this event: merge candidates.
  std::vector<std::string> conflicts;
  // Set by ResolveAndMerge: customers merged into customer_id, and merges
  // the shared-device guard refused.
  std::vector<std::string> merged;
  std::vector<std::string> merge_refused;
};

struct MergeResult {
  std::string survivor_id;
  std::string merged_id;  // empty when both named the same customer
};

struct EraseResult {
  int64_t keys_deleted = 0;
  int64_t stream_entries_deleted = 0;
};

struct TimelinePage {
  std::vector<omnicx::v1::Interaction> interactions;
  std::string next_page_token;
};

class ProfileStore {
 public:
  ProfileStore(redis::Client& redis, const keys::KeyBuilder& keys,
               ProfileStoreOptions options);

  // The canonical customer for an event's reference and identities (all
  // normalised by ingestion), creating one on first sight. FailedPrecondition
  // when any identity of the event, or any identity it claims (`claims`, its
  // claimed_identities: never linked, only checked), was erased (the event
  // must not bring an erased person's identity back).
  absl::StatusOr<Resolution> Resolve(
      const omnicx::v1::CustomerRef& ref,
      const google::protobuf::RepeatedPtrField<omnicx::v1::Identity>&
          identities,
      absl::Time now, absl::string_view source = "",
      const google::protobuf::RepeatedPtrField<omnicx::v1::Identity>* claims =
          nullptr);

  // Resolve, then merge every other customer owning one of the identities
  // into the resolved one ("linking an identity already owned by another
  // profile merges the two"); customer_id ends as the survivor.
  absl::StatusOr<Resolution> ResolveAndMerge(
      const omnicx::v1::CustomerRef& ref,
      const google::protobuf::RepeatedPtrField<omnicx::v1::Identity>&
          identities,
      absl::Time now, absl::string_view source);

  // One event's reference, identities and provenance, for ResolveBatch.
  struct ResolveInput {
    const omnicx::v1::CustomerRef* ref;
    const google::protobuf::RepeatedPtrField<omnicx::v1::Identity>* identities;
    std::string source;
    // The event's claimed identities (may be null).
    const google::protobuf::RepeatedPtrField<omnicx::v1::Identity>* claims =
        nullptr;
  };

  // Resolve for a whole read of the event log in two round trips (every
  // event's index reads in one pipeline, every link script in another)
  // instead of two per event. Events of one read that name the same new
  // identity get the same new customer, as they would one after the other;
  // an event whose link raced with another writer (its anchor taken, or its
  // customer merged away meanwhile) is resolved again alone with Resolve.
  // Conflicts are returned, not merged (MergeConflicts). One result per
  // input, in order.
  std::vector<absl::StatusOr<Resolution>> ResolveBatch(
      const std::vector<ResolveInput>& inputs, absl::Time now);

  // The merge step of ResolveAndMerge: merges every customer in
  // `resolved.conflicts` into the resolved one and links what the merges
  // freed.
  absl::StatusOr<Resolution> MergeConflicts(
      Resolution resolved, const omnicx::v1::CustomerRef& ref,
      const google::protobuf::RepeatedPtrField<omnicx::v1::Identity>&
          identities,
      absl::Time now, absl::string_view source);

  // Merges two customers: the older profile survives (ties: the smaller id);
  // its profile, identities, timeline (interleaved by time), traits (newest
  // wins), consents (a withdrawal wins) and applied-event record absorb the
  // other's; the other's id redirects to the survivor; a merge record goes
  // to the merge log for the services that keep per-customer state; the
  // provenance (source, time, the merged customer's own links) is kept for
  // audit and unmerge. FailedPrecondition when the shared-device guard would
  // be exceeded; NotFound when either customer does not exist.
  absl::StatusOr<MergeResult> Merge(absl::string_view a, absl::string_view b,
                                    absl::Time now, absl::string_view source);

  // Follows merge redirects to the live customer; NotFound when none.
  absl::StatusOr<std::string> Canonical(absl::string_view customer_id);

  // Read-only lookups over the identity index (shared with other services).
  const identity::CustomerDirectory& directory() const { return directory_; }

  // Applies an event to the customer's profile and timeline. False when this
  // event id was applied before (a redelivery): nothing changes.
  // FailedPrecondition when the customer was erased (nothing written).
  absl::StatusOr<bool> Apply(absl::string_view customer_id,
                             const omnicx::v1::Interaction& event,
                             absl::Time now);

  // Apply for many (customer, event) pairs in one pipeline; Aborted for an
  // event whose customer was merged away meanwhile (resolve it again),
  // FailedPrecondition for one whose customer was erased.
  //
  // PublishResolvedBatch appends each event with its canonical customer id
  // to that customer's resolved-event shard (KeyBuilder::ResolvedShard) for
  // the journey service, one pipeline, one status per pair. Called after
  // every apply, including redeliveries found applied before, so a crash
  // between the two loses nothing; the journey deduplicates by event id.
  using CustomerEvent = std::pair<std::string, const omnicx::v1::Interaction*>;
  std::vector<absl::StatusOr<bool>> ApplyBatch(
      const std::vector<CustomerEvent>& items, absl::Time now);
  std::vector<absl::Status> PublishResolvedBatch(
      const std::vector<CustomerEvent>& items);

  // Sets traits: merged into the existing ones, or replacing them all. Each
  // trait keeps the time it was set (newest wins when profiles merge).
  // Returns the customer written: the survivor when `customer_id` was merged
  // away meanwhile; NotFound when it has no profile (unknown or erased).
  absl::StatusOr<std::string> UpdateTraits(
      absl::string_view customer_id, const google::protobuf::Struct& traits,
      bool replace, absl::Time now);

  // Records a consent decision in the history; the current decision per
  // purpose is the one with the latest time (a late-arriving older decision
  // is kept in the history but does not override a newer one). Like
  // UpdateTraits, follows a merge that landed meanwhile (a withdrawal is
  // never left on a merged-away customer) and changes the context version
  // (no cached context of the earlier version is served again).
  absl::StatusOr<std::string> SetConsent(absl::string_view customer_id,
                                         const omnicx::v1::Consent& consent);
  absl::StatusOr<std::vector<omnicx::v1::Consent>> ConsentHistory(
      absl::string_view customer_id);

  // Cached agent contexts are validated by version instead of being
  // deleted by every write. A customer's context version is
  // "<v>.<journey v>": the profile's `v` (every write a context shows adds
  // one: events, consent, traits, a link, a merge into them) and the
  // journey state's version (every journey write adds one). Neither of them
  // ever decreases while the customer exists, so a version never comes
  // back: a context cached under the current version shows the current
  // state.
  //
  // ContextReads and ParseContextRead are the read in two halves, like
  // ProfileReads: the commands go into the round trip that reads what the
  // context is assembled from, *before* those reads, so the data is never
  // older than the version read (a write in between makes the cache write
  // find the version moved). ReadContext is the two in one round trip.
  // A signature is any string but "v" (the field holding the version).
  static constexpr size_t kContextReads = 3;
  std::vector<redis::Command> ContextReads(absl::string_view customer_id,
                                           absl::string_view signature) const;
  struct ContextRead {
    // The current version: what a context assembled now is cached under.
    std::string version;
    // The serialised context cached for the signature under that version.
    std::optional<std::string> cached;
  };
  // ContextReads' replies are replies[first .. first + kContextReads).
  static absl::StatusOr<ContextRead> ParseContextRead(
      const redis::PipelineReplies& replies, size_t first);
  absl::StatusOr<ContextRead> ReadContext(absl::string_view customer_id,
                                          absl::string_view signature);
  // Caches a context assembled from `version` (ContextRead::version, read
  // before its data) if that version is still current, the customer's
  // profile exists and no erasure has begun (compare-and-set in one
  // script): a write racing a change, an erasure or a merge away writes
  // nothing. True when cached.
  absl::StatusOr<bool> CacheContext(absl::string_view customer_id,
                                    absl::string_view signature,
                                    absl::string_view version,
                                    const std::string& serialized,
                                    absl::Duration ttl);

  // GDPR erasure: deletes every key of the customer (any service's: they
  // share the customer's key stem), their identity index entries, and every
  // stream entry (event log and dead letters) that names them; leaves hashed
  // tombstones so late events do not resurrect them.
  //
  // The customer tombstones (their id and every id merged into them) are set
  // first: from then on every write script that could recreate their keys
  // (link, apply, consent, traits, the journey's apply, the recommendation
  // reservation) refuses, so what the deletion removes stays removed.
  // `fenced`, when given, runs right after that with those ids, before
  // anything is deleted (the service has the journey service take the
  // customer out of its analytics there, with no apply left to race it).
  // When it fails, Erase stops there and answers UNAVAILABLE with RetryInfo:
  // the customer stays fenced (no write lands) and findable by the same
  // reference, and a retry of Erase completes the erasure.
  //
  // Deletion order makes any retry complete it: stream entries, then every
  // key of theirs but the ones that find them (profile, identities, merged
  // ids, merged ids' redirects, cached context), then one key per command:
  // identity tombstones, the profile and redirects, the index entries, the
  // identity set and merged ids. A merge of or into them with steps left is
  // finished first.
  absl::StatusOr<EraseResult> Erase(
      absl::string_view customer_id,
      const std::function<absl::Status(const std::vector<std::string>& ids)>&
          fenced = nullptr);

  // Whether `ref` names a customer or identity erased before (a tombstone
  // is left): a retried EraseCustomer whose first attempt completed, or
  // stopped in its last steps (then this completes it).
  absl::StatusOr<bool> WasErased(const omnicx::v1::CustomerRef& ref);

  // Every stored touchpoint of the customer, newest first.
  absl::StatusOr<std::vector<omnicx::v1::Interaction>> FullTimeline(
      absl::string_view customer_id);

  // Unmasked profile with traits and consents (the gRPC adapter masks
  // identity values).
  absl::StatusOr<omnicx::v1::Profile> GetProfile(absl::string_view customer_id);

  // Newest first; filters by channels (empty = all) and [start, end).
  absl::StatusOr<TimelinePage> GetTimeline(
      absl::string_view customer_id, int page_size,
      absl::string_view page_token,
      const std::vector<omnicx::v1::Channel>& channels,
      std::optional<absl::Time> start, std::optional<absl::Time> end);

  // GetProfile and GetTimeline in two halves — the commands, then the parse
  // of their replies — so that a caller can send the commands in the round
  // trip that finds the customer (CustomerDirectory's AlsoRead) instead of
  // in round trips of their own.
  static constexpr size_t kProfileReads = 7;
  std::vector<redis::Command> ProfileReads(absl::string_view customer_id) const;
  // ProfileReads' replies are replies[first .. first + kProfileReads).
  absl::StatusOr<omnicx::v1::Profile> ParseProfile(
      absl::string_view customer_id, const redis::PipelineReplies& replies,
      size_t first) const;
  struct TimelineRead {
    redis::Command command;
    std::string customer_id;  // the owner, set on every entry read
    int page_size = 0;
    std::string after_id;  // from the page token
    std::vector<omnicx::v1::Channel> channels;
  };
  // InvalidArgument for a malformed page token.
  absl::StatusOr<TimelineRead> PlanTimeline(
      absl::string_view customer_id, int page_size,
      absl::string_view page_token,
      const std::vector<omnicx::v1::Channel>& channels,
      std::optional<absl::Time> start, std::optional<absl::Time> end) const;
  static TimelinePage ParseTimeline(const TimelineRead& read,
                                    const redis::Reply& items);

 private:
  // What resolving one event reads and links (Resolve and ResolveBatch).
  struct ResolvePlan {
    std::vector<omnicx::v1::Identity> all;  // the anchor first
    bool anchored = false;
    std::vector<std::string> owner_keys;  // one per identity in `all`
    // Tombstone reads of the claimed identities, after those of `all`.
    size_t claims = 0;
    std::vector<redis::Command> reads;
  };
  absl::StatusOr<ResolvePlan> PlanResolve(
      const omnicx::v1::CustomerRef& ref,
      const google::protobuf::RepeatedPtrField<omnicx::v1::Identity>&
          identities,
      const google::protobuf::RepeatedPtrField<omnicx::v1::Identity>* claims)
      const;
  // The customer chosen from the plan's reads (replies from `read` on, in
  // the plan's order); `assigned` (may be null) names customers chosen
  // earlier in the same batch for owner keys nobody owned yet.
  absl::StatusOr<Resolution> ChooseCustomer(
      const ResolvePlan& plan, const omnicx::v1::CustomerRef& ref,
      const redis::PipelineReplies& replies, size_t read,
      const std::map<std::string, std::string>* assigned) const;
  // One resolution's link (Link): the identities of `plan` to
  // out->customer_id, their index owners as read ("" = nobody).
  struct LinkJob {
    const ResolvePlan* plan;
    Resolution* out;
    std::vector<std::string> owners;
    std::string source;
    bool check_anchor = false;
    // Results: `again` when resolution must run again (towards `moved_to`
    // when set: the customer was merged away); status FailedPrecondition
    // when the customer was erased meanwhile.
    bool again = false;
    std::string moved_to;
    absl::Status status;
  };
  // Links every job in three round trips, each command in one slot: the
  // identities into each customer's set (lua/link_identities.lua), the
  // index entries claimed one key each (lua/set_owner.lua), the outcome
  // recorded in each customer's slot (lua/link_confirm.lua).
  void Link(std::vector<LinkJob>& jobs, absl::Time now);
  static std::vector<std::string> OwnersRead(const ResolvePlan& plan,
                                             const redis::PipelineReplies& r,
                                             size_t read);
  // What an apply computes from and commits against: the profile hash's
  // version and the counters (ProfileState).
  struct CachedProfile {
    int64_t version = 0;
    ProfileState state;
  };
  // The reply to HMGET <profile> v s.
  static absl::StatusOr<CachedProfile> ParseState(absl::string_view customer_id,
                                                  const redis::Reply& reply);
  redis::Command PublishCommand(absl::string_view customer_id,
                                const omnicx::v1::Interaction& event) const;

  std::string Digest(const omnicx::v1::Identity& identity) const;
  // The identity index key of a stored "type:value".
  std::string IndexKeyOf(absl::string_view identity) const;
  absl::Status Fault(absl::string_view step) const {
    return options_.fault ? options_.fault(step) : absl::OkStatus();
  }

  // Merges as single-slot steps (profile_merge.cc). A merge of M into S
  // that froze M (lua/merge_freeze.lua), as read back from M's record.
  struct FrozenMerge {
    std::string merged, to, token, at, source, survivor;
    std::string created_ms;
    std::string logged;  // the merge log entry's id once written
    CachedProfile state;
    std::vector<std::string> ids, timeline, traits, consents, consent_log,
        merged_ids, links, claims;
  };
  // Runs merge_freeze.lua on `merged` towards `to` ("" = read an existing
  // record only). Verdict in `verdict`; `frozen` set on FROZEN.
  absl::StatusOr<std::string> Freeze(const std::string& merged,
                                     const std::string& to,
                                     const std::string& token, absl::Time now,
                                     absl::string_view source,
                                     FrozenMerge* frozen, std::string* target);
  // Steps 2 to 6 of a frozen merge: fold, repoint, finalise, log, clear.
  // The survivor; Aborted when the merge was called off (run it again),
  // NotFound when a side is gone, FailedPrecondition for the guard.
  absl::StatusOr<std::string> CompleteMerge(const FrozenMerge& frozen);
  // Calls off a frozen merge whose fold cannot happen.
  absl::Status Unfreeze(const FrozenMerge& frozen);
  // Finishes (or calls off) every merge of `customer_id` away and into
  // them that has steps left.
  absl::Status FinishMerges(const std::string& customer_id);

  // Runs a customer-level write script (lua/set_consent.lua,
  // lua/set_traits.lua) on `customer_id`, following merge redirects it
  // reports.
  absl::StatusOr<std::string> WriteCustomer(
      redis::Script& script, absl::string_view customer_id,
      const std::function<std::vector<std::string>(const std::string&)>& keys,
      const std::vector<std::string>& args);

  redis::Client& redis_;
  const keys::KeyBuilder& keys_;
  ProfileStoreOptions options_;
  identity::CustomerDirectory directory_;
  redis::Script link_script_;
  redis::Script link_confirm_script_;
  redis::Script set_owner_script_;
  redis::Script drop_if_script_;
  redis::Script apply_script_;
  redis::Script consent_script_;
  redis::Script traits_script_;
  redis::Script merge_freeze_script_;
  redis::Script merge_fold_script_;
  redis::Script merge_finalize_script_;
  redis::Script cache_context_script_;
  redis::StateCache<CachedProfile> cache_;
  // Identity index key (or profile key, for a customer-id reference) ->
  // the customer it gave, for events whose identities are all known: they
  // skip the resolve reads. Safe without validation: an owner changes only
  // by a merge or an erasure, and the apply commit refuses a merged-away
  // (MOVED: resolved again) or erased customer; those drop their entries.
  // Entries are used for at most kOwnerMemory, far less than the erasure
  // tombstones last, so a remembered customer that was erased always still
  // has its tombstone (the event is dropped, as the identity's tombstone
  // would have it), never an expired one (where the event would start a new
  // customer).
  static constexpr absl::Duration kOwnerMemory = absl::Hours(1);
  struct Owner {
    std::string customer_id;
    absl::Time at;
  };
  redis::StateCache<Owner> owners_;
  // The resolution of an event all of whose identities owners_ knows, with
  // one customer; nullopt otherwise.
  std::optional<Resolution> CachedResolution(const ResolvePlan& plan,
                                             const omnicx::v1::CustomerRef& ref,
                                             size_t claims, absl::Time now);
  // Forgets every cached identity of a merged-away or erased customer.
  void ForgetOwner(const std::string& customer_id);
};

}  // namespace omnicx::profile

#endif  // OMNICX_SERVICES_PROFILE_PROFILE_STORE_H_
