#include "tools/journeysim/simulation.h"

#include <algorithm>
#include <cmath>
#include <istream>
#include <ostream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace omnicx::journeysim {
namespace {

using omnicx::v1::Channel;
using omnicx::v1::Interaction;

constexpr int64_t kDay = 86400;
// Damage halves in 90 days: bad experiences are remembered for months.
constexpr double kDamageHalfLifeDays = 90;
// Customers act on a bad experience over about a month (notice periods,
// finding an alternative): the damage they feel follows their damage with
// this time constant, and the churn hazard follows what they feel.
constexpr double kFeltDays = 30;
// A recovery (issue resolved) undoes this share of its incident's damage.
constexpr double kRecoveryShare = 0.3;

enum SessionKind { kBrowse, kBuy, kEngage, kService, kVisit, kRenew, kKinds };

struct PersonaProfile {
  const char* name;
  double sessions_per_day;
  double base_hazard;  // per day, with no damage
  double kind_weights[kKinds];
  std::vector<std::pair<Channel, double>> digital;  // browse and buy online
  std::vector<std::pair<Channel, double>> support;  // contacts about a case
  Channel physical;                                 // store or branch
  double physical_buy_share;
  double email_share;      // customers of this persona who gave an email
  double anonymous_share;  // digital events sent with an anonymous id
  double mean_spend;
  double return_rate;
  double survey_rate;
  double resolve_rate;  // cases that end in issue_resolved
  int start_min_days;   // first touchpoint between these many days before now
  int start_max_days;
};

const PersonaProfile& Profile(Persona p) {
  using namespace omnicx::v1;  // NOLINT: the channel enum values
  static const PersonaProfile kProfiles[kPersonaCount] = {
      {"digital_first",
       0.30,
       0.0001,
       {0.38, 0.17, 0.35, 0.05, 0.01, 0.04},
       {{CHANNEL_WEB, 0.45}, {CHANNEL_MOBILE_APP, 0.45}, {CHANNEL_EMAIL, 0.10}},
       {{CHANNEL_CHAT, 0.6}, {CHANNEL_EMAIL, 0.2}, {CHANNEL_VOICE, 0.2}},
       CHANNEL_STORE,
       0.02,
       0.9,
       0.3,
       60,
       0.08,
       0.25,
       0.6,
       60,
       300},
      {"branch_loyal",
       0.14,
       0.00006,
       {0.08, 0.17, 0.06, 0.12, 0.50, 0.07},
       {{CHANNEL_WEB, 0.6}, {CHANNEL_EMAIL, 0.4}},
       {{CHANNEL_VOICE, 0.5}, {CHANNEL_BRANCH, 0.5}},
       CHANNEL_BRANCH,
       0.8,
       0.4,
       0.1,
       150,
       0.02,
       0.3,
       0.65,
       60,
       300},
      {"b2b_account",
       0.22,
       0.00008,
       {0.15, 0.20, 0.25, 0.22, 0.03, 0.15},
       {{CHANNEL_WEB, 0.5}, {CHANNEL_EMAIL, 0.5}},
       {{CHANNEL_VOICE, 0.5}, {CHANNEL_EMAIL, 0.3}, {CHANNEL_CHAT, 0.2}},
       CHANNEL_STORE,
       0.05,
       1.0,
       0.05,
       900,
       0.02,
       0.35,
       0.7,
       60,
       300},
      {"bargain_hunter",
       0.32,
       0.0002,
       {0.45, 0.18, 0.30, 0.04, 0.02, 0.01},
       {{CHANNEL_WEB, 0.6}, {CHANNEL_MOBILE_APP, 0.2}, {CHANNEL_EMAIL, 0.2}},
       {{CHANNEL_CHAT, 0.7}, {CHANNEL_VOICE, 0.3}},
       CHANNEL_STORE,
       0.1,
       0.8,
       0.4,
       35,
       0.2,
       0.15,
       0.5,
       60,
       300},
      {"new_customer",
       0.60,
       0.00018,
       {0.40, 0.25, 0.18, 0.10, 0.05, 0.02},
       {{CHANNEL_WEB, 0.5}, {CHANNEL_MOBILE_APP, 0.35}, {CHANNEL_EMAIL, 0.15}},
       {{CHANNEL_CHAT, 0.5}, {CHANNEL_VOICE, 0.5}},
       CHANNEL_STORE,
       0.2,
       0.7,
       0.35,
       80,
       0.05,
       0.3,
       0.6,
       2,
       45},
  };
  return kProfiles[static_cast<int>(p)];
}

struct TouchpointInfo {
  const char* name;
  double importance;
  bool can_fail;
};

// The simulator's own view of which touchpoints matter (moments of truth
// weigh most). Independent of any scoring model's configuration.
constexpr TouchpointInfo kTouchpoints[] = {
    {"checkout", 3.0, true},       {"delivery", 3.0, true},
    {"renewal", 2.5, true},        {"billing", 2.0, true},
    {"branch_counter", 1.5, true}, {"store_till", 1.5, true},
    {"login", 1.0, true},          {"returns", 1.5, false},
    {"cart", 1.0, false},          {"home", 0.5, false},
    {"product_page", 0.5, false},  {"search", 0.5, false},
    {"app_home", 0.5, false},      {"newsletter", 0.3, false},
    {"offer", 0.3, false},         {"post_contact_survey", 1.0, false},
    {"account", 1.0, false},
};

std::string RunStamp(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

template <typename T>
T Pick(const std::vector<std::pair<T, double>>& choices, std::mt19937_64& rng) {
  double total = 0;
  for (const auto& c : choices) total += c.second;
  double u = std::uniform_real_distribution<double>(0, total)(rng);
  for (const auto& c : choices) {
    if (u < c.second) return c.first;
    u -= c.second;
  }
  return choices.back().first;
}

class CustomerSimulator {
 public:
  CustomerSimulator(const SimulationConfig& config, int64_t index,
                    Persona persona, double activity, std::mt19937_64& rng)
      : config_(config),
        profile_(Profile(persona)),
        index_(index),
        activity_(activity),
        rng_(rng) {
    truth_.persona = persona;
    truth_.labelled = LabelledCustomer(index, config.label_share);
    truth_.phone =
        absl::StrFormat("+1555%07d", (config.phone_base + index) % 10000000);
    if (Chance(profile_.email_share)) {
      truth_.email =
          absl::StrCat("sim", config.phone_base + index, "@example.com");
    }
    anonymous_id_ =
        absl::StrCat("anon-", config.run_id, "-", config.phone_base + index);
  }

  void Run() {
    const int64_t now = absl::ToUnixSeconds(config_.now);
    const int64_t end = absl::ToUnixSeconds(config_.now + config_.horizon);
    const int max_back = std::min<int>(
        profile_.start_max_days,
        static_cast<int>(absl::ToInt64Hours(config_.history) / 24));
    const int min_back = std::min(profile_.start_min_days, max_back);
    const int back_days =
        std::uniform_int_distribution<int>(min_back, max_back)(rng_);
    const int64_t start = now - int64_t{back_days} * kDay +
                          std::uniform_int_distribution<int64_t>(0, kDay)(rng_);
    start_ = start;
    truth_.first_seen = absl::FromUnixSeconds(start);
    const double decay = std::exp2(-1.0 / kDamageHalfLifeDays);
    // Every customer's first touchpoint: how they arrived.
    Browse(start, /*first=*/true);
    for (int64_t day = start; day < end; day += kDay) {
      damage_ *= decay;
      felt_ += (damage_ - felt_) / kFeltDays;
      if (day <= now && day + kDay > now) {
        truth_.damage_at_now = damage_;
        truth_.hazard_at_now = DailyChurnHazard(truth_.persona, felt_);
      }
      if (day > start && Chance(DailyChurnHazard(truth_.persona, felt_))) {
        Churn(day + std::uniform_int_distribution<int64_t>(0, kDay - 1)(rng_));
        break;
      }
      const double rate =
          profile_.sessions_per_day * activity_ / (1 + 0.35 * damage_);
      const int sessions = std::poisson_distribution<int>(rate)(rng_);
      for (int s = 0; s < sessions; ++s) {
        const int64_t t =
            day + std::uniform_int_distribution<int64_t>(0, kDay - 1)(rng_);
        Session(t);
      }
    }
  }

  CustomerTruth& truth() { return truth_; }
  std::vector<Interaction>& events() { return events_; }

 private:
  bool Chance(double p) {
    return std::uniform_real_distribution<double>(0, 1)(rng_) < p;
  }
  double Uniform(double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng_);
  }
  int64_t Hours(double lo, double hi) {
    return static_cast<int64_t>(Uniform(lo, hi) * 3600);
  }
  bool Observed(int64_t t) const {
    return t <= absl::ToUnixSeconds(config_.now);
  }

  double FailureRate(absl::string_view touchpoint) const {
    for (const PlantedPain& p : config_.planted) {
      if (p.touchpoint == touchpoint) return p.failure_rate;
    }
    return config_.base_failure_rate;
  }

  Interaction& Add(int64_t t, Channel channel, const char* type,
                   absl::string_view touchpoint) {
    Interaction& e = events_.emplace_back();
    e.set_event_id(absl::StrCat(config_.run_id, "-", index_, "-", seq_++));
    e.mutable_occurred_at()->set_seconds(t);
    e.set_channel(channel);
    e.set_type(type);
    e.set_touchpoint(SentName(touchpoint));
    auto* ref = e.mutable_customer();
    const bool digital = channel == omnicx::v1::CHANNEL_WEB ||
                         channel == omnicx::v1::CHANNEL_MOBILE_APP;
    if (channel == omnicx::v1::CHANNEL_EMAIL && !truth_.email.empty()) {
      ref->mutable_identity()->set_type("email");
      ref->mutable_identity()->set_value(truth_.email);
      AddPhone(&e);
    } else if (digital && Chance(profile_.anonymous_share)) {
      // Only an anonymous id plus an identity: exercises resolution.
      ref->set_anonymous_id(anonymous_id_);
      AddPhone(&e);
    } else {
      ref->mutable_identity()->set_type("phone");
      ref->mutable_identity()->set_value(truth_.phone);
      if (seq_ == 1 && !truth_.email.empty()) {
        auto* id = e.add_identities();
        id->set_type("email");
        id->set_value(truth_.email);
      }
    }
    return e;
  }
  void AddPhone(Interaction* e) {
    auto* id = e->add_identities();
    id->set_type("phone");
    id->set_value(truth_.phone);
  }

  std::string SentName(absl::string_view touchpoint) const {
    auto it = config_.touchpoints.find(std::string(touchpoint));
    return it == config_.touchpoints.end() ? std::string(touchpoint)
                                           : it->second.first;
  }

  Channel DigitalChannel() { return Pick(profile_.digital, rng_); }
  Channel SupportChannel() { return Pick(profile_.support, rng_); }

  void Session(int64_t t) {
    std::vector<std::pair<SessionKind, double>> kinds;
    for (int k = 0; k < kKinds; ++k) {
      kinds.push_back({static_cast<SessionKind>(k), profile_.kind_weights[k]});
    }
    switch (Pick(kinds, rng_)) {
      case kBrowse:
        return Browse(t, false);
      case kBuy:
        return Buy(t);
      case kEngage:
        return Engage(t);
      case kService:
        return Service(t);
      case kVisit:
        return Visit(t);
      case kRenew:
        return Renew(t);
      default:
        return;
    }
  }

  void Browse(int64_t t, bool first) {
    Channel ch = DigitalChannel();
    if (ch == omnicx::v1::CHANNEL_EMAIL) ch = omnicx::v1::CHANNEL_WEB;
    if (ch == omnicx::v1::CHANNEL_MOBILE_APP) {
      Add(t, ch, "app_open", "app_home");
    } else {
      Add(t, ch, "page_view", "home");
    }
    t += 40;
    if (!first && Chance(0.4)) {
      Interaction& login = Add(t, ch, "login", "login");
      if (Chance(FailureRate("login"))) {
        login.set_outcome(omnicx::v1::OUTCOME_FAILURE);
        Incident(t, ch, "login");
        return;
      }
      login.set_outcome(omnicx::v1::OUTCOME_SUCCESS);
      t += 30;
    }
    if (Chance(0.5)) {
      Add(t, ch, "search", "search");
      t += 30;
    }
    const int views = 1 + static_cast<int>(Uniform(0, 2.5));
    for (int i = 0; i < views; ++i, t += 60) {
      Add(t, ch, "product_view", "product_page");
    }
  }

  void Buy(int64_t t) {
    if (Chance(profile_.physical_buy_share)) {
      const Channel ch = profile_.physical;
      const char* tp =
          ch == omnicx::v1::CHANNEL_BRANCH ? "branch_counter" : "store_till";
      const bool failed = Chance(FailureRate(tp));
      Interaction& e = Add(t, ch, "purchase", tp);
      e.mutable_wait()->set_seconds(failed ? Hours(0.35, 0.9)
                                           : Hours(0.02, 0.12));
      e.set_value(std::round(Uniform(0.5, 1.5) * profile_.mean_spend));
      e.set_outcome(omnicx::v1::OUTCOME_SUCCESS);
      if (failed) Incident(t, ch, tp);
      return;
    }
    Channel ch = DigitalChannel();
    if (ch == omnicx::v1::CHANNEL_EMAIL) {
      Add(t, ch, "email_click", "offer");
      ch = omnicx::v1::CHANNEL_WEB;
      t += 20;
    }
    Add(t, ch, "product_view", "product_page");
    Add(t + 60, ch, "add_to_cart", "cart");
    Add(t + 120, ch, "checkout_start", "checkout");
    t += 180;
    Interaction& pay = Add(t, ch, "payment", "checkout");
    if (Chance(FailureRate("checkout"))) {
      pay.set_outcome(omnicx::v1::OUTCOME_FAILURE);
      Incident(t, ch, "checkout");
      if (!Chance(0.5)) return;  // gave up
      t += Hours(0.1, 20);
      Add(t, ch, "payment", "checkout")
          .set_outcome(omnicx::v1::OUTCOME_SUCCESS);
    } else {
      pay.set_outcome(omnicx::v1::OUTCOME_SUCCESS);
    }
    const double value = std::round(Uniform(0.5, 1.5) * profile_.mean_spend);
    Interaction& purchase = Add(t + 5, ch, "purchase", "checkout");
    purchase.set_value(value);
    purchase.set_outcome(omnicx::v1::OUTCOME_SUCCESS);
    const int64_t delivered = t + Hours(30, 110);
    Interaction& delivery =
        Add(delivered, omnicx::v1::CHANNEL_EMAIL, "delivery", "delivery");
    if (Chance(FailureRate("delivery"))) {
      delivery.set_outcome(omnicx::v1::OUTCOME_FAILURE);
      delivery.mutable_wait()->set_seconds(Hours(24, 120));
      Incident(delivered, omnicx::v1::CHANNEL_EMAIL, "delivery");
    } else {
      delivery.set_outcome(omnicx::v1::OUTCOME_SUCCESS);
      if (Chance(profile_.return_rate)) {
        Add(delivered + Hours(24, 200), ch, "return", "returns")
            .set_value(-value);
      } else if (Chance(0.06)) {
        Interaction& s =
            Add(delivered + Hours(2, 48), omnicx::v1::CHANNEL_EMAIL,
                "survey_response", "delivery");  // about the delivery
        s.mutable_feedback()->set_nps(
            std::uniform_int_distribution<int>(7, 10)(rng_));
        if (Chance(0.15)) {
          Add(delivered + Hours(50, 200), ch, "referral", "referral");
        }
      }
    }
  }

  void Engage(int64_t t) {
    const Channel ch = DigitalChannel();
    if (ch == omnicx::v1::CHANNEL_MOBILE_APP) {
      Add(t, ch, "app_open", "app_home");
      return;
    }
    Add(t, omnicx::v1::CHANNEL_EMAIL, "email_open", "newsletter");
    if (Chance(0.35)) {
      Add(t + 30, omnicx::v1::CHANNEL_EMAIL, "email_click", "offer");
      Add(t + 40, omnicx::v1::CHANNEL_WEB, "page_view", "home");
    }
  }

  // A question about the bill: usually answered in one contact.
  void Service(int64_t t) {
    const Channel ch = SupportChannel();
    const std::string case_id = NextCase();
    Interaction& e = Add(t, ch, "support_contact", "billing");
    e.set_case_id(case_id);
    if (Chance(FailureRate("billing"))) {
      e.set_outcome(omnicx::v1::OUTCOME_FAILURE);
      e.mutable_wait()->set_seconds(Hours(0.3, 0.8));
      Incident(t, ch, "billing", case_id);
      return;
    }
    e.set_outcome(omnicx::v1::OUTCOME_SUCCESS);
    e.mutable_wait()->set_seconds(Hours(0.01, 0.08));
    Interaction& r = Add(t + 300, ch, "issue_resolved", "billing");
    r.set_case_id(case_id);
    r.set_outcome(omnicx::v1::OUTCOME_SUCCESS);
  }

  void Visit(int64_t t) {
    const Channel ch = profile_.physical;
    const bool branch = ch == omnicx::v1::CHANNEL_BRANCH;
    const char* tp = branch ? "branch_counter" : "store_till";
    Interaction& e = Add(t, ch, branch ? "branch_visit" : "store_visit", tp);
    if (Chance(FailureRate(tp))) {
      e.set_outcome(omnicx::v1::OUTCOME_FAILURE);
      e.mutable_wait()->set_seconds(Hours(0.35, 0.9));
      Incident(t, ch, tp);
      return;
    }
    e.set_outcome(omnicx::v1::OUTCOME_SUCCESS);
    e.mutable_wait()->set_seconds(Hours(0.02, 0.12));
  }

  void Renew(int64_t t) {
    const Channel ch = Chance(0.3) ? SupportChannel() : DigitalChannel();
    Interaction& e = Add(t, ch, "renewal", "renewal");
    if (Chance(FailureRate("renewal"))) {
      e.set_outcome(omnicx::v1::OUTCOME_FAILURE);
      Incident(t, ch, "renewal");
      return;
    }
    e.set_outcome(omnicx::v1::OUTCOME_SUCCESS);
    e.set_value(std::round(Uniform(0.8, 1.2) * profile_.mean_spend * 2));
  }

  std::string NextCase() {
    return absl::StrCat("case-", config_.run_id, "-", index_, "-", cases_++);
  }

  // A touchpoint failed: damage weighted by its importance, then what the
  // customer does about it (contacts on one case, channel switches, waits,
  // a complaint), whether it is put right, and a survey.
  void Incident(int64_t t, Channel channel, absl::string_view touchpoint,
                std::string case_id = "") {
    const double importance = TouchpointImportance(config_, touchpoint);
    double added = importance * Uniform(0.7, 1.3);
    if (Observed(t)) {
      ++truth_.failures;
      if (importance >= 2.5) ++truth_.severe_experiences;
      const std::string sent = SentName(touchpoint);
      for (const PlantedPain& p : config_.planted) {
        if (p.touchpoint == touchpoint &&
            std::find(truth_.planted_hits.begin(), truth_.planted_hits.end(),
                      sent) == truth_.planted_hits.end()) {
          truth_.planted_hits.push_back(sent);
        }
      }
    }
    const bool contacted = !case_id.empty();
    if (contacted || Chance(std::min(0.9, 0.25 + 0.15 * importance))) {
      if (case_id.empty()) case_id = NextCase();
      int64_t tc = t + (contacted ? Hours(2, 48) : Hours(0.5, 30));
      Channel ch = SupportChannel();
      int contacts = 1;
      while (contacts < 4 && Chance(0.4)) ++contacts;
      for (int i = 0; i < contacts; ++i) {
        if (i > 0 && Chance(0.5)) {
          const Channel next = SupportChannel();
          if (next != ch) added += 0.3;
          ch = next;
        }
        Interaction& e = Add(tc, ch, "support_contact", touchpoint);
        e.set_case_id(case_id);
        const bool long_wait = Chance(0.3);
        if (ch == omnicx::v1::CHANNEL_VOICE || ch == omnicx::v1::CHANNEL_CHAT ||
            ch == omnicx::v1::CHANNEL_BRANCH) {
          e.mutable_wait()->set_seconds(long_wait ? Hours(0.25, 0.75)
                                                  : Hours(0.01, 0.1));
          if (long_wait) added += 0.3;
        }
        e.set_sentiment(std::round(Uniform(-0.8, -0.2) * 100) / 100);
        added += i == 0 ? 0.2 : 0.5;
        tc += Hours(4, 72);
      }
      if (Chance(0.2 + 0.08 * importance + (contacts >= 3 ? 0.2 : 0))) {
        Interaction& e = Add(tc, ch, "complaint", touchpoint);
        e.set_case_id(case_id);
        e.set_sentiment(std::round(Uniform(-1, -0.5) * 100) / 100);
        added += 1.0;
        tc += Hours(2, 24);
      }
      const bool resolved = Chance(profile_.resolve_rate);
      if (resolved) {
        Interaction& e =
            Add(tc + Hours(1, 48), ch, "issue_resolved", touchpoint);
        e.set_case_id(case_id);
        e.set_outcome(omnicx::v1::OUTCOME_SUCCESS);
        added *= 1 - kRecoveryShare;
      }
      if (Chance(profile_.survey_rate)) {
        // About the touchpoint that failed (its touchpoint field).
        Interaction& s = Add(tc + Hours(50, 100), omnicx::v1::CHANNEL_EMAIL,
                             "survey_response", touchpoint);
        s.set_case_id(case_id);
        auto* f = s.mutable_feedback();
        f->set_nps(resolved ? std::uniform_int_distribution<int>(4, 8)(rng_)
                            : std::uniform_int_distribution<int>(0, 5)(rng_));
        f->set_csat(resolved ? std::uniform_int_distribution<int>(3, 4)(rng_)
                             : std::uniform_int_distribution<int>(1, 2)(rng_));
      }
    }
    damage_ += added;
  }

  void Churn(int64_t t) {
    truth_.churned = true;
    truth_.churned_at = absl::FromUnixSeconds(t);
    // Whatever was planned after leaving never happens.
    events_.erase(std::remove_if(events_.begin(), events_.end(),
                                 [t](const Interaction& e) {
                                   return e.occurred_at().seconds() > t;
                                 }),
                  events_.end());
    if (Chance(0.35)) {
      const Channel ch =
          Chance(0.5) ? omnicx::v1::CHANNEL_VOICE : omnicx::v1::CHANNEL_WEB;
      Add(t, ch, "cancellation", "account")
          .set_outcome(omnicx::v1::OUTCOME_SUCCESS);
    }
    // The business knows who left (the training half): the label.
    if (truth_.labelled) Add(t + 1, omnicx::v1::CHANNEL_WEB, "churned", "");
  }

  const SimulationConfig& config_;
  const PersonaProfile& profile_;
  const int64_t index_;
  const double activity_;
  std::mt19937_64& rng_;
  CustomerTruth truth_;
  std::vector<Interaction> events_;
  std::string anonymous_id_;
  int64_t start_ = 0;
  double damage_ = 0;
  double felt_ = 0;  // damage as the customer has come to feel it
  int64_t seq_ = 0;
  int cases_ = 0;
};

Persona DrawPersona(const std::vector<double>& mix, std::mt19937_64& rng) {
  std::vector<std::pair<Persona, double>> choices;
  for (int p = 0; p < kPersonaCount; ++p) {
    choices.push_back({static_cast<Persona>(p),
                       p < static_cast<int>(mix.size()) ? mix[p] : 0.0});
  }
  return Pick(choices, rng);
}

// Observed events per customer at an activity scale, from a pilot population
// drawn with a fixed generator (so the scale depends only on the config).
double ObservedEventsPerCustomer(const SimulationConfig& config,
                                 double activity) {
  constexpr int kPilot = 400;
  std::mt19937_64 rng(0x5eed);
  int64_t observed = 0;
  const int64_t now = absl::ToUnixSeconds(config.now);
  for (int i = 0; i < kPilot; ++i) {
    CustomerSimulator c(config, i, DrawPersona(config.persona_mix, rng),
                        activity, rng);
    c.Run();
    for (const Interaction& e : c.events()) {
      observed += e.occurred_at().seconds() <= now;
    }
  }
  return std::max(1.0, static_cast<double>(observed) / kPilot);
}

}  // namespace

