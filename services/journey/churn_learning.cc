#include "services/journey/churn_learning.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/journey/decayed_sum.h"
#include "services/journey/journey_state.h"

namespace omnicx::journey {
namespace {

using omnicx::journey::v1::JourneyState;

constexpr char kBias[] = "bias";
constexpr char kPrior[] = "prior";

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// A driver key's parts without copying: channel, type, touchpoint.
struct KeyParts {
  int channel = 0;
  absl::string_view type, touchpoint;
};
std::optional<KeyParts> SplitKey(absl::string_view key) {
  const size_t a = key.find('\x1f');
  if (a == absl::string_view::npos) return std::nullopt;
  const size_t b = key.find('\x1f', a + 1);
  if (b == absl::string_view::npos) return std::nullopt;
  KeyParts out;
  if (!absl::SimpleAtoi(key.substr(0, a), &out.channel)) return std::nullopt;
  out.type = key.substr(a + 1, b - a - 1);
  out.touchpoint = key.substr(b + 1);
  return out;
}

std::string ChannelFeatureName(int channel) {
  return omnicx::v1::Channel_IsValid(channel)
             ? omnicx::v1::Channel_Name(
                   static_cast<omnicx::v1::Channel>(channel))
             : absl::StrCat(channel);
}

// Calls f(name, value) for every touchpoint feature of `state` at `at_ms`:
// "n:<level>:<name>" with the decayed negative churn contribution and
// "p:<level>:<name>" with minus the positive one (so every feature adds
// θ·value to the logit).
template <typename F>
void ForEachTouchpointFeature(const CompiledModel& model,
                              const JourneyState& state, int64_t at_ms, F&& f) {
  std::string name;
  for (const auto& [key, d] : state.drivers()) {
    const std::optional<KeyParts> parts = SplitKey(key);
    // A cancellation is the leaving itself (a completed one makes the
    // stage CHURNED), not a sign of it: learning from it would teach that
    // customers leave when they leave.
    if (!parts.has_value() || parts->type == "cancellation") continue;
    const double n = std::max(0.0, DecayedValueAt(d.churn().negative(), at_ms,
                                                  model.negative_half_life()));
    const double p = std::max(0.0, DecayedValueAt(d.churn().positive(), at_ms,
                                                  model.positive_half_life()));
    for (const auto& [sign, value] :
         {std::make_pair('n', n), std::make_pair('p', -p)}) {
      if (value == 0) continue;
      if (!parts->touchpoint.empty()) {
        name.assign(1, sign);
        name.append(":t:");
        name.append(parts->touchpoint.data(), parts->touchpoint.size());
        f(name, value);
      }
      name.assign(1, sign);
      name.append(":y:");
      name.append(parts->type.data(), parts->type.size());
      f(name, value);
      name.assign(1, sign);
      name.append(":c:");
      name.append(ChannelFeatureName(parts->channel));
      f(name, value);
    }
  }
}

// Calls f(name, value) for the customer-level features at `at_ms`: "idle"
// (months since the latest touchpoint, at most 6), "tenure" (years, at most
// 1), "new_customer" (1 in the first two months), "activity" (log of 1 +
// touchpoints per month), "spend" (log of 1 + value per purchase, for
// customers with a purchase) and "mix:<channel>" (share of touchpoints on
// the channel). Who the customer is — how much they spend each time, how
// new they are, where they come — sets how likely they are to leave before
// anything goes wrong (a bargain hunter more than a business account).
template <typename F>
void ForEachCustomerFeature(const JourneyState& state, int64_t at_ms, F&& f) {
  if (state.events() == 0) return;
  constexpr double kMonthMs = 30.0 * 86400000;
  constexpr double kNewCustomerMonths = 2;
  const double idle =
      std::max(0.0, static_cast<double>(at_ms - state.last_ms()) / kMonthMs);
  const double tenure =
      std::max(0.0, static_cast<double>(at_ms - state.first_ms()) / kMonthMs);
  std::string name = "idle";
  if (idle > 0) f(name, std::min(idle, 6.0));
  name = "tenure";
  if (tenure > 0) f(name, std::min(tenure / 12, 1.0));
  name = "new_customer";
  if (tenure < kNewCustomerMonths) f(name, 1.0);
  if (state.purchases() > 0) {
    name = "spend";
    f(name, std::log1p(std::max(0.0, state.lifetime_value()) /
                       static_cast<double>(state.purchases())));
  }
  name = "activity";
  f(name,
    std::log1p(static_cast<double>(state.events()) / std::max(tenure, 1.0)));
  for (const auto& [channel, n] : state.channel_counts()) {
    name = "mix:";
    name.append(ChannelFeatureName(channel));
    f(name, static_cast<double>(n) / static_cast<double>(state.events()));
  }
}

// What cancellations add to the prior churn logit at `at_ms`: left out of
// what the learner sees (ForEachTouchpointFeature says why).
double CancellationLogit(const CompiledModel& model, const JourneyState& state,
                         int64_t at_ms) {
  double z = 0;
  for (const auto& [key, d] : state.drivers()) {
    const std::optional<KeyParts> parts = SplitKey(key);
    if (!parts.has_value() || parts->type != "cancellation") continue;
    z +=
        DecayedValueAt(d.churn().negative(), at_ms,
                       model.negative_half_life()) -
        DecayedValueAt(d.churn().positive(), at_ms, model.positive_half_life());
  }
  return z;
}

// The feature's mean over the learned examples (0 before any).
double Mean(const LearnedChurnModel& learned,
            const omnicx::journey::v1::LearnedWeight& w) {
  return learned.examples() > 0
             ? w.sum() / static_cast<double>(learned.examples())
             : 0.0;
}

double FeatureValue(const ChurnExample& example, const std::string& f) {
  auto it = example.features().find(f);
  return it == example.features().end() ? 0.0 : it->second;
}

// prior_logit + bias + Σ θ·(x − mean): every learned feature, absent ones
// at 0.
double Logit(const LearnedChurnModel& learned, const ChurnExample& example) {
  double z = example.prior_logit();
  for (const auto& [f, w] : learned.weights()) {
    z += f == kBias ? w.value()
                    : w.value() * (FeatureValue(example, f) - Mean(learned, w));
  }
  return z;
}

// One AdaGrad step of `w` on `gradient` (of the log loss) plus the L2 pull
// toward 0.
void Step(const omnicx::journey::v1::ChurnLearning& options, double gradient,
          omnicx::journey::v1::LearnedWeight* w) {
  const double g = gradient + options.shrinkage() * w->value();
  w->set_gradient_squares(w->gradient_squares() + g * g);
  if (w->gradient_squares() > 0) {
    w->set_value(w->value() - options.learning_rate() * g /
                                  std::sqrt(w->gradient_squares()));
  }
}

}  // namespace

double BoundRisk(double p) {
  if (!(p >= 0)) return kMinChurnRisk;  // also NaN
  return kMinChurnRisk + (kMaxChurnRisk - kMinChurnRisk) * std::min(p, 1.0);
}

LearnedChurn::LearnedChurn(LearnedChurnModel model) : proto_(std::move(model)) {
  for (const auto& [f, w] : proto_.weights()) {
    if (w.value() == 0) continue;
    values_[f] = w.value();
    if (f != kBias) offset_ -= w.value() * Mean(proto_, w);
  }
}

double LearnedChurn::Value(const std::string& feature) const {
  auto it = values_.find(feature);
  return it == values_.end() ? 0.0 : it->second;
}

double LearnedChurn::Adjustment(const CompiledModel& model,
                                const JourneyState& state, int64_t at_ms,
                                double prior_logit) const {
  if (values_.empty()) return 0;
  double z = offset_ + Value(kBias) +
             Value(kPrior) * (prior_logit - model.proto().churn().intercept() -
                              CancellationLogit(model, state, at_ms));
  auto add = [&](const std::string& name, double x) {
    auto it = values_.find(name);
    if (it != values_.end()) z += it->second * x;
  };
  ForEachTouchpointFeature(model, state, at_ms, add);
  ForEachCustomerFeature(state, at_ms, add);
  return z;
}

ChurnExample MakeChurnExample(const CompiledModel& model,
                              const JourneyState& state, int64_t at_ms,
                              bool churned) {
  ChurnExample out;
  const Features f = ComputeFeatures(model, state, at_ms);
  const double prior =
      f.churn_prior_logit - CancellationLogit(model, state, at_ms);
  out.set_prior_logit(prior);
  out.set_churned(churned);
  auto& x = *out.mutable_features();
  x[kPrior] = prior - model.proto().churn().intercept();
  auto add = [&x](const std::string& name, double v) { x[name] += v; };
  ForEachTouchpointFeature(model, state, at_ms, add);
  ForEachCustomerFeature(state, at_ms, add);
  return out;
}

std::optional<ChurnExample> StayedExample(const CompiledModel& model,
                                          const JourneyState& before,
                                          int64_t latest_new_ms) {
  if (before.events() == 0 || before.churned_ms() != 0) return std::nullopt;
  const int64_t period = before.last_ms() / kExamplePeriodMs;
  if (latest_new_ms / kExamplePeriodMs <= period) return std::nullopt;
  // Seen at the first period boundary after their latest touchpoint (the
  // state then is `before`): idle as it is at a time that does not depend
  // on the customer's coming back, like the time risk is read at.
  return MakeChurnExample(model, before, (period + 1) * kExamplePeriodMs,
                          false);
}

std::optional<ChurnExample> LeftExample(const CompiledModel& model,
                                        int64_t before_churned_ms,
                                        int64_t before_events,
                                        const JourneyState& after) {
  if (after.events() == 0 || after.churned_ms() == 0) return std::nullopt;
  // The first label, or the first touchpoints of a customer labelled
  // before any of them arrived.
  if (before_churned_ms != 0 && before_events != 0) return std::nullopt;
  // Seen when they left, a time that does not depend on their touchpoints
  // (like the period boundaries of the negatives and the time risk is read
  // at), so idle means the same in both.
  return MakeChurnExample(model, after,
                          std::max(after.churned_ms(), after.last_ms()), true);
}

double PredictExample(const LearnedChurnModel& learned,
                      const ChurnExample& example) {
  return BoundRisk(Sigmoid(Logit(learned, example)));
}

bool Learn(const CompiledModel& model, const ChurnExample& example,
           LearnedChurnModel* learned) {
  // Customers who stayed teach nothing before anyone is known to have
  // left: alone they would only push every risk down.
  if (!example.churned() && learned->positives() == 0) return false;
  // Log loss of the logistic probability σ(z), dL/dz = σ(z) − y. Not of
  // the bounded one: its 1% floor lies above the share of examples that
  // churn (a customer still there gives one example a month), and below
  // the floor its gradient vanishes, so positives at low risk taught
  // nothing. The bound is applied when risk is read.
  const double y = example.churned() ? 1.0 : 0.0;
  const double error = Sigmoid(Logit(*learned, example)) - y;
  // The means include this example.
  learned->set_examples(learned->examples() + 1);
  if (example.churned()) learned->set_positives(learned->positives() + 1);
  auto& weights = *learned->mutable_weights();
  for (const auto& [f, x] : example.features()) {
    if (x == 0) continue;
    auto& w = weights[f];
    w.set_sum(w.sum() + x);
    w.set_support(w.support() + 1);
    if (example.churned()) w.set_positives(w.positives() + 1);
  }
  const auto& options = model.proto().learning();
  auto& bias = weights[kBias];
  bias.set_support(learned->examples());
  bias.set_positives(learned->positives());
  Step(options, error, &bias);
  // Every feature moves with its deviation from its mean (absent: 0), so a
  // shift of the overall churn rate is the bias's to learn: uncentered, the
  // common features (channel shares, idle months, the busy touchpoints)
  // took it up and their importances moved with how common they are.
  for (auto& [f, w] : weights) {
    if (f == kBias) continue;
    Step(options, error * (FeatureValue(example, f) - Mean(*learned, w)), &w);
  }
  return true;
}

omnicx::v1::GetChurnModelResponse DescribeChurnModel(
    const LearnedChurnModel& learned, int limit) {
  omnicx::v1::GetChurnModelResponse out;
  out.set_version(learned.version());
  out.set_examples(learned.examples());
  out.set_positives(learned.positives());
  auto value = [&learned](const std::string& f) {
    auto it = learned.weights().find(f);
    return it == learned.weights().end() ? 0.0 : it->second.value();
  };
  out.set_intercept_shift(value(kBias));
  out.set_prior_slope(1 + value(kPrior));
  // "<level>:<name>" -> importance, from the n: and p: features.
  std::map<std::string, omnicx::v1::LearnedImportance> by_name;
  for (const auto& [f, w] : learned.weights()) {
    if (f.size() < 4 || f[1] != ':' || f[3] != ':' ||
        (f[0] != 'n' && f[0] != 'p')) {
      if (f != kBias && f != kPrior)
        (*out.mutable_coefficients())[f] = w.value();
      continue;
    }
    const std::string id = f.substr(2);
    auto& imp = by_name[id];
    if (imp.kind().empty()) {
      imp.set_kind(f[2] == 't'   ? "touchpoint"
                   : f[2] == 'y' ? "type"
                                 : "channel");
      imp.set_name(f.substr(4));
      imp.set_negative_multiplier(1);
      imp.set_positive_multiplier(1);
    }
    if (f[0] == 'n') {
      imp.set_negative_multiplier(1 + w.value());
      imp.set_support(w.support());
      imp.set_positives(w.positives());
    } else {
      imp.set_positive_multiplier(1 + w.value());
      if (imp.support() < w.support()) {
        imp.set_support(w.support());
        imp.set_positives(w.positives());
      }
    }
  }
  std::vector<omnicx::v1::LearnedImportance> all;
  for (auto& [id, imp] : by_name) all.push_back(std::move(imp));
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    if (a.support() != b.support()) return a.support() > b.support();
    if (a.kind() != b.kind()) return a.kind() < b.kind();
    return a.name() < b.name();
  });
  for (int i = 0; i < static_cast<int>(all.size()) && i < limit; ++i) {
    *out.add_importances() = std::move(all[i]);
  }
  return out;
}

}  // namespace omnicx::journey
