// Churn risk that learns from who actually leaves: the pure half of the
// churn learner. A customer's labelled example is their features as of
// their latest touchpoint before a churn label (an event whose type is in
// the model's churn_labels) — positive — or, for customers still there, at
// their first touchpoint of each new 30-day period — negative. The learner
// fits logistic corrections on top of the configured (prior) churn logit:
//
//   z = prior_logit + bias + prior_slope·(prior_logit − intercept)
//       + Σ_touchpoints n·(θn_touchpoint + θn_type + θn_channel)
//       − Σ_touchpoints p·(θp_touchpoint + θp_type + θp_channel)
//
// where n and p are the touchpoint's decayed negative and positive
// contributions to the prior churn logit (its configured weight included),
// so 1 + θn is the learned multiplier on the configured importance of its
// bad experiences. Every θ starts at 0 and is pulled back toward 0 (L2
// shrinkage): without labels, or for a touchpoint never seen in a labelled
// example, churn risk is the prior's. Online AdaGrad, one step per example.
//
//   LearnedChurnModel m;
//   Learn(model, MakeChurnExample(model, state, /*churned=*/true), &m);
//   LearnedChurn learned(m);           // read side: cheap lookups
//   Features f = ComputeFeatures(model, state, now_ms, &learned);
//
// Pure: no gRPC, no Redis.
#ifndef OMNICX_SERVICES_JOURNEY_CHURN_LEARNING_H_
#define OMNICX_SERVICES_JOURNEY_CHURN_LEARNING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "omnicx/journey/v1/state.pb.h"
#include "omnicx/v1/journey.pb.h"
#include "services/journey/journey_model.h"

namespace omnicx::journey {

using omnicx::journey::v1::ChurnExample;
using omnicx::journey::v1::LearnedChurnModel;

// Churn risk is a probability that is never certain either way.
inline constexpr double kMinChurnRisk = 0.01;
inline constexpr double kMaxChurnRisk = 0.99;
double ClampRisk(double p);

// Customers still there give at most one negative example per period.
inline constexpr int64_t kExamplePeriodMs = int64_t{30} * 86400000;

// The read side of a learned model: corrections by feature name.
class LearnedChurn {
 public:
  LearnedChurn() = default;
  explicit LearnedChurn(LearnedChurnModel model);

  bool empty() const { return values_.empty(); }
  int64_t version() const { return proto_.version(); }
  const LearnedChurnModel& proto() const { return proto_; }
  // The learned correction of one feature (0 when never learned).
  double Value(const std::string& feature) const;

  // What the learned corrections add to the prior churn logit of `state`
  // at `at_ms` (0 for an empty model).
  double Adjustment(const CompiledModel& model,
                    const omnicx::journey::v1::JourneyState& state,
                    int64_t at_ms, double prior_logit) const;

 private:
  LearnedChurnModel proto_;
  absl::flat_hash_map<std::string, double> values_;
};

// The example of `state` as of its latest touchpoint.
ChurnExample MakeChurnExample(const CompiledModel& model,
                              const omnicx::journey::v1::JourneyState& state,
                              bool churned);

// What a commit that moved a customer from `before` (its last_ms, events
// and churned_ms) to `after` teaches: a positive example when it brought
// the customer's first churn label, a negative one when a customer without
// a label reached a new 30-day period; otherwise none.
std::optional<ChurnExample> ExampleForCommit(
    const CompiledModel& model, int64_t before_last_ms, int64_t before_events,
    int64_t before_churned_ms, const omnicx::journey::v1::JourneyState& after);

// The model's churn probability for an example (clamped).
double PredictExample(const LearnedChurnModel& learned,
                      const ChurnExample& example);

// One online step on `example` (AdaGrad with shrinkage toward 0).
void Learn(const CompiledModel& model, const ChurnExample& example,
           LearnedChurnModel* learned);

// GetChurnModel's answer: the most supported importances first (at most
// `limit`), each with the prior multiplier 1 moved by what was learned.
omnicx::v1::GetChurnModelResponse DescribeChurnModel(
    const LearnedChurnModel& learned, int limit);

}  // namespace omnicx::journey

#endif  // OMNICX_SERVICES_JOURNEY_CHURN_LEARNING_H_