absl::string_view PersonaName(Persona persona) { return Profile(persona).name; }

absl::StatusOr<Persona> ParsePersona(absl::string_view name) {
  for (int p = 0; p < kPersonaCount; ++p) {
    if (name == Profile(static_cast<Persona>(p)).name) {
      return static_cast<Persona>(p);
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown persona ", name));
}

bool LabelledCustomer(int64_t index, double label_share) {
  if (label_share <= 0) return false;
  // Fractional parts of index·φ⁻¹ are spread evenly over [0, 1).
  const double x = static_cast<double>(index) * 0.6180339887498949;
  return x - std::floor(x) < label_share;
}

void RedrawTouchpoints(uint64_t seed, SimulationConfig* config) {
  std::mt19937_64 rng(seed ^ 0x7e57ab1e);
  std::uniform_real_distribution<double> log_importance(std::log(0.3),
                                                        std::log(3.5));
  config->touchpoints.clear();
  for (const TouchpointInfo& t : kTouchpoints) {
    config->touchpoints[t.name] = {
        absl::StrFormat("tp-%06x", static_cast<unsigned>(rng() & 0xffffff)),
        std::exp(log_importance(rng))};
  }
}

double TouchpointImportance(const SimulationConfig& config,
                            absl::string_view touchpoint) {
  auto it = config.touchpoints.find(std::string(touchpoint));
  if (it != config.touchpoints.end()) return it->second.second;
  return TouchpointImportance(touchpoint);
}

double TouchpointImportance(absl::string_view touchpoint) {
  for (const TouchpointInfo& t : kTouchpoints) {
    if (touchpoint == t.name) return t.importance;
  }
  return 1.0;
}

std::vector<std::string> SimulatedTouchpoints() {
  std::vector<std::string> names;
  for (const TouchpointInfo& t : kTouchpoints) {
    if (t.can_fail) names.push_back(t.name);
  }
  return names;
}

absl::StatusOr<PlantedPain> ParsePlant(absl::string_view spec) {
  PlantedPain plant;
  for (absl::string_view part : absl::StrSplit(spec, ',')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    if (kv.first == "touchpoint") {
      plant.touchpoint = std::string(kv.second);
    } else if (kv.first == "rate") {
      if (!absl::SimpleAtod(kv.second, &plant.failure_rate) ||
          !(plant.failure_rate > 0 && plant.failure_rate <= 1)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--plant rate must be in (0, 1]: ", kv.second));
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--plant expects touchpoint=NAME[,rate=R], got ", spec));
    }
  }
  const std::vector<std::string> known = SimulatedTouchpoints();
  if (std::find(known.begin(), known.end(), plant.touchpoint) == known.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--plant touchpoint must be one of ", absl::StrJoin(known, ", "),
        "; got '", plant.touchpoint, "'"));
  }
  return plant;
}

double DailyChurnHazard(Persona persona, double damage) {
  return std::min(0.05, Profile(persona).base_hazard *
                            std::exp(1.2 * std::max(0.0, damage)));
}

Population Simulate(const SimulationConfig& config, std::mt19937_64& rng) {
  Population population;
  population.config = config;
  double activity = 1.0;
  if (config.events > 0) {
    // Events do not scale quite linearly with activity (more sessions, more
    // failures, more churn): one correction round after the first guess.
    const double per_customer =
        static_cast<double>(config.events) / config.customers;
    activity = per_customer / ObservedEventsPerCustomer(config, 1.0);
    activity *= per_customer / ObservedEventsPerCustomer(config, activity);
  }
  const int64_t now = absl::ToUnixSeconds(config.now);
  struct Keyed {
    int64_t at;
    int64_t customer;
    size_t seq;
  };
  std::vector<Keyed> order;
  std::vector<std::vector<Interaction>> per_customer(config.customers);
  for (int64_t i = 0; i < config.customers; ++i) {
    CustomerSimulator c(config, i, DrawPersona(config.persona_mix, rng),
                        activity, rng);
    c.Run();
    CustomerTruth truth = std::move(c.truth());
    for (Interaction& e : c.events()) {
      if (e.occurred_at().seconds() > now) continue;  // held out
      ++truth.observed_events;
      order.push_back({e.occurred_at().seconds(), i, per_customer[i].size()});
      per_customer[i].push_back(std::move(e));
    }
    population.customers.push_back(std::move(truth));
  }
  std::sort(order.begin(), order.end(), [](const Keyed& a, const Keyed& b) {
    return std::tie(a.at, a.customer, a.seq) <
           std::tie(b.at, b.customer, b.seq);
  });
  population.events.reserve(order.size());
  population.event_customer.reserve(order.size());
  for (const Keyed& k : order) {
    population.events.push_back(std::move(per_customer[k.customer][k.seq]));
    population.event_customer.push_back(k.customer);
  }
  return population;
}

void WriteGroundTruth(const Population& population, std::ostream& out) {
  const SimulationConfig& c = population.config;
  out << "# omnicx-journeysim ground truth v1\n";
  out << absl::StrFormat("# now=%s horizon_days=%d customers=%d events=%d\n",
                         RunStamp(c.now), absl::ToInt64Hours(c.horizon) / 24,
                         population.customers.size(), population.events.size());
  for (const PlantedPain& p : c.planted) {
    auto renamed = c.touchpoints.find(p.touchpoint);
    out << absl::StrFormat("# planted\t%s\t%.3f\n",
                           renamed == c.touchpoints.end()
                               ? p.touchpoint
                               : renamed->second.first,
                           p.failure_rate);
  }
  out << "phone\temail\tpersona\tfirst_seen\tchurned\tchurned_at\tevents\t"
         "damage\tsevere\tplanted_hits\tfailures\tlabelled\thazard\n";
  for (const CustomerTruth& t : population.customers) {
    out << absl::StrFormat(
        "%s\t%s\t%s\t%s\t%d\t%s\t%d\t%.4f\t%d\t%s\t%d\t%d\t%.6g\n",
        t.phone,
        t.email.empty() ? "-" : t.email, PersonaName(t.persona),
        RunStamp(t.first_seen), t.churned ? 1 : 0,
        t.churned ? RunStamp(t.churned_at) : "-", t.observed_events,
        t.damage_at_now, t.severe_experiences,
        t.planted_hits.empty() ? "-" : absl::StrJoin(t.planted_hits, ","),
        t.failures, t.labelled ? 1 : 0, t.hazard_at_now);
  }
}

absl::StatusOr<GroundTruth> ReadGroundTruth(std::istream& in) {
  GroundTruth truth;
  std::string line;
  int line_no = 0;
  bool have_now = false;
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("ground truth line ", line_no, ": ", why));
  };
  auto parse_time = [](absl::string_view s, absl::Time* t) {
    std::string err;
    return absl::ParseTime("%Y-%m-%dT%H:%M:%SZ", std::string(s), t, &err);
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    if (absl::StartsWith(line, "# planted\t")) {
      std::vector<std::string> f = absl::StrSplit(line, '\t');
      PlantedPain p;
      if (f.size() != 3 || !absl::SimpleAtod(f[2], &p.failure_rate)) {
        return bad("planted: expected '# planted<TAB>touchpoint<TAB>rate'");
      }
      p.touchpoint = f[1];
      truth.planted.push_back(p);
      continue;
    }
    if (absl::StartsWith(line, "# now=")) {
      for (absl::string_view kv : absl::StrSplit(line.substr(2), ' ')) {
        std::pair<absl::string_view, absl::string_view> p =
            absl::StrSplit(kv, absl::MaxSplits('=', 1));
        int64_t days = 0;
        if (p.first == "now") {
          if (!parse_time(p.second, &truth.now)) return bad("bad now");
          have_now = true;
        } else if (p.first == "horizon_days") {
          if (!absl::SimpleAtoi(p.second, &days)) return bad("bad horizon");
          truth.horizon = absl::Hours(24 * days);
        }
      }
      continue;
    }
    if (absl::StartsWith(line, "#") || absl::StartsWith(line, "phone\t")) {
      continue;
    }
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    if (f.size() != 10 && f.size() != 13) {
      return bad("expected 10 or 13 tab-separated fields");
    }
    CustomerTruth t;
    t.phone = f[0];
    if (f[1] != "-") t.email = f[1];
    absl::StatusOr<Persona> persona = ParsePersona(f[2]);
    if (!persona.ok()) return bad(persona.status().message());
    t.persona = *persona;
    if (!parse_time(f[3], &t.first_seen)) return bad("bad first_seen");
    t.churned = f[4] == "1";
    if (t.churned && !parse_time(f[5], &t.churned_at)) {
      return bad("bad churned_at");
    }
    if (!absl::SimpleAtoi(f[6], &t.observed_events) ||
        !absl::SimpleAtod(f[7], &t.damage_at_now) ||
        !absl::SimpleAtoi(f[8], &t.severe_experiences)) {
      return bad("bad number");
    }
    if (f[9] != "-") t.planted_hits = absl::StrSplit(f[9], ',');
    if (f.size() == 13) {
      if (!absl::SimpleAtoi(f[10], &t.failures) ||
          !absl::SimpleAtod(f[12], &t.hazard_at_now)) {
        return bad("bad failures or hazard");
      }
      t.labelled = f[11] == "1";
    }
    truth.customers.push_back(std::move(t));
  }
  if (!have_now)
    return absl::InvalidArgumentError("ground truth: no now= line");
  return truth;
}

}  // namespace omnicx::journeysim
