#include "services/journey/pain_points.h"

#include <algorithm>
#include <optional>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/journey/journey_state.h"

namespace omnicx::journey {
namespace {

struct Totals {
  double a = 0, t = 0, n = 0, w = 0, wn = 0, r = 0, c = 0;
  void Add(const std::string& metric, double v) {
    if (metric == "a")
      a += v;
    else if (metric == "t")
      t += v;
    else if (metric == "n")
      n += v;
    else if (metric == "w")
      w += v;
    else if (metric == "wn")
      wn += v;
    else if (metric == "r")
      r += v;
    else if (metric == "c")
      c += v;
  }
};

}  // namespace

std::string AggregateField(omnicx::v1::Stage stage,
                           const std::string& driver_key,
                           const std::string& metric) {
  return absl::StrCat(static_cast<int>(stage), "\x1f", driver_key, "\x1f",
                      metric);
}

std::string PopulationField(omnicx::v1::Stage stage,
                            const std::string& metric) {
  return absl::StrCat(static_cast<int>(stage), "\x1f*\x1f", metric);
}

std::vector<omnicx::v1::PainPoint> RankPainPoints(
    const CompiledModel& model, const std::map<std::string, double>& fields,
    const PainPointQuery& query) {
  // driver key -> totals over the selected stages.
  std::map<std::string, Totals> touchpoints;
  Totals population;
  for (const auto& [field, value] : fields) {
    std::vector<std::string> parts = absl::StrSplit(field, '\x1f');
    int stage = 0;
    if (parts.empty() || !absl::SimpleAtoi(parts[0], &stage)) continue;
    if (query.stage != omnicx::v1::STAGE_UNSPECIFIED && stage != query.stage) {
      continue;
    }
    if (parts.size() == 3 && parts[1] == "*") {
      population.Add(parts[2], value);
    } else if (parts.size() == 5) {
      // Feedback is a verdict on a touchpoint, not a pain point itself.
      if (IsFeedback(parts[2])) continue;
      touchpoints[absl::StrCat(parts[1], "\x1f", parts[2], "\x1f", parts[3])]
          .Add(parts[4], value);
    }
  }
  const auto& pm = model.proto().pain_points();
  const double weight_sum =
      pm.negative_rate() + pm.repeat_contact() + pm.wait() + pm.churn_lift();
  // Stored units: c in percentage points, w in milliseconds
  // (journey_state.h).
  const double population_churn =
      population.a >= 0.5 ? population.c / 100 / population.a : 0;
  const double wait_full = absl::ToDoubleSeconds(model.pain_wait_full());

  std::vector<omnicx::v1::PainPoint> out;
  for (const auto& [key, t] : touchpoints) {
    if (t.a < 0.5) continue;  // nobody left (merged or erased)
    const std::optional<DriverParts> parts = ParseDriverKey(key);
    if (!parts.has_value()) continue;
    if (query.channel != omnicx::v1::CHANNEL_UNSPECIFIED &&
        parts->channel != query.channel) {
      continue;
    }
    const std::string& owner =
        model.Owner(parts->channel, parts->type, parts->touchpoint);
    if (!query.owner.empty() && owner != query.owner) continue;
    omnicx::v1::PainPoint p;
    p.set_owner(owner);
    p.set_touchpoint(parts->name());
    p.set_channel(parts->channel);
    p.set_type(parts->type);
    const double affected = std::round(t.a);
    p.set_customers_affected(static_cast<int64_t>(affected));
    p.set_negative_rate(t.t > 0 ? std::clamp(t.n / t.t, 0.0, 1.0) : 0);
    p.set_repeat_contact_rate(std::clamp(t.r / t.a, 0.0, 1.0));
    p.set_mean_churn_risk(std::clamp(t.c / 100 / t.a, 0.0, 1.0));
    p.set_mean_wait_seconds(t.wn > 0 ? t.w / 1000 / t.wn : 0);
    const double lift = std::clamp(
        (p.mean_churn_risk() - population_churn) / pm.churn_lift_full(), 0.0,
        1.0);
    const double severity =
        (pm.negative_rate() * p.negative_rate() +
         pm.repeat_contact() * p.repeat_contact_rate() +
         pm.wait() * std::min(1.0, p.mean_wait_seconds() / wait_full) +
         pm.churn_lift() * lift) /
        weight_sum;
    p.set_severity(severity);
    p.set_impact(affected * severity);
    if (p.impact() <= 0) continue;
    out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    if (a.impact() != b.impact()) return a.impact() > b.impact();
    return std::make_tuple(a.touchpoint(), static_cast<int>(a.channel()),
                           a.type()) <
           std::make_tuple(b.touchpoint(), static_cast<int>(b.channel()),
                           b.type());
  });
  if (static_cast<int>(out.size()) > query.limit) out.resize(query.limit);
  return out;
}

}  // namespace omnicx::journey
