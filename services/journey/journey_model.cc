#include "services/journey/journey_model.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/config/proto_loader.h"
#include "libs/status/status_macros.h"

namespace omnicx::journey {
namespace {

using omnicx::journey::v1::ChurnModel;
using omnicx::journey::v1::HealthModel;
using omnicx::journey::v1::SegmentRule;
using omnicx::journey::v1::SignalCoefficients;
using omnicx::journey::v1::TouchpointWeight;
using omnicx::v1::Channel;

TouchpointWeight Weight(Channel channel, absl::string_view type,
                        absl::string_view touchpoint, double weight,
                        absl::string_view note) {
  TouchpointWeight w;
  w.set_channel(channel);
  w.set_type(std::string(type));
  w.set_touchpoint(std::string(touchpoint));
  w.set_weight(weight);
  w.set_note(std::string(note));
  return w;
}

void SetCoefficients(SignalCoefficients* c, double positive, double negative) {
  c->set_positive(positive);
  c->set_negative(negative);
}

SegmentRule Segment(absl::string_view name,
                    std::vector<std::tuple<std::string, std::optional<double>,
                                           std::optional<double>>>
                        bounds) {
  SegmentRule rule;
  rule.set_name(std::string(name));
  for (const auto& [feature, min, max] : bounds) {
    auto* b = rule.add_all();
    b->set_feature(feature);
    if (min) b->set_min(*min);
    if (max) b->set_max(*max);
  }
  return rule;
}

absl::Status Bad(absl::string_view path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
}

absl::StatusOr<absl::Duration> PositiveDuration(absl::string_view path,
                                                absl::string_view text) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d <= absl::ZeroDuration()) {
    return Bad(path, absl::StrCat("\"", text,
                                  "\" is not a positive duration like 720h"));
  }
  return d;
}

absl::Status CheckNonNegative(absl::string_view path, double v) {
  if (!std::isfinite(v) || v < 0) {
    return Bad(path, absl::StrCat(v, " must be a finite number >= 0"));
  }
  return absl::OkStatus();
}

absl::Status CheckCoefficients(absl::string_view path,
                               const SignalCoefficients& c) {
  OMNICX_RETURN_IF_ERROR(
      CheckNonNegative(absl::StrCat(path, ".positive"), c.positive()));
  return CheckNonNegative(absl::StrCat(path, ".negative"), c.negative());
}

bool IsSegmentName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_')) {
      return false;
    }
  }
  return true;
}

int Specificity(const TouchpointWeight& w) {
  return (w.touchpoint().empty() ? 0 : 4) + (w.type().empty() ? 0 : 2) +
         (w.channel() == omnicx::v1::CHANNEL_UNSPECIFIED ? 0 : 1);
}

}  // namespace

const std::vector<std::string>& SegmentFeatures() {
  static const auto* features =
      new std::vector<std::string>{"health",          "churn_risk",
                                   "experience",      "effort",
                                   "engagement",      "value",
                                   "effort_negative", "experience_negative",
                                   "open_cases",      "events",
                                   "tenure_days",     "idle_days",
                                   "lifetime_value",  "digital_share",
                                   "assisted_share",  "physical_share",
                                   "last_nps",        "purchases"};
  return *features;
}

