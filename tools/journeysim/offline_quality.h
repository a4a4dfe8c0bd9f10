// The held-out quality protocol in one process: the journey service's own
// state, example and learner code (services/journey) applied to a simulated
// population in time order, without Redis, gRPC or the services. A run of
// `bench/quality.sh --protocol held-out` takes minutes; this takes about a
// second per 5,000 customers, so features and learner settings can be
// compared over many seeds before the real protocol confirms them. The
// service learns from the same examples in the order its partitions deliver
// them, so its figures differ from these by that ordering only.
//
//   SimulationConfig config;  // customers, events, now, planted, ...
//   config.label_share = 0.5;
//   RedrawTouchpoints(seed, &config);
//   absl::StatusOr<OfflineQuality> q = RunOfflineQuality(config, seed);
//   std::cout << q->gap_closed;
#ifndef OMNICX_TOOLS_JOURNEYSIM_OFFLINE_QUALITY_H_
#define OMNICX_TOOLS_JOURNEYSIM_OFFLINE_QUALITY_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "services/journey/journey_model.h"
#include "tools/journeysim/simulation.h"

namespace omnicx::journeysim {

struct OfflineQuality {
  // Learned examples (positives among them).
  int64_t examples = 0, positives = 0;
  // Held-out customers scored (still there at `now`, not labelled) and
  // those among them who churn within the horizon.
  int64_t scored = 0, churned = 0;
  // ROC AUC on the held-out half: churn risk with the learned model, the
  // configured model alone, the naive failure count and the true hazard.
  double auc = 0, prior_auc = 0, naive_auc = 0, hazard_auc = 0;
  // (auc − naive) / (hazard − naive).
  double gap_closed = 0;
  // Expected calibration error of churn risk, 10 equal-width bins.
  double calibration_error = 0;
};

// Simulates `config` from `seed`, feeds every observed event to a journey
// state per customer (ApplyEvent), learns from every example a commit would
// append (StayedExample, LeftExample; Learn), and scores the held-out half
// one minute after `config.now` (ComputeFeatures with the learned model).
absl::StatusOr<OfflineQuality> RunOfflineQuality(
    const SimulationConfig& config, uint64_t seed,
    const omnicx::journey::CompiledModel& model);

}  // namespace omnicx::journeysim

#endif  // OMNICX_TOOLS_JOURNEYSIM_OFFLINE_QUALITY_H_
