#include "services/recommendation/customer_features.h"

#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/time/proto_time.h"

namespace omnicx::recommendation {

CustomerFeatures ExtractFeatures(const omnicx::v1::Profile* profile,
                                 const omnicx::v1::JourneySummary* journey,
                                 absl::Time now,
                                 const FeatureOptions& options) {
  CustomerFeatures f;
  if (profile != nullptr) {
    f.has_profile = true;
    f.customer_id = profile->customer_id();
    for (const omnicx::v1::Consent& c : profile->consents()) {
      if (c.granted()) {
        f.consents.insert(c.purpose());
      } else {
        f.consents.erase(c.purpose());
      }
    }
    f.lifetime_value = profile->lifetime_value();
    f.high_value = std::isfinite(f.lifetime_value) &&
                   f.lifetime_value >= options.high_value_threshold;
  }
  if (journey == nullptr) return f;
  f.has_journey = true;
  if (f.customer_id.empty()) f.customer_id = journey->customer_id();
  f.stage = journey->stage();
  f.segments.assign(journey->segments().begin(), journey->segments().end());
  f.health = journey->health();
  f.churn_risk = journey->churn_risk();
  f.open_cases = journey->open_cases_size();
  for (const std::string& s : f.segments) {
    if (s == "high_value") f.high_value = true;
  }
  // The journey marks cases on which the customer complained.
  for (const omnicx::v1::OpenCase& c : journey->open_cases()) {
    if (c.complaint()) f.complaint_open = true;
  }
  for (const omnicx::v1::Driver& d : journey->drivers()) {
    const absl::Time at =
        d.has_last_at() ? time::FromProto(d.last_at()) : absl::InfinitePast();
    if (!f.severe_negative && d.impact() <= -options.severe_impact &&
        d.has_last_at() && now - at <= options.severe_window) {
      f.severe_negative = true;
      f.severe_driver =
          absl::StrCat(d.touchpoint().empty() ? d.type() : d.touchpoint(), " (",
                       d.impact(), " health)");
    }
  }
  return f;
}

}  // namespace omnicx::recommendation
