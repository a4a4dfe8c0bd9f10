// The journey scoring model: touchpoint importance weights, half-lives,
// health and churn coefficients, stage thresholds, segment rules and the
// pain-point severity blend (protos/omnicx/journey/v1/model.proto), with
// built-in defaults for the common moments of truth, loaded from YAML and
// validated once at start-up.
//
//   absl::StatusOr<CompiledModel> model = LoadJourneyModel(cfg.weights_file());
//   if (!model.ok()) ...  // "journey model x.yaml: weights[3].weight: ..."
//   double w = model->Weight(CHANNEL_WEB, "payment", "checkout");
//
// Pure: no gRPC, no Redis.
#ifndef OMNICX_SERVICES_JOURNEY_JOURNEY_MODEL_H_
#define OMNICX_SERVICES_JOURNEY_JOURNEY_MODEL_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "omnicx/journey/v1/model.pb.h"
#include "omnicx/v1/common.pb.h"

namespace omnicx::journey {

using omnicx::journey::v1::JourneyModel;

// The documented defaults (docs/journey.md).
JourneyModel DefaultJourneyModel();

// A validated model with its durations parsed.
class CompiledModel {
 public:
  const JourneyModel& proto() const { return proto_; }
  absl::Duration positive_half_life() const { return positive_half_life_; }
  absl::Duration negative_half_life() const { return negative_half_life_; }
  absl::Duration churned_after_idle() const { return churned_after_idle_; }
  absl::Duration onboarding_period() const { return onboarding_period_; }
  absl::Duration pain_wait_full() const { return pain_wait_full_; }

  // Importance of a touchpoint: the most specific matching entry's weight
  // (touchpoint 4, type 2, channel 1; ties: the later entry), else 1.
  double Weight(omnicx::v1::Channel channel, absl::string_view type,
                absl::string_view touchpoint) const;

  // The team owning a touchpoint: the most specific matching owners entry
  // (touchpoint 4, type 2, channel 1; ties: the later entry), else "".
  const std::string& Owner(omnicx::v1::Channel channel, absl::string_view type,
                           absl::string_view touchpoint) const;

  // Whether events of `type` mark the customer as having left (churn_labels).
  bool IsChurnLabel(absl::string_view type) const {
    return churn_labels_.contains(type);
  }

 private:
  friend absl::StatusOr<CompiledModel> CompileModel(JourneyModel model);
  JourneyModel proto_;
  absl::Duration positive_half_life_;
  absl::Duration negative_half_life_;
  absl::Duration churned_after_idle_;
  absl::Duration onboarding_period_;
  absl::Duration pain_wait_full_;
  absl::flat_hash_set<std::string> churn_labels_;
};

// Validates `model`; errors name the entry (`weights[3].weight: ...`).
absl::StatusOr<CompiledModel> CompileModel(JourneyModel model);

// The defaults overlaid with the YAML file at `path` (empty: defaults only):
// scalars replace defaults, the file's weights are added after the default
// weights (so they win ties of specificity), and a segment replaces the
// default segment of the same name (others are added).
absl::StatusOr<CompiledModel> LoadJourneyModel(const std::string& path);
// The same from YAML text (`source` names it in errors).
absl::StatusOr<CompiledModel> LoadJourneyModelFromYaml(
    absl::string_view yaml, absl::string_view source);

// The features segment rules may name.
const std::vector<std::string>& SegmentFeatures();

}  // namespace omnicx::journey

#endif  // OMNICX_SERVICES_JOURNEY_JOURNEY_MODEL_H_
