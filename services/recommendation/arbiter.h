// Next-best-action arbitration, pure: the gates an action must pass for one
// customer on one channel (state, eligibility, consent, complaint policy),
// then priority = propensity × value × context weight × lever with the
// factors and matched rules as reasons. Caps and cool-downs need the
// customer's contact history and are applied atomically in Redis
// (RecommendationStore::Reserve) over the ranking this produces.
//
//   std::mt19937_64 rng(seed);
//   Arbitration a = Arbitrate(snapshot, features, CHANNEL_VOICE, stats,
//                             options, rng);
//   for (const Candidate& c : a.ranked) ...      // best first
//   for (const Suppression& s : a.suppressed) ... // why the others are out
//
// Gates, in order (the first failure is the reason):
//   disabled; channel (not deliverable on the requested channel);
//   consent (`required_consent` needs a current granted consent — a missing
//   profile means none; whatever the caller asks: the invariant "consent is
//   enforced server-side", docs/architecture.md);
//   eligibility (stage, segments, health, churn risk, open cases — an action
//   with any journey condition is out while the journey is unknown);
//   complaint (cross_sell and retention_offer wait while a complaint case is
//   open, and while the journey is unknown).
// Human touch: for a high-value customer with a severe recent negative
// experience, agent-led actions (human_callback, agent-led service recovery)
// rank before every other action whatever their scores.
#ifndef OMNICX_SERVICES_RECOMMENDATION_ARBITER_H_
#define OMNICX_SERVICES_RECOMMENDATION_ARBITER_H_

#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "omnicx/v1/common.pb.h"
#include "omnicx/v1/recommendation.pb.h"
#include "services/recommendation/customer_features.h"
#include "services/recommendation/learning.h"

namespace omnicx::recommendation {

struct ArbitrationOptions {
  // Pseudo-count of the prior accept rate (setting prior_strength).
  int prior_strength = 10;
};

struct Candidate {
  const omnicx::v1::Action* action = nullptr;
  double propensity = 0;
  double posterior_mean = 0;
  BetaPosterior posterior;
  int64_t successes = 0;
  int64_t failures = 0;
  double context_weight = 1;
  double lever = 1;
  double score = 0;
  // Ranks before other candidates (human touch).
  bool human_touch = false;
  // Filled by Arbitrate only when explaining; else CandidateReasons.
  std::vector<std::string> reasons;
};

struct Suppression {
  std::string action_id;
  // "consent:marketing missing"; without explain only the class before the
  // colon ("consent").
  std::string reason;
};

struct Arbitration {
  std::string segment;
  bool human_touch = false;
  std::vector<Candidate> ranked;
  // Every action that failed a gate, with its reason; filled only when
  // explaining.
  std::vector<Suppression> suppressed;
  // Failed gates by class ("consent", "eligibility", ...), always counted.
  absl::flat_hash_map<std::string, int> suppressed_by_class;
};

// The first gate `action` fails, or "" when it passes every gate.
std::string GateReason(const omnicx::v1::Action& action,
                       const CustomerFeatures& customer,
                       omnicx::v1::Channel channel);

// The factor a caller's intent gives an action kind (1 for most; see
// docs/recommendation.md), e.g. "retention" → retention_offer ×1.5.
double IntentFactor(absl::string_view intent, omnicx::v1::ActionKind kind);

// The context weight of an action for this customer (the journey's part is
// 1 without journey) times the intent factor, and why (`why` may be null).
double ContextWeight(const omnicx::v1::Action& action,
                     const CustomerFeatures& customer, std::string* why);

// `catalog` in a stable order (the sampling order). Actions must be valid.
// With `explain`, suppression reasons are written out in full and every
// ranked candidate gets its reasons; without, only the reason classes (the
// decision path formats reasons for the chosen actions alone).
Arbitration Arbitrate(const std::vector<const omnicx::v1::Action*>& catalog,
                      const CustomerFeatures& customer,
                      omnicx::v1::Channel channel, const StatsTable& stats,
                      const ArbitrationOptions& options, std::mt19937_64& rng,
                      bool explain = true);

// The factors and matched rules of a ranked candidate.
std::vector<std::string> CandidateReasons(const Candidate& candidate,
                                          const CustomerFeatures& customer,
                                          omnicx::v1::Channel channel,
                                          const std::string& segment);

// The fallback answer: enabled `fallback` actions deliverable on `channel`
// that need no consent, by value × lever, best first.
std::vector<const omnicx::v1::Action*> FallbackActions(
    const std::vector<const omnicx::v1::Action*>& catalog,
    omnicx::v1::Channel channel);

}  // namespace omnicx::recommendation

#endif  // OMNICX_SERVICES_RECOMMENDATION_ARBITER_H_