JourneyModel DefaultJourneyModel() {
  using omnicx::v1::CHANNEL_UNSPECIFIED;
  using omnicx::v1::CHANNEL_VOICE;
  JourneyModel m;
  // Moments of truth weigh more; routine browsing less. 1 is the default.
  for (const TouchpointWeight& w : {
           Weight(CHANNEL_UNSPECIFIED, "payment", "checkout", 3,
                  "checkout or payment failure: the purchase is at stake"),
           Weight(CHANNEL_UNSPECIFIED, "checkout_start", "", 2,
                  "intent to buy"),
           Weight(CHANNEL_UNSPECIFIED, "payment", "", 2.5, "paying"),
           Weight(CHANNEL_UNSPECIFIED, "purchase", "", 2, "buying"),
           Weight(CHANNEL_UNSPECIFIED, "delivery", "", 3,
                  "delivery: the promise kept or broken"),
           Weight(CHANNEL_UNSPECIFIED, "complaint", "", 3, "complaint"),
           Weight(CHANNEL_UNSPECIFIED, "support_contact", "", 2,
                  "first support contact"),
           Weight(CHANNEL_VOICE, "support_contact", "", 2.5,
                  "calling support: the costliest contact for the customer"),
           Weight(CHANNEL_UNSPECIFIED, "issue_resolved", "", 2,
                  "recovery from a problem"),
           Weight(CHANNEL_UNSPECIFIED, "cancellation", "", 3,
                  "cancellation or an attempt at it"),
           Weight(CHANNEL_UNSPECIFIED, "renewal", "", 2.5, "renewal"),
           Weight(CHANNEL_UNSPECIFIED, "return", "", 1.5, "return"),
           Weight(CHANNEL_UNSPECIFIED, "survey_response", "", 1.5,
                  "the customer's own verdict"),
           Weight(CHANNEL_UNSPECIFIED, "review", "", 1.5, "public verdict"),
           Weight(CHANNEL_UNSPECIFIED, "referral", "", 2, "advocacy"),
           Weight(CHANNEL_UNSPECIFIED, "page_view", "", 0.5, "browsing"),
           Weight(CHANNEL_UNSPECIFIED, "email_open", "", 0.5, "reading"),
       }) {
    *m.add_weights() = w;
  }
  m.set_positive_half_life("720h");
  m.set_negative_half_life("2880h");

  HealthModel* h = m.mutable_health();
  h->set_intercept(0.4);  // a customer with no history: health 60
  SetCoefficients(h->mutable_experience(), 0.08, 0.12);
  SetCoefficients(h->mutable_effort(), 0.05, 0.15);
  SetCoefficients(h->mutable_engagement(), 0.05, 0.3);
  SetCoefficients(h->mutable_value(), 0.1, 0.15);

  ChurnModel* c = m.mutable_churn();
  // Baseline 5% churn risk after the bound (1% + 98%·σ): σ = 0.04/0.98.
  c->set_intercept(-3.157);
  SetCoefficients(c->mutable_experience(), 0.1, 0.14);
  SetCoefficients(c->mutable_effort(), 0.02, 0.12);
  SetCoefficients(c->mutable_engagement(), 0.03, 0.4);
  SetCoefficients(c->mutable_value(), 0.05, 0.1);
  c->set_recovery_cap(0.25);
  c->set_open_case(0.15);
  c->set_idle_month(0.25);

  auto* s = m.mutable_stages();
  s->set_at_risk_churn(0.3);  // six times the baseline
  s->set_churned_after_idle("4320h");
  s->set_onboarding_period("720h");
  s->set_loyal_purchases(3);
  s->set_loyal_min_health(60);
  s->set_promoter_nps(9);

  for (const SegmentRule& rule : {
           Segment("digital_first",
                   {{"digital_share", 0.7, std::nullopt}, {"events", 3, {}}}),
           Segment("branch_loyal",
                   {{"physical_share", 0.4, std::nullopt}, {"events", 3, {}}}),
           Segment("detractor", {{"last_nps", 0, 6}}),
           Segment("high_effort", {{"effort_negative", 2, std::nullopt}}),
           Segment("high_value", {{"lifetime_value", 1000, std::nullopt}}),
           Segment("at_risk", {{"churn_risk", 0.3, std::nullopt}}),
           Segment("new_customer", {{"tenure_days", std::nullopt, 30}}),
       }) {
    *m.add_segments() = rule;
  }

  auto* p = m.mutable_pain_points();
  p->set_negative_rate(0.4);
  p->set_repeat_contact(0.2);
  p->set_wait(0.15);
  p->set_churn_lift(0.25);
  p->set_wait_full("15m");
  p->set_churn_lift_full(0.25);

  m.set_max_drivers(64);
  m.set_max_cases(32);
  m.set_repeat_contact_effort(1.0);
  m.set_channel_switch_effort(1.0);
  for (const char* label :
       {"churned", "account_closed", "subscription_cancelled"}) {
    m.add_churn_labels(label);
  }
  m.mutable_learning()->set_learning_rate(0.1);
  m.mutable_learning()->set_shrinkage(0.001);
  return m;
}

