// Churn risk that learns from who actually leaves: the pure half of the
// churn learner. A customer's labelled example is their features as of
// the time they left (a churn label: an event whose type is in the model's
// churn_labels), from what happened before the label — positive — or, for
// customers still there, at the first 30-day period boundary after a
// touchpoint, once they are seen after it — negative: both at times that do
// not depend on the customer's touchpoints, like the time risk is read at.
// The learner
// fits logistic corrections on top of the configured (prior) churn logit:
//
//   z = prior_logit + bias + prior_slope·(prior_logit − intercept)
//       + Σ_touchpoints n·(θn_touchpoint + θn_type + θn_channel)
//       − Σ_touchpoints p·(θp_touchpoint + θp_type + θp_channel)
//       + θ_idle·idle months + θ_tenure·tenure + θ_new·new customer
//       + θ_activity·activity + θ_spend·log(1 + value per purchase)
//       + Σ_channels θ_mix·share of touchpoints on the channel
//
// where n and p are the touchpoint's decayed negative and positive
// contributions to the prior churn logit (its configured weight included),
// so 1 + θn is the learned multiplier on the configured importance of its
// bad experiences. Every feature enters as its deviation from its mean over
// the learned examples (θ·(x − mean)), so the overall churn rate — far from
// the prior's baseline when a month's churn is a few percent — is the
// bias's to learn, not the common features'. Every θ starts at 0 and is
// pulled back toward 0 (L2 shrinkage): without labels, or for a touchpoint
// never seen in a labelled example, churn risk is the prior's. Online
// AdaGrad on the log loss of the logistic probability, one step per example
// for every learned feature.
//
//   LearnedChurnModel m;
//   Learn(model, MakeChurnExample(model, state, left_ms, true), &m);
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

// Churn risk is a probability that is never certain either way: the
// logistic probability p maps to 1% + 98%·p, strictly increasing (so it
// keeps ranking customers below 1% or above 99%). The learner fits the
// logistic probability itself (below the floor the bounded one would teach
// nothing), so churn risk reads at most one point above the calibrated one.
inline constexpr double kMinChurnRisk = 0.01;
inline constexpr double kMaxChurnRisk = 0.99;
double BoundRisk(double p);

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
  // Minus every correction times its feature's mean.
  double offset_ = 0;
};

// The example of `state` as seen at `at_ms` (its touchpoints decayed to
// then, idle since its latest one).
ChurnExample MakeChurnExample(const CompiledModel& model,
                              const omnicx::journey::v1::JourneyState& state,
                              int64_t at_ms, bool churned);

// Before a commit applies new touchpoints (the latest at `latest_new_ms`;
// labels and duplicates left out) to a customer without a label: when they
// reach a new 30-day period, they were still there at the first period
// boundary after their latest touchpoint — a negative example of `before`
// as seen then.
std::optional<ChurnExample> StayedExample(
    const CompiledModel& model, const omnicx::journey::v1::JourneyState& before,
    int64_t latest_new_ms);

// After a commit: when it brought the customer's first churn label (or the
// first touchpoints of a customer labelled before), the positive example of
// what happened before the label, as seen when they left.
std::optional<ChurnExample> LeftExample(
    const CompiledModel& model, int64_t before_churned_ms,
    int64_t before_events, const omnicx::journey::v1::JourneyState& after);

// The model's churn probability for an example (bounded).
double PredictExample(const LearnedChurnModel& learned,
                      const ChurnExample& example);

// One online step on `example` (AdaGrad with shrinkage toward 0, every
// learned feature centred on its mean). False
// when it teaches nothing: a customer who stayed, before the first label
// (without labels the model stays the prior).
bool Learn(const CompiledModel& model, const ChurnExample& example,
           LearnedChurnModel* learned);

// GetChurnModel's answer: the most supported importances first (at most
// `limit`), each with the prior multiplier 1 moved by what was learned.
omnicx::v1::GetChurnModelResponse DescribeChurnModel(
    const LearnedChurnModel& learned, int limit);

}  // namespace omnicx::journey

#endif  // OMNICX_SERVICES_JOURNEY_CHURN_LEARNING_H_
