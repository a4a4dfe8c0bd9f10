// The recommendation service's Redis state: the versioned action catalog,
// atomic contact-policy reservations, decision records, idempotent outcomes,
// learning statistics, and the folding of merged customers.
//
//   RecommendationStore store(redis, keys, options);
//   absl::StatusOr<Reservation> r = store.Reserve(request);   // Lua
//   absl::StatusOr<OutcomeResult> o = store.RecordOutcome(outcome);
//
// Layout (KeyBuilder):
//   suite-wide (no customer data)
//     catalog          hash: action_id → serialised Action; "#version" (INCR
//                      on every change), "#seed" (digest of the YAML catalog
//                      last applied)
//     nba:stats        hash: "<action>|<segment>|<counter>" → count, counters
//                      imp acc rej ign conv s f (see learning.h)
//   per customer (`{p:<n>}:c:<id>:`, so EraseCustomer deletes them all)
//     nba:shown        zset: "<action>|<decision>" → reservation time (ms) of
//                      confirmed presentations, kept for the longest window
//     nba:held         zset: same members, slots held by decisions not yet
//                      PRESENTED; dropped after hold_ttl
//     nba:cool         hash: action → cool-down end (ms) after REJECTED
//     nba:decisions    hash of the recent decisions (one key per customer,
//                      not per decision): "<decision>" → "<at>|<segment>|
//                      <catalog version>"; "<decision>|" prefixes
//                      a:<action> → reservation time, o:<action>:<RESPONSE>
//                      (idempotency), p:/s:/f:<action> (impression, success,
//                      failure seen). A record answers for decision_ttl; the
//                      hash expires decision_ttl after the last decision,
//                      and older records are dropped once it holds more than
//                      256 fields
//     nba:merged       set of merged-away ids already folded in (with the
//                      ids folded into those before)
//
// Reserve checks each candidate's required consent against the customer's
// stored consents (the profile service's `consent` hash, read inside the
// script: callers' inputs only order the candidates), cool-downs,
// per-action caps (presentations and holds in the action's window) and the
// global cap (all actions, last 24 h) and takes the slots of the first
// max_actions candidates that pass, in one script, so concurrent decisions
// for one customer cannot exceed a cap.
#ifndef OMNICX_SERVICES_RECOMMENDATION_RECOMMENDATION_STORE_H_
#define OMNICX_SERVICES_RECOMMENDATION_RECOMMENDATION_STORE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/keys/key_builder.h"
#include "libs/redis/client.h"
#include "omnicx/v1/recommendation.pb.h"
#include "services/recommendation/arbiter.h"
#include "services/recommendation/catalog.h"
#include "services/recommendation/learning.h"

namespace omnicx::recommendation {

struct StoreOptions {
  absl::Duration hold_ttl = absl::Minutes(15);
  absl::Duration decision_ttl = absl::Hours(24 * 7);
  // All actions together per customer per 24 h (0 = none).
  int global_daily_cap = 4;
  // Tests: called after each step of MergeCustomers (1: M's state read;
  // 2: folded into S's) and of RecordOutcome for a decision made under
  // another id (1: recorded on the decision); a non-OK status stops there,
  // as a crash would.
  std::function<absl::Status(int step)> step_hook;
};

struct CatalogSnapshot {
  int64_t version = 0;
  // Sorted by action_id.
  std::vector<omnicx::v1::Action> actions;
  // The longest cap window over the catalog (presentations are kept this
  // long), at least one day.
  absl::Duration retention = absl::Hours(24);
};

struct ReserveRequest {
  std::string customer_id;
  std::string decision_id;
  std::string segment;
  int64_t catalog_version = 0;
  // Candidates, best first.
  std::vector<const omnicx::v1::Action*> ranked;
  int max_actions = 3;
  absl::Time now;
  absl::Duration retention = absl::Hours(24);
};

struct Reservation {
  // Action ids taken, in rank order.
  std::vector<std::string> chosen;
  // Candidates examined and refused, with the reason (consent, cap,
  // cool-down, global cap).
  std::vector<Suppression> suppressed;
};

struct OutcomeRequest {
  // The customer whose contact state the outcome updates.
  std::string customer_id;
  // The customer the decision was made for (differs after a merge).
  std::string decision_customer_id;
  std::string decision_id;
  std::string action_id;
  omnicx::v1::ActionResponse response = omnicx::v1::ACTION_RESPONSE_UNSPECIFIED;
  absl::Time occurred_at;
  absl::Time now;
  // The action's cool-down after REJECTED, and its cap window.
  absl::Duration cooldown;
  absl::Duration retention = absl::Hours(24);
};

struct OutcomeResult {
  // False for an idempotent replay.
  bool recorded = false;
  std::string segment;
  bool impression = false;
  bool success = false;
  bool failure = false;
};

class RecommendationStore {
 public:
  RecommendationStore(redis::Client& redis, const keys::KeyBuilder& keys,
                      StoreOptions options);

  // Writes the catalog's actions (replacing same ids) and bumps the version,
  // unless this exact catalog was the last one applied. Returns the version.
  absl::StatusOr<int64_t> ApplyCatalog(const ActionCatalog& catalog);
  // Adds or replaces one action; returns the new version.
  absl::StatusOr<int64_t> UpsertAction(const omnicx::v1::Action& action);
  absl::StatusOr<int64_t> CatalogVersion();
  absl::StatusOr<CatalogSnapshot> LoadCatalog();

  absl::StatusOr<Reservation> Reserve(const ReserveRequest& request);

  // NotFound when the decision is unknown or expired, or did not include
  // the action. When the decision was made under another id than the
  // contact state's customer (before a merge), two single-slot steps: the
  // outcome on the decision record (once per decision, action and
  // response: the statistics count it once), then the contact state
  // (idempotent, run again for a repeated outcome, so a retry finishes an
  // outcome interrupted between the steps; its statistics are then lost,
  // never doubled).
  absl::StatusOr<OutcomeResult> RecordOutcome(const OutcomeRequest& request);

  absl::StatusOr<StatsTable> LoadStats();

  // Folds `merged`'s presentations, holds and cool-downs into `survivor`
  // (counts add up; the later cool-down wins), once per merged id. Returns
  // false when it was already folded in. Three steps, each in one slot:
  // read M's state (M's slot); fold it into S's unless S's folded-ids set
  // has M (S's slot, following S's redirects; the ids folded into M join
  // that set); delete M's keys (M's slot). A crash between steps is
  // finished by the merge record's redelivery, without double counting.
  absl::StatusOr<bool> MergeCustomers(const std::string& survivor,
                                      const std::string& merged);

 private:
  redis::Client& redis_;
  const keys::KeyBuilder& keys_;
  const StoreOptions options_;
};

// "PRESENTED", "ACCEPTED", ... (the enum name without its prefix).
std::string ResponseName(omnicx::v1::ActionResponse response);

}  // namespace omnicx::recommendation

#endif  // OMNICX_SERVICES_RECOMMENDATION_RECOMMENDATION_STORE_H_