double CompiledModel::Weight(omnicx::v1::Channel channel,
                             absl::string_view type,
                             absl::string_view touchpoint) const {
  int best = -1;
  double weight = 1.0;
  for (const TouchpointWeight& w : proto_.weights()) {
    if (w.channel() != omnicx::v1::CHANNEL_UNSPECIFIED &&
        w.channel() != channel) {
      continue;
    }
    if (!w.type().empty() && w.type() != type) continue;
    if (!w.touchpoint().empty() && w.touchpoint() != touchpoint) continue;
    const int s = Specificity(w);
    if (s >= best) {  // ties: the later entry (a file's over a default)
      best = s;
      weight = w.weight();
    }
  }
  return weight;
}

const std::string& CompiledModel::Owner(omnicx::v1::Channel channel,
                                        absl::string_view type,
                                        absl::string_view touchpoint) const {
  static const std::string* none = new std::string();
  int best = -1;
  const std::string* team = none;
  for (const auto& o : proto_.owners()) {
    if (o.channel() != omnicx::v1::CHANNEL_UNSPECIFIED &&
        o.channel() != channel) {
      continue;
    }
    if (!o.type().empty() && o.type() != type) continue;
    if (!o.touchpoint().empty() && o.touchpoint() != touchpoint) continue;
    const int s = (o.touchpoint().empty() ? 0 : 4) +
                  (o.type().empty() ? 0 : 2) +
                  (o.channel() == omnicx::v1::CHANNEL_UNSPECIFIED ? 0 : 1);
    if (s >= best) {
      best = s;
      team = &o.team();
    }
  }
  return *team;
}

