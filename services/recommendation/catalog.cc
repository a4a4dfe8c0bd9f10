#include "services/recommendation/catalog.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/config/proto_loader.h"
#include "libs/logging/log.h"

namespace omnicx::recommendation {
namespace {

using status::FieldViolation;

constexpr int64_t kMaxSeconds = 366LL * 24 * 3600;

// 1–64 characters of [a-z0-9_-]: action ids and consent purposes (the same
// rule as ProfileService.SetConsent's purpose).
bool IsLowerName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (unsigned char c : s) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' ||
          c == '-')) {
      return false;
    }
  }
  return true;
}

bool InRange(double v, double lo, double hi) {
  return std::isfinite(v) && v >= lo && v <= hi;
}

void CheckBounds(const std::string& path, bool has_min, double min,
                 bool has_max, double max, double lo, double hi,
                 std::vector<FieldViolation>* out, absl::string_view name) {
  const std::string range = absl::StrCat("must be between ", lo, " and ", hi);
  if (has_min && !InRange(min, lo, hi)) {
    out->push_back({absl::StrCat(path, ".min_", name), range});
  }
  if (has_max && !InRange(max, lo, hi)) {
    out->push_back({absl::StrCat(path, ".max_", name), range});
  }
  if (has_min && has_max && InRange(min, lo, hi) && InRange(max, lo, hi) &&
      min > max) {
    out->push_back({absl::StrCat(path, ".min_", name),
                    absl::StrCat("must not exceed max_", name)});
  }
}

