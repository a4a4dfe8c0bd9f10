// The journey service's storage: per-customer JourneyState in Redis,
// updated by optimistic compare-and-set (the state is computed in C++ by
// journey_state.h; a Lua script checks the version and writes the state
// and one outbox record of the change to the
// cross-customer aggregates in one step, all in the customer's partition
// slot), merges of two customers' states, and the reads behind GetJourney,
// ListPainPoints and GetFunnel.
//
//   JourneyStore store(redis, keys, model, {});
//   absl::StatusOr<ApplyResult> r = store.Apply(event);   // resolved event
//   absl::StatusOr<bool> moved = store.Merge(survivor_id, merged_id);
//   absl::StatusOr<std::optional<JourneyState>> s = store.Load(customer_id);
//   absl::StatusOr<int64_t> moves = store.SweepDue();  // time-driven moves
//
// Layout (KeyBuilder): per customer (`{p:<n>}:c:<id>:`) `journey` hash {v:
// version, s: serialised JourneyState, which holds the fingerprints of the
// event ids applied within applied_window: the effectively-once record,
// libs/events/applied_ids.h; f:<id> for each customer a merge folded in;
// into: the survivor while a merge moves this journey}; per partition the
// `{p:<n>}:outbox` stream of aggregate deltas, folded by the Aggregator
// (aggregator.h) into
// `{p:<n>}:agg:pain` (pain_points.h fields) and
// `{p:<n>}:agg:funnel:<YYYY-MM-DD>` ("from>to" counts, UTC days); reads merge
// the partitions' shards. Every commit also records in the partition's
// `{p:<n>}:due` sorted set when the customer's stage next changes by time
// alone; SweepDue stores those moves. A commit that brings a churn label, or a
// new 30-day period of a customer without one, also appends a labelled example
// to the partition's `{p:<n>}:examples` stream for the ChurnLearner. Every
// write bumps the version `v`, which is part of the customer's context version
// (the profile service serves a cached agent context only while it is current;
// ProfileStore::ContextReads), and stops at the profile service's redirect of a
// merged customer (`merged_into`: the event goes to the survivor) and at the
// tombstone of an erased one (the event is dropped).
#ifndef OMNICX_SERVICES_JOURNEY_JOURNEY_STORE_H_
#define OMNICX_SERVICES_JOURNEY_JOURNEY_STORE_H_

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/events/applied_ids.h"
#include "libs/keys/key_builder.h"
#include "libs/redis/client.h"
#include "libs/redis/script.h"
#include "libs/redis/state_cache.h"
#include "omnicx/journey/v1/state.pb.h"
#include "omnicx/v1/common.pb.h"
#include "omnicx/v1/journey.pb.h"
#include "services/journey/churn_learning.h"
#include "services/journey/journey_model.h"
#include "services/journey/journey_reader.h"
#include "services/journey/journey_state.h"

namespace omnicx::journey {

struct JourneyStoreOptions {
  // How long applied event ids are remembered (redeliveries come sooner).
  absl::Duration applied_window = absl::Hours(24 * 7);
  // Compare-and-set attempts before giving up (Aborted, retried by the
  // stream consumer).
  int max_attempts = 32;
  // Customers whose state ApplyBatch keeps in memory after committing it, so
  // their next events skip the read (0 = none). A cached state is only a
  // guess: the commit still checks the version, and a customer changed
  // elsewhere (another replica, a merge, an erasure) is read again. About
  // 3 KB each.
  int state_cache_entries = 50000;
  // How often Learned() checks for a newer learned churn model.
  absl::Duration learned_refresh = absl::Seconds(1);
  // How often SweepDue looks at a customer whose stage may change by time
  // alone (sooner at the exact end of onboarding or of the idle limit): the
  // funnel's populations trail such a move by at most this much; the move
  // itself is dated to the millisecond.
  absl::Duration stage_check_interval = absl::Hours(24);
  // Tests: called after step 1 and step 2 of Merge; a non-OK status stops
  // the merge there, as a crash would (the redelivered record finishes it).
  std::function<absl::Status(int step)> merge_step_hook;
};

enum class ApplyResult { kApplied, kDuplicate, kErased };

struct Funnel {
  std::map<omnicx::v1::Stage, int64_t> stages;
  std::map<std::pair<omnicx::v1::Stage, omnicx::v1::Stage>, int64_t>
      transitions;
};

class JourneyStore {
 public:
  JourneyStore(redis::Client& redis, const keys::KeyBuilder& keys,
               const CompiledModel& model, JourneyStoreOptions options = {},
               std::function<absl::Time()> clock = absl::Now);

  // Applies a resolved event (resolved_customer_id set) once.
  absl::StatusOr<ApplyResult> Apply(const omnicx::v1::Interaction& event);

  // Applies many events with two round trips per attempt (all states read
  // in one pipeline, all compare-and-set scripts written in another); one
  // result per event, in order. Events of one customer are applied together
  // and committed once.
  std::vector<absl::StatusOr<ApplyResult>> ApplyBatch(
      const std::vector<omnicx::v1::Interaction>& events);

