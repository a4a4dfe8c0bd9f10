// Online learning of acceptance per (action, segment): a Beta–Bernoulli model
// sampled by Thompson sampling with an injected generator.
//
//   StatsTable stats;                       // from Redis, or built in tests
//   stats.Add("recovery_apology_credit", "detractor", {.successes = 3});
//   BetaPosterior p = Posterior(action, stats.Find(id, segment), 10);
//   double propensity = SampleBeta(p.alpha, p.beta, rng);
//
// Prior: Beta(max(r·k, 0.01), max((1−r)·k, 0.01)) where r is the action's
// prior_accept_rate and k the prior strength (setting prior_strength,
// default 10 pseudo-observations). Evidence: ACCEPTED or CONVERTED is one
// success per (decision, action); REJECTED or IGNORED is one failure per
// (decision, action) unless it already succeeded; PRESENTED is an impression
// only. The learning segment of a customer is their first journey segment in
// kSegmentPriority (then alphabetically), or "all" without journey segments;
// statistics are also kept for "all" as an aggregate.
#ifndef OMNICX_SERVICES_RECOMMENDATION_LEARNING_H_
#define OMNICX_SERVICES_RECOMMENDATION_LEARNING_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "omnicx/v1/recommendation.pb.h"

namespace omnicx::recommendation {

inline constexpr absl::string_view kAllSegments = "all";

// Order in which a customer's journey segments pick their learning segment.
inline constexpr absl::string_view kSegmentPriority[] = {
    "at_risk",      "detractor",     "high_effort",  "high_value",
    "new_customer", "digital_first", "branch_loyal", "promoter"};

// The learning segment for a customer's journey segments (see above).
std::string LearningSegment(const std::vector<std::string>& segments);

// Counters of one (action, segment).
struct SegmentCounts {
  int64_t impressions = 0;
  int64_t accepts = 0;
  int64_t rejects = 0;
  int64_t ignores = 0;
  int64_t conversions = 0;
  int64_t successes = 0;  // Beta evidence (see above)
  int64_t failures = 0;

  void Merge(const SegmentCounts& o);
};

// Counters for every (action, segment) seen.
class StatsTable {
 public:
  // Counts for (action, segment); zeros when unseen.
  SegmentCounts Find(absl::string_view action_id,
                     absl::string_view segment) const;
  void Add(absl::string_view action_id, absl::string_view segment,
           const SegmentCounts& counts);
  // Sets one named counter ("imp", "acc", "rej", "ign", "conv", "s", "f");
  // unknown names are ignored. Used when reading from Redis.
  void SetCounter(absl::string_view action_id, absl::string_view segment,
                  absl::string_view counter, int64_t value);
  // Every (action, segment, counts), sorted by action then segment.
  struct Row {
    std::string action_id;
    std::string segment;
    SegmentCounts counts;
  };
  std::vector<Row> Rows() const;
  size_t size() const { return counts_.size(); }

 private:
  static std::string Key(absl::string_view action_id,
                         absl::string_view segment);
  absl::flat_hash_map<std::string, SegmentCounts> counts_;
};

struct BetaPosterior {
  double alpha = 1;
  double beta = 1;
  double mean() const { return alpha / (alpha + beta); }
};

BetaPosterior Posterior(const omnicx::v1::Action& action,
                        const SegmentCounts& counts, int prior_strength);

// One draw from Beta(alpha, beta) via two Gamma draws.
double SampleBeta(double alpha, double beta, std::mt19937_64& rng);

}  // namespace omnicx::recommendation

#endif  // OMNICX_SERVICES_RECOMMENDATION_LEARNING_H_