// The default catalog: 14 actions over all seven kinds; the sales and
// win-back actions need the `marketing` consent purpose; two education
// actions are the fallback. Documented in docs/recommendation.md.
constexpr absl::string_view kDefaultCatalogYaml = R"yaml(
actions:
  - action_id: recovery_apology_credit
    kind: ACTION_KIND_SERVICE_RECOVERY
    name: Apology with service credit
    channels: [CHANNEL_EMAIL, CHANNEL_SMS, CHANNEL_MOBILE_APP, CHANNEL_VOICE, CHANNEL_CHAT]
    eligibility: {has_open_case: true}
    value: 40
    lever: 1.2
    prior_accept_rate: 0.35
    talking_points: "Acknowledge the open issue by name, apologise once, and offer the service credit before anything else."
    policy: {max_per_window: 2, window_seconds: 2592000, cooldown_seconds: 259200}
  - action_id: recovery_agent_followup
    kind: ACTION_KIND_SERVICE_RECOVERY
    name: Agent-led resolution follow-up
    channels: [CHANNEL_VOICE, CHANNEL_CHAT]
    eligibility: {has_open_case: true}
    value: 60
    lever: 1.5
    prior_accept_rate: 0.5
    agent_led: true
    talking_points: "Own the case: summarise every contact so far, give a firm resolution date and your direct line."
    policy: {max_per_window: 3, window_seconds: 604800}
  - action_id: callback_senior_agent
    kind: ACTION_KIND_HUMAN_CALLBACK
    name: Callback from a senior agent
    channels: [CHANNEL_VOICE, CHANNEL_CHAT, CHANNEL_EMAIL, CHANNEL_SMS, CHANNEL_MOBILE_APP]
    eligibility: {max_health: 45}
    value: 80
    prior_accept_rate: 0.45
    talking_points: "Offer a callback from a senior agent at a time the customer chooses; confirm the number and the problem in their words."
    policy: {max_per_window: 1, window_seconds: 604800, cooldown_seconds: 604800}
  - action_id: retention_discount_20
    kind: ACTION_KIND_RETENTION_OFFER
    name: 20% retention discount for 6 months
    channels: [CHANNEL_VOICE, CHANNEL_CHAT, CHANNEL_EMAIL]
    eligibility: {min_churn_risk: 0.5, stages: [STAGE_ENGAGED, STAGE_LOYAL, STAGE_ADVOCATE, STAGE_AT_RISK]}
    required_consent: marketing
    value: 120
    prior_accept_rate: 0.25
    talking_points: "Thank them for their time with us; offer 20% off for six months, no strings attached."
    policy: {max_per_window: 1, window_seconds: 2592000, cooldown_seconds: 2592000}
  - action_id: retention_loyalty_bonus
    kind: ACTION_KIND_RETENTION_OFFER
    name: Loyalty points bonus
    channels: [CHANNEL_EMAIL, CHANNEL_MOBILE_APP, CHANNEL_VOICE, CHANNEL_CHAT]
    eligibility: {min_churn_risk: 0.3, stages: [STAGE_LOYAL, STAGE_ADVOCATE, STAGE_AT_RISK]}
    required_consent: marketing
    value: 70
    prior_accept_rate: 0.3
    talking_points: "Add the loyalty bonus and say how many points they now have and what it buys."
    policy: {max_per_window: 1, window_seconds: 2592000, cooldown_seconds: 1209600}
  - action_id: cross_sell_premium_upgrade
    kind: ACTION_KIND_CROSS_SELL
    name: Premium plan upgrade
    eligibility: {min_health: 70, max_churn_risk: 0.3, stages: [STAGE_ENGAGED, STAGE_LOYAL, STAGE_ADVOCATE]}
    required_consent: marketing
    value: 150
    prior_accept_rate: 0.08
    talking_points: "Only if the customer is happy: mention the premium plan's one benefit that matches how they use us."
    policy: {max_per_window: 2, window_seconds: 2592000, cooldown_seconds: 1209600}
  - action_id: cross_sell_accessory_bundle
    kind: ACTION_KIND_CROSS_SELL
    name: Accessory bundle
    channels: [CHANNEL_WEB, CHANNEL_MOBILE_APP, CHANNEL_EMAIL, CHANNEL_STORE]
    eligibility: {min_health: 50, stages: [STAGE_PURCHASE, STAGE_ONBOARDING, STAGE_ENGAGED]}
    required_consent: marketing
    value: 45
    prior_accept_rate: 0.12
    talking_points: "Suggest the bundle that completes their last purchase."
    policy: {max_per_window: 2, window_seconds: 604800, cooldown_seconds: 604800}
  - action_id: education_onboarding_tips
    kind: ACTION_KIND_EDUCATION
    name: Getting-started tips
    channels: [CHANNEL_EMAIL, CHANNEL_MOBILE_APP, CHANNEL_IN_PRODUCT, CHANNEL_WEB, CHANNEL_VOICE, CHANNEL_CHAT]
    eligibility: {stages: [STAGE_PURCHASE, STAGE_ONBOARDING]}
    value: 10
    prior_accept_rate: 0.3
    talking_points: "Walk through the three things new customers most often miss."
    policy: {max_per_window: 3, window_seconds: 1209600}
  - action_id: education_self_service_guide
    kind: ACTION_KIND_EDUCATION
    name: Self-service guide
    value: 5
    prior_accept_rate: 0.2
    fallback: true
    talking_points: "Point to the self-service guide for the topic they called about."
    policy: {max_per_window: 3, window_seconds: 604800}
  - action_id: education_account_security
    kind: ACTION_KIND_EDUCATION
    name: Account security check-up
    value: 4
    prior_accept_rate: 0.15
    fallback: true
    talking_points: "Offer a two-minute security check-up: contact details, two-step sign-in."
    policy: {max_per_window: 1, window_seconds: 2592000}
  - action_id: outreach_case_update
    kind: ACTION_KIND_PROACTIVE_OUTREACH
    name: Proactive case status update
    channels: [CHANNEL_EMAIL, CHANNEL_SMS, CHANNEL_MOBILE_APP, CHANNEL_VOICE, CHANNEL_CHAT]
    eligibility: {has_open_case: true}
    value: 15
    prior_accept_rate: 0.4
    talking_points: "Tell them where their case stands before they have to ask."
    policy: {max_per_window: 2, window_seconds: 259200}
  - action_id: outreach_win_back
    kind: ACTION_KIND_PROACTIVE_OUTREACH
    name: Win-back outreach
    channels: [CHANNEL_EMAIL, CHANNEL_SMS]
    eligibility: {stages: [STAGE_AT_RISK, STAGE_CHURNED], has_open_case: false}
    required_consent: marketing
    value: 90
    prior_accept_rate: 0.05
    talking_points: "Say what changed since they left, with one reason to come back."
    policy: {max_per_window: 1, window_seconds: 2592000, cooldown_seconds: 5184000}
  - action_id: survey_post_resolution
    kind: ACTION_KIND_SURVEY
    name: Post-resolution satisfaction survey
    channels: [CHANNEL_EMAIL, CHANNEL_SMS, CHANNEL_MOBILE_APP]
    eligibility: {has_open_case: false, min_health: 40}
    value: 3
    prior_accept_rate: 0.2
    talking_points: "Ask two questions about the last contact; no more."
    policy: {max_per_window: 1, window_seconds: 2592000, cooldown_seconds: 2592000}
  - action_id: survey_nps_relationship
    kind: ACTION_KIND_SURVEY
    name: Relationship NPS survey
    channels: [CHANNEL_EMAIL, CHANNEL_MOBILE_APP, CHANNEL_WEB]
    eligibility: {stages: [STAGE_ENGAGED, STAGE_LOYAL, STAGE_ADVOCATE], has_open_case: false}
    required_consent: research
    value: 2
    prior_accept_rate: 0.15
    talking_points: "One question: how likely are they to recommend us."
    policy: {max_per_window: 1, window_seconds: 7776000}
)yaml";

}  // namespace