absl::Status ValidateWeights(
    const google::protobuf::RepeatedPtrField<TouchpointWeight>& weights) {
  for (int i = 0; i < weights.size(); ++i) {
    const TouchpointWeight& w = weights[i];
    const std::string path = absl::StrCat("weights[", i, "]");
    if (!std::isfinite(w.weight()) || w.weight() <= 0 || w.weight() > 100) {
      return Bad(absl::StrCat(path, ".weight"),
                 absl::StrCat(w.weight(), " must be in (0, 100]"));
    }
    if (w.touchpoint().size() > 128 || w.type().size() > 66) {
      return Bad(path, "type or touchpoint too long");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateSegments(
    const google::protobuf::RepeatedPtrField<SegmentRule>& segments) {
  const auto& features = SegmentFeatures();
  absl::flat_hash_set<std::string> names;
  for (int i = 0; i < segments.size(); ++i) {
    const SegmentRule& rule = segments[i];
    const std::string path = absl::StrCat("segments[", i, "]");
    if (!IsSegmentName(rule.name())) {
      return Bad(absl::StrCat(path, ".name"),
                 absl::StrCat("\"", rule.name(),
                              "\" must be 1-64 characters of [a-z0-9_]"));
    }
    if (!names.insert(rule.name()).second) {
      return Bad(absl::StrCat(path, ".name"),
                 absl::StrCat("\"", rule.name(), "\" is defined twice"));
    }
    if (rule.all_size() == 0) {
      return Bad(absl::StrCat(path, ".all"), "needs at least one bound");
    }
    for (int j = 0; j < rule.all_size(); ++j) {
      const auto& b = rule.all(j);
      const std::string bpath = absl::StrCat(path, ".all[", j, "]");
      if (std::find(features.begin(), features.end(), b.feature()) ==
          features.end()) {
        return Bad(absl::StrCat(bpath, ".feature"),
                   absl::StrCat("\"", b.feature(),
                                "\" is not a feature (see docs/journey.md)"));
      }
      if (!b.has_min() && !b.has_max()) {
        return Bad(bpath, "needs min or max");
      }
      if ((b.has_min() && !std::isfinite(b.min())) ||
          (b.has_max() && !std::isfinite(b.max())) ||
          (b.has_min() && b.has_max() && b.min() > b.max())) {
        return Bad(bpath, "min and max must be finite with min <= max");
      }
    }
  }

  return absl::OkStatus();
}

absl::StatusOr<CompiledModel> CompileModel(JourneyModel model) {
  CompiledModel out;
  OMNICX_RETURN_IF_ERROR(ValidateWeights(model.weights()));
  OMNICX_ASSIGN_OR_RETURN(
      out.positive_half_life_,
      PositiveDuration("positive_half_life", model.positive_half_life()));
  OMNICX_ASSIGN_OR_RETURN(
      out.negative_half_life_,
      PositiveDuration("negative_half_life", model.negative_half_life()));

  const HealthModel& h = model.health();
  if (!std::isfinite(h.intercept())) {
    return Bad("health.intercept", "must be finite");
  }
  OMNICX_RETURN_IF_ERROR(
      CheckCoefficients("health.experience", h.experience()));
  OMNICX_RETURN_IF_ERROR(CheckCoefficients("health.effort", h.effort()));
  OMNICX_RETURN_IF_ERROR(
      CheckCoefficients("health.engagement", h.engagement()));
  OMNICX_RETURN_IF_ERROR(CheckCoefficients("health.value", h.value()));

  const ChurnModel& c = model.churn();
  if (!std::isfinite(c.intercept())) {
    return Bad("churn.intercept", "must be finite");
  }
  OMNICX_RETURN_IF_ERROR(CheckCoefficients("churn.experience", c.experience()));
  OMNICX_RETURN_IF_ERROR(CheckCoefficients("churn.effort", c.effort()));
  OMNICX_RETURN_IF_ERROR(CheckCoefficients("churn.engagement", c.engagement()));
  OMNICX_RETURN_IF_ERROR(CheckCoefficients("churn.value", c.value()));
  if (!(c.recovery_cap() >= 0 && c.recovery_cap() < 1)) {
    return Bad("churn.recovery_cap",
               absl::StrCat(c.recovery_cap(),
                            " must be in [0, 1) (one act of recovery never "
                            "erases a lapse)"));
  }
  OMNICX_RETURN_IF_ERROR(CheckNonNegative("churn.open_case", c.open_case()));
  OMNICX_RETURN_IF_ERROR(CheckNonNegative("churn.idle_month", c.idle_month()));

  const auto& s = model.stages();
  if (!(s.at_risk_churn() > 0 && s.at_risk_churn() < 1)) {
    return Bad("stages.at_risk_churn",
               absl::StrCat(s.at_risk_churn(), " must be in (0, 1)"));
  }
  OMNICX_ASSIGN_OR_RETURN(
      out.churned_after_idle_,
      PositiveDuration("stages.churned_after_idle", s.churned_after_idle()));
  OMNICX_ASSIGN_OR_RETURN(
      out.onboarding_period_,
      PositiveDuration("stages.onboarding_period", s.onboarding_period()));
  if (s.loyal_purchases() < 1) {
    return Bad("stages.loyal_purchases",
               absl::StrCat(s.loyal_purchases(), " must be at least 1"));
  }
  if (!(s.loyal_min_health() >= 0 && s.loyal_min_health() <= 100)) {
    return Bad("stages.loyal_min_health",
               absl::StrCat(s.loyal_min_health(), " must be in [0, 100]"));
  }
  if (s.promoter_nps() < 0 || s.promoter_nps() > 10) {
    return Bad("stages.promoter_nps",
               absl::StrCat(s.promoter_nps(), " must be in [0, 10]"));
  }

  OMNICX_RETURN_IF_ERROR(ValidateSegments(model.segments()));

  const auto& p = model.pain_points();
  OMNICX_RETURN_IF_ERROR(
      CheckNonNegative("pain_points.negative_rate", p.negative_rate()));
  OMNICX_RETURN_IF_ERROR(
      CheckNonNegative("pain_points.repeat_contact", p.repeat_contact()));
  OMNICX_RETURN_IF_ERROR(CheckNonNegative("pain_points.wait", p.wait()));
  OMNICX_RETURN_IF_ERROR(
      CheckNonNegative("pain_points.churn_lift", p.churn_lift()));
  if (p.negative_rate() + p.repeat_contact() + p.wait() + p.churn_lift() <= 0) {
    return Bad("pain_points", "at least one severity weight must be > 0");
  }
  OMNICX_ASSIGN_OR_RETURN(
      out.pain_wait_full_,
      PositiveDuration("pain_points.wait_full", p.wait_full()));
  if (!(p.churn_lift_full() > 0 && p.churn_lift_full() <= 1)) {
    return Bad("pain_points.churn_lift_full",
               absl::StrCat(p.churn_lift_full(), " must be in (0, 1]"));
  }
  if (model.max_drivers() < 1 || model.max_drivers() > 1000) {
    return Bad("max_drivers",
               absl::StrCat(model.max_drivers(), " must be in [1, 1000]"));
  }
  if (model.max_cases() < 1 || model.max_cases() > 1000) {
    return Bad("max_cases",
               absl::StrCat(model.max_cases(), " must be in [1, 1000]"));
  }
  OMNICX_RETURN_IF_ERROR(
      CheckNonNegative("repeat_contact_effort", model.repeat_contact_effort()));
  OMNICX_RETURN_IF_ERROR(
      CheckNonNegative("channel_switch_effort", model.channel_switch_effort()));
  for (int i = 0; i < model.churn_labels_size(); ++i) {
    const std::string& label = model.churn_labels(i);
    if (label.empty() || label.size() > 66) {
      return Bad(absl::StrCat("churn_labels[", i, "]"),
                 "must be an event type of 1-66 characters");
    }
    out.churn_labels_.insert(label);
  }
  for (int i = 0; i < model.owners_size(); ++i) {
    const auto& o = model.owners(i);
    const std::string path = absl::StrCat("owners[", i, "]");
    if (o.team().empty() || o.team().size() > 64) {
      return Bad(absl::StrCat(path, ".team"), "must be 1-64 characters");
    }
    if (o.touchpoint().empty() && o.type().empty() &&
        o.channel() == omnicx::v1::CHANNEL_UNSPECIFIED) {
      return Bad(path, "needs a touchpoint, type or channel");
    }
  }
  const auto& l = model.learning();
  if (!(l.learning_rate() > 0 && l.learning_rate() <= 10)) {
    return Bad("learning.learning_rate",
               absl::StrCat(l.learning_rate(), " must be in (0, 10]"));
  }
  if (!(l.shrinkage() >= 0 && l.shrinkage() <= 100)) {
    return Bad("learning.shrinkage",
               absl::StrCat(l.shrinkage(), " must be in [0, 100]"));
  }
  out.proto_ = std::move(model);
  return out;
}

absl::StatusOr<CompiledModel> LoadJourneyModelFromYaml(
    absl::string_view yaml, absl::string_view source) {
  auto fail = [&](const absl::Status& s) {
    return absl::InvalidArgumentError(
        absl::StrCat("journey model ", source, ": ", s.message()));
  };
  // The file's own lists are checked first, so errors carry its indexes.
  JourneyModel file;
  absl::Status parsed = config::MergeYaml(yaml, source, &file);
  if (parsed.ok()) parsed = ValidateWeights(file.weights());
  if (parsed.ok()) parsed = ValidateSegments(file.segments());
  if (!parsed.ok()) return fail(parsed);
  // Scalars replace defaults; weights are added after the defaults (so they
  // win ties); a segment replaces the default of the same name.
  JourneyModel model = DefaultJourneyModel();
  parsed = config::MergeYaml(yaml, source, &model);
  if (!parsed.ok()) return fail(parsed);
  google::protobuf::RepeatedPtrField<SegmentRule> segments;
  for (int i = 0; i < model.segments_size(); ++i) {
    bool replaced = false;
    for (int j = i + 1; j < model.segments_size(); ++j) {
      replaced |= model.segments(j).name() == model.segments(i).name();
    }
    if (!replaced) *segments.Add() = model.segments(i);
  }
  *model.mutable_segments() = std::move(segments);
  // A file's label list replaces the default one.
  if (file.churn_labels_size() > 0) {
    *model.mutable_churn_labels() = file.churn_labels();
  }
  absl::StatusOr<CompiledModel> compiled = CompileModel(std::move(model));
  if (!compiled.ok()) return fail(compiled.status());
  return compiled;
}

absl::StatusOr<CompiledModel> LoadJourneyModel(const std::string& path) {
  if (path.empty()) return CompileModel(DefaultJourneyModel());
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("journey model ", path, ": cannot be read"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return LoadJourneyModelFromYaml(text.str(), path);
}

}  // namespace omnicx::journey