  // Moves `merged`'s state into `survivor`'s (following the survivor's own
  // redirects). False when `merged` has no state (never had events, or was
  // merged before: merge records are effectively once). Three steps, each
  // in one hash slot, so the two customers may be in different partitions:
  // (1) in M's slot, freeze M's journey (`into`: applies go to the
  // survivor, sweeps skip it, Forget answers Unavailable) and read it;
  // (2) in S's slot, write S's merged state and the aggregate delta to S's
  // outbox unless S's `f:<M>` field says M was folded in before; (3) in M's
  // slot, delete M's journey (when S was erased, with a record taking M's
  // share out of the aggregates). Each step is idempotent, so a crash
  // between steps is finished by the merge record's redelivery (the
  // consumer acknowledges after the last step) without double counting.
  absl::StatusOr<bool> Merge(absl::string_view survivor,
                             absl::string_view merged);

  // Deletes the customer's journey and subtracts their
  // share from the pain-point and stage aggregates (erasure). False when
  // there was no journey; Unavailable while a merge moves it into another
  // customer's (between Merge's first and last steps: retry).
  absl::StatusOr<bool> Forget(absl::string_view customer_id);

  // Stores the stage moves driven by time alone (onboarding over, idle,
  // risk grown: NextStageChange) of the customers due by now (at most
  // `max_per_partition` per partition, earliest first), each dated when it
  // happened in the funnel, and schedules their next look
  // (stage_check_interval); how many moves it stored. Every replica may run it
  // at once: each customer's commit checks the state version, so a move is
  // counted once whichever sweeper or event commits first.
  absl::StatusOr<int64_t> SweepDue(int max_per_partition = 1000);

  // The customer's state, with the states of customers merged into them
  // whose merge record has not been processed yet folded in; nullopt when
  // there is none.
  absl::StatusOr<std::optional<JourneyState>> Load(
      absl::string_view customer_id);
  // Load in two halves, so the reads can share a round trip with the
  // identity lookup (CustomerDirectory's AlsoRead): the commands, then the
  // state from their replies.
  std::vector<redis::Command> LoadCommands(
      const std::string& customer_id) const;
  absl::StatusOr<std::optional<JourneyState>> LoadFrom(
      const std::string& customer_id, const redis::PipelineReplies& replies);

  // The pain-point aggregate fields (pain_points.h), merged over every
  // partition's shard: what the Aggregator has folded (up to about its
  // interval behind the commits).
  absl::StatusOr<std::map<std::string, double>> PainAggregates();

  // Current customers per stage and transitions in [start, end] (UTC days).
  absl::StatusOr<Funnel> GetFunnel(absl::Time start, absl::Time end);

  // The learned churn model (ChurnLearner), checked for a newer version at
  // most every learned_refresh (one HGET; the model itself only when its
  // version moved); never null (empty: the prior alone). Applied when churn
  // risk is read and when a commit stores the stage, so customers' risk
  // moves as soon as the model learns.
  std::shared_ptr<const LearnedChurn> Learned();
  // Reads the stored model now.
  absl::Status RefreshLearned();

 private:
  struct Pending;
  // What an apply computes from and commits against: the version and state,
  // how many customers the profile service has merged into this one, and
  // the applied ids of those whose merge the journey has not processed yet.
  struct CachedState {
    int64_t version = 0;
    JourneyState state;
    int64_t merged = 0;
    std::vector<omnicx::events::AppliedIds> merged_applied;
  };
  absl::StatusOr<std::optional<std::pair<int64_t, JourneyState>>> ReadState(
      const std::string& customer_id);
  // ApplyBatch's reads for each pending customer: version, state and the
  // applied ids of customers merged into them whose merge the journey has
  // not processed yet. The profile service republishes a redelivered event
  // under the customer it resolves to now, so after a merge an event
  // applied to the merged customer can come back under the survivor before
  // the merge brings that customer's state (which holds it). One round trip,
  // and one more only when some customer has merges.
  absl::Status ReadForApply(std::map<std::string, Pending>* pending);

  redis::Client& redis_;
  const keys::KeyBuilder& keys_;
  const CompiledModel& model_;
  JourneyStoreOptions options_;
  std::function<absl::Time()> clock_;
  redis::Script apply_script_;
  redis::Script take_script_;
  redis::Script merge_script_;
  redis::Script finish_script_;
  redis::Script forget_script_;
  redis::Script sweep_script_;
  redis::StateCache<CachedState> cache_;
  JourneyReader reader_;  // the loads and the learned churn model
};

// The UTC day ("2026-11-23") of a time, naming funnel buckets.
std::string FunnelDay(int64_t at_ms);

}  // namespace omnicx::journey

#endif  // OMNICX_SERVICES_JOURNEY_JOURNEY_STORE_H_