std::string KindName(omnicx::v1::ActionKind kind) {
  const std::string& name = omnicx::v1::ActionKind_Name(kind);
  constexpr absl::string_view kPrefix = "ACTION_KIND_";
  if (name.size() <= kPrefix.size()) return "unknown";
  return absl::AsciiStrToLower(name.substr(kPrefix.size()));
}

bool IsSalesKind(omnicx::v1::ActionKind kind) {
  return kind == omnicx::v1::ACTION_KIND_CROSS_SELL ||
         kind == omnicx::v1::ACTION_KIND_RETENTION_OFFER;
}

bool IsAgentLed(const Action& action) {
  return action.kind() == omnicx::v1::ACTION_KIND_HUMAN_CALLBACK ||
         (action.kind() == omnicx::v1::ACTION_KIND_SERVICE_RECOVERY &&
          action.agent_led());
}

double EffectiveLever(const Action& action) {
  return action.lever() == 0 ? 1.0 : action.lever();
}

int64_t EffectiveWindowSeconds(const Action& action) {
  return action.policy().window_seconds() == 0
             ? kDefaultWindowSeconds
             : action.policy().window_seconds();
}

std::vector<FieldViolation> ValidateAction(const Action& a,
                                           absl::string_view path) {
  std::vector<FieldViolation> out;
  auto field = [&](absl::string_view name) {
    return absl::StrCat(path, path.empty() ? "" : ".", name);
  };
  if (!IsLowerName(a.action_id())) {
    out.push_back(
        {field("action_id"), "must be 1-64 characters of a-z 0-9 _ -"});
  }
  if (a.kind() == omnicx::v1::ACTION_KIND_UNSPECIFIED ||
      !omnicx::v1::ActionKind_IsValid(a.kind())) {
    out.push_back({field("kind"), "must be one of the seven action kinds"});
  }
  if (a.name().size() > 128) {
    out.push_back({field("name"), "must be at most 128 bytes"});
  }
  absl::flat_hash_set<int> channels;
  for (int i = 0; i < a.channels_size(); ++i) {
    const int c = a.channels(i);
    if (c == omnicx::v1::CHANNEL_UNSPECIFIED ||
        !omnicx::v1::Channel_IsValid(c)) {
      out.push_back({absl::StrCat(field("channels"), "[", i, "]"),
                     "must be a specified channel"});
    } else if (!channels.insert(c).second) {
      out.push_back(
          {absl::StrCat(field("channels"), "[", i, "]"), "is repeated"});
    }
  }
  const omnicx::v1::Eligibility& e = a.eligibility();
  const std::string ep = field("eligibility");
  for (int i = 0; i < e.stages_size(); ++i) {
    if (e.stages(i) == omnicx::v1::STAGE_UNSPECIFIED ||
        !omnicx::v1::Stage_IsValid(e.stages(i))) {
      out.push_back(
          {absl::StrCat(ep, ".stages[", i, "]"), "must be a specified stage"});
    }
  }
  for (const auto* list : {&e.segments_any(), &e.segments_none()}) {
    const char* name =
        list == &e.segments_any() ? "segments_any" : "segments_none";
    for (int i = 0; i < list->size(); ++i) {
      const std::string& s = list->Get(i);
      if (s.empty() || s.size() > 64) {
        out.push_back(
            {absl::StrCat(ep, ".", name, "[", i, "]"), "must be 1-64 bytes"});
      }
    }
  }
  CheckBounds(ep, e.has_min_health(), e.min_health(), e.has_max_health(),
              e.max_health(), 0, 100, &out, "health");
  CheckBounds(ep, e.has_min_churn_risk(), e.min_churn_risk(),
              e.has_max_churn_risk(), e.max_churn_risk(), 0, 1, &out,
              "churn_risk");
  if (!a.required_consent().empty() && !IsLowerName(a.required_consent())) {
    out.push_back({field("required_consent"),
                   "must be empty or 1-64 characters of a-z 0-9 _ -"});
  }
  if (!std::isfinite(a.value()) || a.value() <= 0 || a.value() > 1e9) {
    out.push_back({field("value"), "must be > 0 and at most 1e9"});
  }
  if (!InRange(a.lever(), 0, 100)) {
    out.push_back({field("lever"), "must be between 0 and 100 (0 means 1)"});
  }
  if (!InRange(a.prior_accept_rate(), 0, 1)) {
    out.push_back({field("prior_accept_rate"), "must be between 0 and 1"});
  }
  if (a.talking_points().size() > 2000) {
    out.push_back({field("talking_points"), "must be at most 2000 bytes"});
  }
  const omnicx::v1::ContactPolicy& p = a.policy();
  if (p.max_per_window() < 0 || p.max_per_window() > 1000) {
    out.push_back(
        {field("policy.max_per_window"), "must be between 0 and 1000"});
  }
  if (p.window_seconds() < 0 || p.window_seconds() > kMaxSeconds) {
    out.push_back({field("policy.window_seconds"),
                   absl::StrCat("must be between 0 and ", kMaxSeconds,
                                " (0 means 7 days)")});
  }
  if (p.cooldown_seconds() < 0 || p.cooldown_seconds() > kMaxSeconds) {
    out.push_back({field("policy.cooldown_seconds"),
                   absl::StrCat("must be between 0 and ", kMaxSeconds)});
  }
  if (a.fallback() && !a.required_consent().empty()) {
    out.push_back({field("fallback"),
                   "a fallback action must need no consent (fallbacks are "
                   "answered without the profile)"});
  }
  return out;
}

