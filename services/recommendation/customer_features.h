// What a decision knows about a customer, distilled from the profile
// (consents, lifetime value) and the journey (stage, health, churn risk,
// open cases, drivers, segments). Either may be missing: a missing profile
// means no consents (never "consented"); a missing journey means no journey
// features, and the gates treat every journey condition as unknown.
//
//   CustomerFeatures f = ExtractFeatures(&profile, &journey, now, options);
#ifndef OMNICX_SERVICES_RECOMMENDATION_CUSTOMER_FEATURES_H_
#define OMNICX_SERVICES_RECOMMENDATION_CUSTOMER_FEATURES_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "omnicx/v1/journey.pb.h"
#include "omnicx/v1/profile.pb.h"

namespace omnicx::recommendation {

struct FeatureOptions {
  // Lifetime value at or above which a customer is high value.
  double high_value_threshold = 1000;
  // A driver with impact <= -severe_impact health points is severe.
  double severe_impact = 15;
  // ... when it happened within this window.
  absl::Duration severe_window = absl::Hours(24 * 14);
};

struct CustomerFeatures {
  std::string customer_id;
  bool has_profile = false;
  // Purposes with a current granted consent.
  absl::flat_hash_set<std::string> consents;
  double lifetime_value = 0;

  bool has_journey = false;
  omnicx::v1::Stage stage = omnicx::v1::STAGE_UNSPECIFIED;
  std::vector<std::string> segments;
  double health = 0;
  double churn_risk = 0;
  int open_cases = 0;
  // An open case that is a complaint (its first touchpoint names a
  // complaint, or a complaint touchpoint drove the score since it opened).
  bool complaint_open = false;

  bool high_value = false;
  // A severe negative touchpoint within the window, and which.
  bool severe_negative = false;
  std::string severe_driver;

  // Not the customer's but the request's: the caller's intent
  // (RecommendRequest.intent), which weights some kinds.
  std::string intent;
};

// Either pointer may be null (input unavailable).
CustomerFeatures ExtractFeatures(const omnicx::v1::Profile* profile,
                                 const omnicx::v1::JourneySummary* journey,
                                 absl::Time now, const FeatureOptions& options);

}  // namespace omnicx::recommendation

#endif  // OMNICX_SERVICES_RECOMMENDATION_CUSTOMER_FEATURES_H_
