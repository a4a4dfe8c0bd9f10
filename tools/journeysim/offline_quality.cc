#include "tools/journeysim/offline_quality.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <vector>

#include "libs/time/proto_time.h"
#include "services/journey/churn_learning.h"
#include "services/journey/journey_state.h"
#include "tools/journeysim/roc_auc.h"

namespace omnicx::journeysim {
namespace {

double CalibrationError(const std::vector<double>& p,
                        const std::vector<bool>& y) {
  double sum_p[10] = {}, sum_y[10] = {};
  for (size_t i = 0; i < p.size(); ++i) {
    const int bin = std::clamp(static_cast<int>(p[i] * 10), 0, 9);
    sum_p[bin] += p[i];
    sum_y[bin] += y[i] ? 1 : 0;
  }
  double ece = 0;
  for (int b = 0; b < 10; ++b) ece += std::abs(sum_p[b] - sum_y[b]);
  return p.empty() ? 0 : ece / static_cast<double>(p.size());
}

}  // namespace

absl::StatusOr<OfflineQuality> RunOfflineQuality(
    const SimulationConfig& config, uint64_t seed,
    const omnicx::journey::CompiledModel& model) {
  namespace journey = omnicx::journey;
  std::mt19937_64 rng(seed);
  const Population pop = Simulate(config, rng);
  std::vector<journey::JourneyState> states(pop.customers.size());
  journey::LearnedChurnModel learned;
  OfflineQuality q;
  for (size_t k = 0; k < pop.events.size(); ++k) {
    const omnicx::v1::Interaction& e = pop.events[k];
    journey::JourneyState& s = states[pop.event_customer[k]];
    std::optional<journey::ChurnExample> example;
    if (!model.IsChurnLabel(e.type())) {
      example =
          journey::StayedExample(model, s, time::ToUnixMillis(e.occurred_at()));
    }
    const int64_t churned_before = s.churned_ms(), events_before = s.events();
    journey::ApplyEvent(model, e, &s);
    if (auto left =
            journey::LeftExample(model, churned_before, events_before, s)) {
      example = std::move(left);
    }
    if (example.has_value()) journey::Learn(model, *example, &learned);
  }
  q.examples = learned.examples();
  q.positives = learned.positives();
  const journey::LearnedChurn learned_read(learned);
  const int64_t at_ms = absl::ToUnixMillis(config.now) + 60000;
  const absl::Time end = config.now + config.horizon;
  std::vector<double> risk, prior, naive, hazard;
  std::vector<bool> label;
  for (size_t i = 0; i < pop.customers.size(); ++i) {
    const CustomerTruth& c = pop.customers[i];
    if (c.ChurnedBy(config.now) || c.labelled || states[i].events() == 0) {
      continue;
    }
    risk.push_back(
        journey::ComputeFeatures(model, states[i], at_ms, &learned_read)
            .churn_risk);
    prior.push_back(
        journey::ComputeFeatures(model, states[i], at_ms).churn_risk);
    naive.push_back(c.failures);
    hazard.push_back(c.hazard_at_now);
    label.push_back(c.ChurnedBy(end));
  }
  q.scored = static_cast<int64_t>(label.size());
  q.churned = std::count(label.begin(), label.end(), true);
  for (auto [scores, out] :
       {std::make_pair(&risk, &q.auc), std::make_pair(&prior, &q.prior_auc),
        std::make_pair(&naive, &q.naive_auc),
        std::make_pair(&hazard, &q.hazard_auc)}) {
    absl::StatusOr<double> auc = RocAuc(*scores, label);
    if (!auc.ok()) return auc.status();
    *out = *auc;
  }
  q.gap_closed = q.hazard_auc > q.naive_auc
                     ? (q.auc - q.naive_auc) / (q.hazard_auc - q.naive_auc)
                     : 0;
  q.calibration_error = CalibrationError(risk, label);
  return q;
}

}  // namespace omnicx::journeysim