absl::Status ValidateCatalog(const ActionCatalog& catalog,
                             absl::string_view source) {
  std::vector<FieldViolation> out;
  if (catalog.actions_size() == 0) {
    out.push_back({"actions", "must list at least one action"});
  }
  if (catalog.actions_size() > kMaxCatalogActions) {
    out.push_back({"actions", absl::StrCat("must list at most ",
                                           kMaxCatalogActions, " actions")});
  }
  absl::flat_hash_set<std::string> ids;
  for (int i = 0; i < catalog.actions_size(); ++i) {
    const std::string path = absl::StrCat("actions[", i, "]");
    for (FieldViolation& v : ValidateAction(catalog.actions(i), path)) {
      out.push_back(std::move(v));
    }
    if (!catalog.actions(i).action_id().empty() &&
        !ids.insert(catalog.actions(i).action_id()).second) {
      out.push_back({path + ".action_id",
                     absl::StrCat("\"", catalog.actions(i).action_id(),
                                  "\" is used by an earlier action")});
    }
  }
  if (out.empty()) return absl::OkStatus();
  return status::InvalidArgumentError(
      absl::StrCat(source, ": invalid action catalog: ", out[0].field, ": ",
                   out[0].description),
      out);
}

absl::StatusOr<ActionCatalog> ParseCatalogYaml(absl::string_view yaml,
                                               absl::string_view source) {
  ActionCatalog catalog;
  absl::Status s = config::MergeYaml(yaml, source, &catalog);
  if (!s.ok()) return s;
  s = ValidateCatalog(catalog, source);
  if (!s.ok()) return s;
  return catalog;
}

absl::StatusOr<ActionCatalog> LoadCatalogFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read action catalog ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseCatalogYaml(text.str(), path);
}

absl::string_view DefaultCatalogYaml() { return kDefaultCatalogYaml; }

const ActionCatalog& DefaultCatalog() {
  static const ActionCatalog* const catalog = [] {
    absl::StatusOr<ActionCatalog> parsed =
        ParseCatalogYaml(kDefaultCatalogYaml, "default catalog");
    if (!parsed.ok()) {
      // Covered by tests; a broken built-in catalog is a build defect.
      OMNICX_LOG(kError) << parsed.status();
      std::abort();
    }
    return new ActionCatalog(std::move(*parsed));
  }();
  return *catalog;
}

}  // namespace omnicx::recommendation
