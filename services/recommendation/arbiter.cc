#include "services/recommendation/arbiter.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "services/recommendation/catalog.h"

namespace omnicx::recommendation {
namespace {

using omnicx::v1::Action;

std::string StageName(int stage) {
  const std::string& name =
      omnicx::v1::Stage_Name(static_cast<omnicx::v1::Stage>(stage));
  return name.size() > 6 ? name.substr(6) : name;  // drop "STAGE_"
}

std::string ChannelName(omnicx::v1::Channel channel) {
  const std::string& name = omnicx::v1::Channel_Name(channel);
  return absl::AsciiStrToLower(name.size() > 8 ? name.substr(8) : name);
}

bool NeedsJourney(const omnicx::v1::Eligibility& e) {
  return e.stages_size() > 0 || e.segments_any_size() > 0 ||
         e.segments_none_size() > 0 || e.has_min_health() ||
         e.has_max_health() || e.has_min_churn_risk() ||
         e.has_max_churn_risk() || e.has_has_open_case();
}

bool HasSegment(const CustomerFeatures& c, const std::string& s) {
  return std::find(c.segments.begin(), c.segments.end(), s) != c.segments.end();
}

// The eligibility failure, or ""; matched conditions go to `matched`.
// Without `matched` (the hot path) a failure is only its class, unformatted.
std::string EligibilityReason(const omnicx::v1::Eligibility& e,
                              const CustomerFeatures& c,
                              std::vector<std::string>* matched) {
  if (!NeedsJourney(e)) return "";
  if (!c.has_journey) return "eligibility:journey unavailable";
  const bool detail = matched != nullptr;
  auto note = [matched](std::string text) {
    if (matched != nullptr) matched->push_back(std::move(text));
  };
  if (e.stages_size() > 0) {
    bool in = false;
    std::vector<std::string> names;
    for (int s : e.stages()) {
      in = in || s == c.stage;
      if (detail) names.push_back(StageName(s));
    }
    if (!in) {
      if (!detail) return "eligibility";
      return absl::StrCat("eligibility:stage ", StageName(c.stage), " not in [",
                          absl::StrJoin(names, ", "), "]");
    }
    if (detail) note(absl::StrCat("stage ", StageName(c.stage)));
  }
  if (e.segments_any_size() > 0) {
    std::string hit;
    for (const std::string& s : e.segments_any()) {
      if (HasSegment(c, s)) {
        hit = s;
        break;
      }
    }
    if (hit.empty()) {
      if (!detail) return "eligibility";
      return absl::StrCat("eligibility:none of segments [",
                          absl::StrJoin(e.segments_any(), ", "), "]");
    }
    if (detail) note(absl::StrCat("segment ", hit));
  }
  for (const std::string& s : e.segments_none()) {
    if (HasSegment(c, s)) {
      return detail ? absl::StrCat("eligibility:segment ", s) : "eligibility";
    }
  }
  if (e.has_min_health() && c.health < e.min_health()) {
    if (!detail) return "eligibility";
    return absl::StrFormat("eligibility:health %.0f below %.0f", c.health,
                           e.min_health());
  }
  if (e.has_max_health() && c.health > e.max_health()) {
    if (!detail) return "eligibility";
    return absl::StrFormat("eligibility:health %.0f above %.0f", c.health,
                           e.max_health());
  }
  if (e.has_min_health() || e.has_max_health()) {
    if (detail) note(absl::StrFormat("health %.0f", c.health));
  }
  if (e.has_min_churn_risk() && c.churn_risk < e.min_churn_risk()) {
    if (!detail) return "eligibility";
    return absl::StrFormat("eligibility:churn risk %.2f below %.2f",
                           c.churn_risk, e.min_churn_risk());
  }
  if (e.has_max_churn_risk() && c.churn_risk > e.max_churn_risk()) {
    if (!detail) return "eligibility";
    return absl::StrFormat("eligibility:churn risk %.2f above %.2f",
                           c.churn_risk, e.max_churn_risk());
  }
  if (e.has_min_churn_risk() || e.has_max_churn_risk()) {
    if (detail) note(absl::StrFormat("churn risk %.2f", c.churn_risk));
  }
  if (e.has_has_open_case()) {
    if (e.has_open_case() && c.open_cases == 0) {
      return "eligibility:no open case";
    }
    if (!e.has_open_case() && c.open_cases > 0) {
      if (!detail) return "eligibility";
      return absl::StrCat("eligibility:", c.open_cases, " open case(s)");
    }
    if (detail) {
      note(e.has_open_case() ? absl::StrCat(c.open_cases, " open case(s)")
                             : "no open case");
    }
  }
  return "";
}

std::string Gate(const Action& a, const CustomerFeatures& c,
                 omnicx::v1::Channel channel,
                 std::vector<std::string>* matched) {
  if (a.disabled()) return "disabled";
  const bool detail = matched != nullptr;
  if (channel != omnicx::v1::CHANNEL_UNSPECIFIED && a.channels_size() > 0 &&
      std::find(a.channels().begin(), a.channels().end(), channel) ==
          a.channels().end()) {
    if (!detail) return "channel";
    return absl::StrCat("channel:not deliverable on ", ChannelName(channel));
  }
  if (!a.required_consent().empty()) {
    if (!c.consents.contains(a.required_consent())) {
      if (!detail) return "consent";
      return absl::StrCat("consent:", a.required_consent(), " missing",
                          c.has_profile ? "" : " (profile unavailable)");
    }
    if (detail) {
      matched->push_back(absl::StrCat("consent ", a.required_consent()));
    }
  }
  std::string eligibility = EligibilityReason(a.eligibility(), c, matched);
  if (!eligibility.empty()) {
    return detail || eligibility == "eligibility" ? eligibility : "eligibility";
  }
  if (IsSalesKind(a.kind())) {
    if (!c.has_journey) {
      if (!detail) return "policy";
      return "policy:complaint status unknown (journey unavailable), no "
             "sales";
    }
    if (c.complaint_open) {
      if (!detail) return "policy";
      return "policy:complaint open, service recovery first";
    }
  }
  return "";
}

}  // namespace

std::string GateReason(const Action& action, const CustomerFeatures& customer,
                       omnicx::v1::Channel channel) {
  std::vector<std::string> matched;
  return Gate(action, customer, channel, &matched);
}

double IntentFactor(absl::string_view intent, omnicx::v1::ActionKind kind) {
  using omnicx::v1::ActionKind;
  struct Boost {
    absl::string_view intent;
    ActionKind kind;
    double factor;
  };
  static constexpr Boost kBoosts[] = {
      {"retention", omnicx::v1::ACTION_KIND_RETENTION_OFFER, 1.5},
      {"retention", omnicx::v1::ACTION_KIND_HUMAN_CALLBACK, 1.3},
      {"inbound_call", omnicx::v1::ACTION_KIND_SERVICE_RECOVERY, 1.2},
      {"inbound_call", omnicx::v1::ACTION_KIND_HUMAN_CALLBACK, 1.2},
      {"agent_console", omnicx::v1::ACTION_KIND_SERVICE_RECOVERY, 1.2},
      {"agent_console", omnicx::v1::ACTION_KIND_HUMAN_CALLBACK, 1.2},
      {"service", omnicx::v1::ACTION_KIND_SERVICE_RECOVERY, 1.5},
      {"service", omnicx::v1::ACTION_KIND_PROACTIVE_OUTREACH, 1.2},
      {"web_banner", omnicx::v1::ACTION_KIND_CROSS_SELL, 1.2},
      {"web_banner", omnicx::v1::ACTION_KIND_EDUCATION, 1.2},
      {"in_app", omnicx::v1::ACTION_KIND_CROSS_SELL, 1.2},
      {"in_app", omnicx::v1::ACTION_KIND_EDUCATION, 1.2},
      {"survey", omnicx::v1::ACTION_KIND_SURVEY, 1.5},
  };
  for (const Boost& b : kBoosts) {
    if (b.intent == intent && b.kind == kind) return b.factor;
  }
  return 1.0;
}

double ContextWeight(const Action& action, const CustomerFeatures& c,
                     std::string* why) {
  const double intent = IntentFactor(c.intent, action.kind());
  auto with_intent = [&](std::string text) {
    if (intent != 1.0) {
      absl::StrAppend(&text,
                      absl::StrFormat("; intent %s ×%g", c.intent, intent));
    }
    return text;
  };
  if (!c.has_journey) {
    if (why != nullptr) *why = with_intent("no journey features");
    return intent;
  }
  const bool open = c.open_cases > 0;
  double w = 1.0;
  std::string text;
  switch (action.kind()) {
    case omnicx::v1::ACTION_KIND_SERVICE_RECOVERY:
      w = 1.0 + (open ? 1.0 : 0.0) + (100.0 - c.health) / 100.0;
      text =
          absl::StrFormat("%shealth %.0f", open ? "open case, " : "", c.health);
      break;
    case omnicx::v1::ACTION_KIND_HUMAN_CALLBACK:
      w = 1.0 + (open ? 1.0 : 0.0) + c.churn_risk;
      text = absl::StrFormat("%schurn risk %.2f", open ? "open case, " : "",
                             c.churn_risk);
      break;
    case omnicx::v1::ACTION_KIND_RETENTION_OFFER:
      w = 1.0 + 2.0 * c.churn_risk;
      text = absl::StrFormat("churn risk %.2f", c.churn_risk);
      break;
    case omnicx::v1::ACTION_KIND_PROACTIVE_OUTREACH:
      w = 1.0 + (open ? 0.5 : 0.0) + 0.5 * c.churn_risk;
      text = absl::StrFormat("%schurn risk %.2f", open ? "open case, " : "",
                             c.churn_risk);
      break;
    case omnicx::v1::ACTION_KIND_CROSS_SELL:
      w = 0.5 + c.health / 100.0;
      text = absl::StrFormat("health %.0f", c.health);
      break;
    case omnicx::v1::ACTION_KIND_EDUCATION: {
      const bool early = c.stage == omnicx::v1::STAGE_AWARENESS ||
                         c.stage == omnicx::v1::STAGE_CONSIDERATION ||
                         c.stage == omnicx::v1::STAGE_PURCHASE ||
                         c.stage == omnicx::v1::STAGE_ONBOARDING;
      w = early ? 1.5 : 1.0;
      text = absl::StrCat("stage ", StageName(c.stage));
      break;
    }
    case omnicx::v1::ACTION_KIND_SURVEY:
      w = open ? 0.5 : 1.0;
      text = open ? "open case (survey later)" : "no open case";
      break;
    default:
      break;
  }
  w = std::clamp(w * intent, 0.1, 10.0);
  if (why != nullptr) *why = with_intent(std::move(text));
  return w;
}

std::vector<std::string> CandidateReasons(const Candidate& c,
                                          const CustomerFeatures& customer,
                                          omnicx::v1::Channel channel,
                                          const std::string& segment) {
  std::vector<std::string> matched;
  (void)Gate(*c.action, customer, channel, &matched);
  std::string context_why;
  (void)ContextWeight(*c.action, customer, &context_why);
  std::vector<std::string> reasons;
  reasons.push_back(absl::StrFormat(
      "priority %.4g = propensity %.3f × value %g × context %.2f × lever %g",
      c.score, c.propensity, c.action->value(), c.context_weight, c.lever));
  reasons.push_back(absl::StrFormat(
      "propensity: Thompson sample of Beta(%.2f, %.2f), mean %.3f, segment "
      "%s (%d successes, %d failures)",
      c.posterior.alpha, c.posterior.beta, c.posterior_mean, segment,
      c.successes, c.failures));
  reasons.push_back(absl::StrCat("context: ", context_why));
  if (!matched.empty()) {
    reasons.push_back(absl::StrCat("matched: ", absl::StrJoin(matched, "; ")));
  }
  if (c.human_touch) {
    reasons.push_back(absl::StrFormat(
        "human touch: high-value customer (lifetime value %.0f) after a "
        "severe negative experience: %s",
        customer.lifetime_value, customer.severe_driver));
  }
  return reasons;
}

Arbitration Arbitrate(const std::vector<const Action*>& catalog,
                      const CustomerFeatures& customer,
                      omnicx::v1::Channel channel, const StatsTable& stats,
                      const ArbitrationOptions& options, std::mt19937_64& rng,
                      bool explain) {
  Arbitration out;
  out.segment = customer.has_journey ? LearningSegment(customer.segments)
                                     : std::string(kAllSegments);
  out.human_touch = customer.high_value && customer.severe_negative;
  std::vector<std::string> matched;
  for (const Action* a : catalog) {
    // The hot path formats nothing: suppressions carry their class only
    // unless explained, and reasons are written for the chosen few.
    std::string reason =
        Gate(*a, customer, channel, explain ? &matched : nullptr);
    matched.clear();
    if (!reason.empty()) {
      const size_t colon = reason.find(':');
      ++out.suppressed_by_class[colon == std::string::npos
                                    ? reason
                                    : reason.substr(0, colon)];
      if (explain)
        out.suppressed.push_back({a->action_id(), std::move(reason)});
      continue;
    }
    Candidate c;
    c.action = a;
    const SegmentCounts counts = stats.Find(a->action_id(), out.segment);
    c.posterior = Posterior(*a, counts, options.prior_strength);
    c.successes = counts.successes;
    c.failures = counts.failures;
    c.propensity = SampleBeta(c.posterior.alpha, c.posterior.beta, rng);
    c.posterior_mean = c.posterior.mean();
    c.context_weight = ContextWeight(*a, customer, nullptr);
    c.lever = EffectiveLever(*a);
    c.score = c.propensity * a->value() * c.context_weight * c.lever;
    c.human_touch = out.human_touch && IsAgentLed(*a);
    out.ranked.push_back(std::move(c));
  }
  std::sort(out.ranked.begin(), out.ranked.end(),
            [](const Candidate& a, const Candidate& b) {
              if (a.human_touch != b.human_touch) return a.human_touch;
              if (a.score != b.score) return a.score > b.score;
              return a.action->action_id() < b.action->action_id();
            });
  if (explain) {
    for (Candidate& c : out.ranked) {
      c.reasons = CandidateReasons(c, customer, channel, out.segment);
    }
  }
  return out;
}

std::vector<const Action*> FallbackActions(
    const std::vector<const Action*>& catalog, omnicx::v1::Channel channel) {
  std::vector<const Action*> out;
  for (const Action* a : catalog) {
    if (!a->fallback() || !a->required_consent().empty() || a->disabled()) {
      continue;
    }
    if (channel != omnicx::v1::CHANNEL_UNSPECIFIED && a->channels_size() > 0 &&
        std::find(a->channels().begin(), a->channels().end(), channel) ==
            a->channels().end()) {
      continue;
    }
    out.push_back(a);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Action* a, const Action* b) {
                     return a->value() * EffectiveLever(*a) >
                            b->value() * EffectiveLever(*b);
                   });
  return out;
}

}  // namespace omnicx::recommendation
