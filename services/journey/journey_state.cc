#include "services/journey/journey_state.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/events/applied_ids.h"
#include "libs/time/proto_time.h"
#include "services/journey/churn_learning.h"
#include "services/journey/decayed_sum.h"
#include "services/journey/pain_points.h"

namespace omnicx::journey {
namespace {

using omnicx::journey::v1::CaseState;
using omnicx::journey::v1::DriverState;
using omnicx::journey::v1::SignalCoefficients;
using omnicx::journey::v1::SignedSum;
using omnicx::v1::Channel;
using omnicx::v1::Interaction;
using omnicx::v1::Stage;

constexpr double kDayMs = 86400000.0;
// Unweighted effort amount at or below which a touchpoint counts as
// negative in the pain-point aggregates.
constexpr double kHighEffort = -2.0;

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

bool Failed(const Interaction& e) {
  return e.outcome() == omnicx::v1::OUTCOME_FAILURE ||
         e.outcome() == omnicx::v1::OUTCOME_ABANDONED;
}

bool IsPurchase(const Interaction& e) {
  return (e.type() == "purchase" || e.type() == "renewal") && !Failed(e) &&
         e.outcome() != omnicx::v1::OUTCOME_PENDING;
}

bool IsCompletedCancellation(const Interaction& e) {
  return e.type() == "cancellation" &&
         (e.outcome() == omnicx::v1::OUTCOME_SUCCESS ||
          e.outcome() == omnicx::v1::OUTCOME_UNSPECIFIED);
}

bool IsIntent(const std::string& type) {
  return type == "add_to_cart" || type == "checkout_start" || type == "payment";
}

bool IsConsideration(const std::string& type) {
  static const auto* types = new absl::flat_hash_set<std::string>{
      "product_view", "search",      "email_click",  "sms_click",
      "signup",       "store_visit", "branch_visit", "login",
      "app_open",     "chat_message"};
  return types->contains(type);
}

double EngagementAmount(const Interaction& e) {
  const std::string& t = e.type();
  if (t == "purchase" || t == "renewal" || t == "referral") {
    return Failed(e) ? 0.2 : 1.0;
  }
  if (t == "review") return 0.5;
  if (t == "cancellation") return IsCompletedCancellation(e) ? -2.0 : -1.0;
  if (t == "support_contact" || t == "complaint" || t == "issue_resolved" ||
      t == "delivery" || t == "return" || t == "callback") {
    return 0;  // contact with the organisation is not engagement
  }
  if (t == "page_view" || t == "product_view" || t == "search" ||
      t == "email_open") {
    return 0.1;
  }
  if (t.rfind("x-", 0) == 0) return 0.1;
  return 0.2;  // logins, clicks, visits, carts, surveys, ...
}

double ExperienceAmount(const Interaction& e) {
  double a = 0;
  switch (e.outcome()) {
    case omnicx::v1::OUTCOME_SUCCESS:
      a += 1;
      break;
    case omnicx::v1::OUTCOME_FAILURE:
      a -= 2;
      break;
    case omnicx::v1::OUTCOME_ABANDONED:
      a -= 1;
      break;
    default:
      break;
  }
  const std::string& t = e.type();
  if (t == "complaint") a -= 2;
  if (t == "issue_resolved") a += 1.5;
  if (t == "cancellation") a -= 1;
  if (t == "return") a -= 0.5;
  if (t == "referral") a += 1;
  if ((t == "purchase" || t == "renewal") && !Failed(e)) a += 0.5;
  if (e.has_sentiment() && std::isfinite(e.sentiment())) {
    a += 1.5 * std::clamp(e.sentiment(), -1.0, 1.0);
  }
  if (e.feedback().has_nps()) a += (e.feedback().nps() - 7) / 3.0;
  if (e.feedback().has_csat()) a += (e.feedback().csat() - 3.5) / 1.5;
  return a;
}

double WaitSeconds(const Interaction& e) {
  if (!e.has_wait()) return 0;
  const double s = e.wait().seconds() + e.wait().nanos() / 1e9;
  return s > 0 ? s : 0;
}

double EffortAmount(const Interaction& e) {
  double a = 0;
  const double wait = WaitSeconds(e);
  if (wait > 0) a -= std::min(wait / 300.0, 4.0);
  if (e.feedback().has_ces()) a += (4 - e.feedback().ces()) / 1.5;
  return a;
}

double ValueAmount(const Interaction& e) {
  const double v = e.value();
  if (!std::isfinite(v) || v == 0) return 0;
  return v > 0 ? std::log10(1 + v) : -std::log10(1 - v);
}

// The per-signal member of a state (SignedSum) or of a model's
// coefficients (SignalCoefficients): every message with experience, effort,
// engagement and value fields.
template <typename Message>
auto& SignalOf(Message& m, int signal) {
  switch (signal) {
    case kExperience:
      return *m.mutable_experience();
    case kEffort:
      return *m.mutable_effort();
    case kEngagement:
      return *m.mutable_engagement();
    default:
      return *m.mutable_value();
  }
}
template <typename Message>
const auto& SignalOf(const Message& m, int signal) {
  switch (signal) {
    case kExperience:
      return m.experience();
    case kEffort:
      return m.effort();
    case kEngagement:
      return m.engagement();
    default:
      return m.value();
  }
}

SignedSum* SignalSum(JourneyState* s, int signal) {
  return &SignalOf(*s, signal);
}
const SignedSum& SignalSum(const JourneyState& s, int signal) {
  return SignalOf(s, signal);
}
template <typename Model>
const SignalCoefficients& Coefficients(const Model& m, int signal) {
  return SignalOf(m, signal);
}

void MergeSigned(const CompiledModel& model, const SignedSum& other,
                 SignedSum* into) {
  MergeDecayed(into->mutable_positive(), other.positive(),
               model.positive_half_life());
  MergeDecayed(into->mutable_negative(), other.negative(),
               model.negative_half_life());
}

// min over set times (0 = unset).
int64_t MinSet(int64_t a, int64_t b) {
  if (a == 0) return b;
  if (b == 0) return a;
  return std::min(a, b);
}

// Books `effort` (≥ 0, a negative effort amount) at `at_ms` on the effort
// signal and on `driver_key`'s health contribution; a negative `effort`
// removes an earlier booking exactly.
void BookCaseEffort(const CompiledModel& model, double effort, int64_t at_ms,
                    const std::string& driver_key, JourneyState* state) {
  if (effort == 0) return;
  AddDecayed(state->mutable_effort()->mutable_negative(), effort, at_ms,
             model.negative_half_life());
  auto it = state->mutable_drivers()->find(driver_key);
  if (it == state->mutable_drivers()->end()) return;  // trimmed away
  AddDecayed(it->second.mutable_health()->mutable_negative(),
             effort * model.proto().health().effort().negative(), at_ms,
             model.negative_half_life());
  AddDecayed(it->second.mutable_churn()->mutable_negative(),
             effort * model.proto().churn().effort().negative(), at_ms,
             model.negative_half_life());
}

// Re-books a case's effort after its contacts changed.
void RebookCase(const CompiledModel& model, CaseState* c, JourneyState* state) {
  BookCaseEffort(model, -c->effort(), c->effort_ms(), c->effort_driver(),
                 state);
  const double effort =
      model.proto().repeat_contact_effort() * std::max(0, c->contacts() - 1) +
      model.proto().channel_switch_effort() *
          std::max(0, c->channels_size() - 1);
  c->set_effort(effort);
  c->set_effort_ms(c->last_contact_ms());
  c->set_effort_driver(c->first_driver());
  BookCaseEffort(model, effort, c->effort_ms(), c->effort_driver(), state);
}

void AddChannel(CaseState* c, Channel channel) {
  for (int ch : c->channels()) {
    if (ch == channel) return;
  }
  c->add_channels(channel);
  std::sort(c->mutable_channels()->begin(), c->mutable_channels()->end());
}

double DriverMagnitude(const CompiledModel& model, const DriverState& d,
                       int64_t at_ms) {
  return std::abs(DecayedValueAt(d.health().positive(), at_ms,
                                 model.positive_half_life())) +
         std::abs(DecayedValueAt(d.health().negative(), at_ms,
                                 model.negative_half_life()));
}

// Keeps at most max_drivers drivers (the smallest go; `keep` stays).
void TrimDrivers(const CompiledModel& model, const std::string& keep,
                 JourneyState* state) {
  auto* drivers = state->mutable_drivers();
  while (static_cast<int>(drivers->size()) > model.proto().max_drivers()) {
    auto victim = drivers->end();
    double smallest = 0;
    for (auto it = drivers->begin(); it != drivers->end(); ++it) {
      if (it->first == keep) continue;
      const double m = DriverMagnitude(model, it->second, state->last_ms());
      if (victim == drivers->end() || m < smallest ||
          (m == smallest && it->first < victim->first)) {
        victim = it;
        smallest = m;
      }
    }
    if (victim == drivers->end()) return;
    drivers->erase(victim);
  }
}

bool CaseOpen(const CaseState& c) {
  return c.contacts() > 0 && c.last_contact_ms() > c.resolved_ms();
}

// Keeps at most max_cases cases: resolved ones first, oldest first.
void TrimCases(const CompiledModel& model, JourneyState* state) {
  auto* cases = state->mutable_cases();
  while (static_cast<int>(cases->size()) > model.proto().max_cases()) {
    auto victim = cases->begin();
    for (auto it = cases->begin(); it != cases->end(); ++it) {
      const auto rank = [](const auto& kv) {
        return std::make_tuple(CaseOpen(kv.second), kv.second.last_contact_ms(),
                               kv.first);
      };
      if (rank(*it) < rank(*victim)) victim = it;
    }
    cases->erase(victim);
  }
}

void MergeDriver(const CompiledModel& model, const DriverState& other,
                 DriverState* into) {
  MergeSigned(model, other.health(), into->mutable_health());
  MergeSigned(model, other.churn(), into->mutable_churn());
  into->set_count(into->count() + other.count());
  into->set_negatives(into->negatives() + other.negatives());
  into->set_last_ms(std::max(into->last_ms(), other.last_ms()));
  into->set_wait_seconds(into->wait_seconds() + other.wait_seconds());
  into->set_waits(into->waits() + other.waits());
  while (into->signal_amounts_size() < kSignals) into->add_signal_amounts(0);
  for (int s = 0; s < kSignals && s < other.signal_amounts_size(); ++s) {
    into->set_signal_amounts(s,
                             into->signal_amounts(s) + other.signal_amounts(s));
  }
}

double SafeShare(int64_t part, int64_t whole) {
  return whole > 0 ? static_cast<double>(part) / static_cast<double>(whole)
                   : 0.0;
}

}  // namespace

bool IsFeedback(absl::string_view type) {
  return type == "survey_response" || type == "review";
}

const char* SignalName(int signal) {
  switch (signal) {
    case kExperience:
      return "experience";
    case kEffort:
      return "effort";
    case kEngagement:
      return "engagement";
    default:
      return "value";
  }
}

std::string DriverKey(Channel channel, const std::string& type,
                      const std::string& touchpoint) {
  return absl::StrCat(static_cast<int>(channel), "\x1f", type, "\x1f",
                      touchpoint);
}

std::optional<DriverParts> ParseDriverKey(absl::string_view key) {
  std::vector<absl::string_view> parts = absl::StrSplit(key, '\x1f');
  int channel = 0;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &channel)) {
    return std::nullopt;
  }
  return DriverParts{static_cast<Channel>(channel), std::string(parts[1]),
                     std::string(parts[2])};
}

EventScore ScoreEvent(const CompiledModel& model, const Interaction& event) {
  EventScore score;
  score.weight =
      model.Weight(event.channel(), event.type(), event.touchpoint());
  const double amounts[kSignals] = {
      ExperienceAmount(event), EffortAmount(event), EngagementAmount(event),
      ValueAmount(event)};
  for (int s = 0; s < kSignals; ++s) {
    const double a = amounts[s] * score.weight;
    if (a > 0) score.positive[s] = a;
    if (a < 0) score.negative[s] = -a;
  }
  score.wait_seconds = WaitSeconds(event);
  // A bad experience, or high effort (a wait of 10 minutes or more, a CES
  // of 7): a short queue at a counter is effort, not a failed touchpoint.
  score.negative_touch =
      amounts[kExperience] < 0 || amounts[kEffort] <= kHighEffort;
  return score;
}

void ApplyEvent(const CompiledModel& model, const Interaction& event,
                JourneyState* state) {
  const int64_t t = time::ToUnixMillis(event.occurred_at());
  if (model.IsChurnLabel(event.type())) {
    state->set_churned_ms(MinSet(state->churned_ms(), t));
    return;
  }
  const EventScore score = ScoreEvent(model, event);
  const auto& health = model.proto().health();

  // Signals.
  for (int s = 0; s < kSignals; ++s) {
    SignedSum* sum = SignalSum(state, s);
    if (score.positive[s] > 0) {
      AddDecayed(sum->mutable_positive(), score.positive[s], t,
                 model.positive_half_life());
    }
    if (score.negative[s] > 0) {
      AddDecayed(sum->mutable_negative(), score.negative[s], t,
                 model.negative_half_life());
    }
  }

  // Counters and times.
  state->set_events(state->events() + 1);
  state->set_first_ms(MinSet(state->first_ms(), t));
  state->set_last_ms(std::max(state->last_ms(), t));
  (*state->mutable_channel_counts())[event.channel()] += 1;
  if (std::isfinite(event.value())) {
    state->set_lifetime_value(state->lifetime_value() + event.value());
  }
  if (IsPurchase(event)) {
    state->set_purchases(state->purchases() + 1);
    state->set_first_purchase_ms(MinSet(state->first_purchase_ms(), t));
    state->set_last_purchase_ms(std::max(state->last_purchase_ms(), t));
  }
  if (IsCompletedCancellation(event)) {
    state->set_last_cancel_ms(std::max(state->last_cancel_ms(), t));
  }
  if (IsIntent(event.type())) {
    state->set_last_intent_ms(std::max(state->last_intent_ms(), t));
  }
  if (IsConsideration(event.type())) {
    state->set_last_consider_ms(std::max(state->last_consider_ms(), t));
  }
  if (event.type() == "referral") state->set_referrals(state->referrals() + 1);
  if (event.type() == "referral" ||
      (event.type() == "review" && event.has_sentiment() &&
       event.sentiment() >= 0.5)) {
    state->set_last_promoter_ms(std::max(state->last_promoter_ms(), t));
  }
  if (event.feedback().has_nps()) {
    const int nps = event.feedback().nps();
    // The latest answer counts; equal times keep the lower (order-free).
    if (state->last_nps_ms() == 0 || t > state->last_nps_ms() ||
        (t == state->last_nps_ms() && nps < state->last_nps())) {
      state->set_last_nps(nps);
      state->set_last_nps_ms(t);
    }
  }

  // The touchpoint's driver; feedback goes to the touchpoint it is about.
  const bool feedback = IsFeedback(event.type());
  const std::string key =
      feedback && !event.touchpoint().empty()
          ? DriverKey(omnicx::v1::CHANNEL_UNSPECIFIED, "", event.touchpoint())
          : DriverKey(event.channel(), event.type(), event.touchpoint());
  DriverState& d = (*state->mutable_drivers())[key];
  double hpos = 0, hneg = 0;
  for (int s = 0; s < kSignals; ++s) {
    hpos += Coefficients(health, s).positive() * score.positive[s];
    hneg += Coefficients(health, s).negative() * score.negative[s];
  }
  if (hpos > 0) {
    AddDecayed(d.mutable_health()->mutable_positive(), hpos, t,
               model.positive_half_life());
  }
  if (hneg > 0) {
    AddDecayed(d.mutable_health()->mutable_negative(), hneg, t,
               model.negative_half_life());
  }
  // Its share of the prior churn logit, for the learner.
  double cpos = 0, cneg = 0;
  for (int s = 0; s < kSignals; ++s) {
    cpos +=
        Coefficients(model.proto().churn(), s).positive() * score.positive[s];
    cneg +=
        Coefficients(model.proto().churn(), s).negative() * score.negative[s];
  }
  if (cpos > 0) {
    AddDecayed(d.mutable_churn()->mutable_positive(), cpos, t,
               model.positive_half_life());
  }
  if (cneg > 0) {
    AddDecayed(d.mutable_churn()->mutable_negative(), cneg, t,
               model.negative_half_life());
  }
  d.set_count(d.count() + 1);
  if (score.negative_touch) d.set_negatives(d.negatives() + 1);
  d.set_last_ms(std::max(d.last_ms(), t));
  if (score.wait_seconds > 0) {
    d.set_wait_seconds(d.wait_seconds() + score.wait_seconds);
    d.set_waits(d.waits() + 1);
  }
  while (d.signal_amounts_size() < kSignals) d.add_signal_amounts(0);
  for (int s = 0; s < kSignals; ++s) {
    d.set_signal_amounts(
        s, d.signal_amounts(s) + score.positive[s] + score.negative[s]);
  }

  // The case it belongs to (feedback on a case is no contact about it).
  if (!event.case_id().empty() && !feedback) {
    CaseState& c = (*state->mutable_cases())[event.case_id()];
    if (event.type() == "issue_resolved") {
      c.set_resolved_ms(std::max(c.resolved_ms(), t));
    } else {
      if (c.contacts() == 0 || t < c.opened_ms() ||
          (t == c.opened_ms() && key < c.first_driver())) {
        c.set_first_driver(key);
      }
      c.set_opened_ms(c.contacts() == 0 ? t : std::min(c.opened_ms(), t));
      c.set_last_contact_ms(std::max(c.last_contact_ms(), t));
      c.set_contacts(c.contacts() + 1);
      if (event.type() == "complaint") c.set_complaint(true);
      AddChannel(&c, event.channel());
      RebookCase(model, &c, state);
    }
  }
  TrimDrivers(model, key, state);
  TrimCases(model, state);
}

void MergeState(const CompiledModel& model, const JourneyState& other,
                JourneyState* into) {
  for (int s = 0; s < kSignals; ++s) {
    MergeSigned(model, SignalSum(other, s), SignalSum(into, s));
  }
  into->set_events(into->events() + other.events());
  into->set_first_ms(MinSet(into->first_ms(), other.first_ms()));
  into->set_last_ms(std::max(into->last_ms(), other.last_ms()));
  into->set_purchases(into->purchases() + other.purchases());
  into->set_first_purchase_ms(
      MinSet(into->first_purchase_ms(), other.first_purchase_ms()));
  into->set_last_purchase_ms(
      std::max(into->last_purchase_ms(), other.last_purchase_ms()));
  into->set_last_cancel_ms(
      std::max(into->last_cancel_ms(), other.last_cancel_ms()));
  into->set_churned_ms(MinSet(into->churned_ms(), other.churned_ms()));
  into->set_last_intent_ms(
      std::max(into->last_intent_ms(), other.last_intent_ms()));
  into->set_last_consider_ms(
      std::max(into->last_consider_ms(), other.last_consider_ms()));
  into->set_referrals(into->referrals() + other.referrals());
  into->set_last_promoter_ms(
      std::max(into->last_promoter_ms(), other.last_promoter_ms()));
  if (other.last_nps_ms() != 0 &&
      (into->last_nps_ms() == 0 || other.last_nps_ms() > into->last_nps_ms() ||
       (other.last_nps_ms() == into->last_nps_ms() &&
        other.last_nps() < into->last_nps()))) {
    into->set_last_nps(other.last_nps());
    into->set_last_nps_ms(other.last_nps_ms());
  }
  into->set_lifetime_value(into->lifetime_value() + other.lifetime_value());
  for (const auto& [channel, n] : other.channel_counts()) {
    (*into->mutable_channel_counts())[channel] += n;
  }
  for (const auto& [key, d] : other.drivers()) {
    MergeDriver(model, d, &(*into->mutable_drivers())[key]);
  }
  // Cases: a case on both sides has both bookings in the merged sums; remove
  // them and book the combined case once.
  for (const auto& [id, theirs] : other.cases()) {
    auto it = into->mutable_cases()->find(id);
    if (it == into->mutable_cases()->end()) {
      (*into->mutable_cases())[id] = theirs;
      continue;
    }
    CaseState& mine = it->second;
    BookCaseEffort(model, -theirs.effort(), theirs.effort_ms(),
                   theirs.effort_driver(), into);
    if (theirs.contacts() > 0) {
      if (mine.contacts() == 0 || theirs.opened_ms() < mine.opened_ms() ||
          (theirs.opened_ms() == mine.opened_ms() &&
           theirs.first_driver() < mine.first_driver())) {
        mine.set_first_driver(theirs.first_driver());
      }
      mine.set_opened_ms(mine.contacts() == 0
                             ? theirs.opened_ms()
                             : std::min(mine.opened_ms(), theirs.opened_ms()));
      mine.set_last_contact_ms(
          std::max(mine.last_contact_ms(), theirs.last_contact_ms()));
      mine.set_contacts(mine.contacts() + theirs.contacts());
      for (int ch : theirs.channels()) {
        AddChannel(&mine, static_cast<Channel>(ch));
      }
    }
    mine.set_resolved_ms(std::max(mine.resolved_ms(), theirs.resolved_ms()));
    mine.set_complaint(mine.complaint() || theirs.complaint());
    RebookCase(model, &mine, into);
  }
  events::MergeAppliedIds(other.applied(), into->mutable_applied());
  TrimDrivers(model, "", into);
  TrimCases(model, into);
}

Features ComputeFeatures(const CompiledModel& model, const JourneyState& state,
                         int64_t at_ms, const LearnedChurn* learned) {
  Features f;
  const absl::Duration hp = model.positive_half_life();
  const absl::Duration hn = model.negative_half_life();
  double pos[kSignals], neg[kSignals];
  for (int s = 0; s < kSignals; ++s) {
    pos[s] = std::max(
        0.0, DecayedValueAt(SignalSum(state, s).positive(), at_ms, hp));
    neg[s] = std::max(
        0.0, DecayedValueAt(SignalSum(state, s).negative(), at_ms, hn));
  }
  f.experience_positive = pos[kExperience];
  f.experience_negative = neg[kExperience];
  f.effort_positive = pos[kEffort];
  f.effort_negative = neg[kEffort];
  f.engagement_positive = pos[kEngagement];
  f.engagement_negative = neg[kEngagement];
  f.value_positive = pos[kValue];
  f.value_negative = neg[kValue];

  for (const auto& [id, c] : state.cases()) {
    if (CaseOpen(c)) ++f.open_cases;
  }
  f.idle_days = state.events() > 0
                    ? std::max<double>(0, (at_ms - state.last_ms()) / kDayMs)
                    : 0;
  f.tenure_days = state.events() > 0
                      ? std::max<double>(0, (at_ms - state.first_ms()) / kDayMs)
                      : 0;

  const auto& h = model.proto().health();
  f.health_logit = h.intercept();
  for (int s = 0; s < kSignals; ++s) {
    f.health_logit += Coefficients(h, s).positive() * pos[s] -
                      Coefficients(h, s).negative() * neg[s];
  }
  // Like churn risk, never certain: 1–99, strictly increasing.
  f.health = 100.0 * BoundRisk(Sigmoid(f.health_logit));

  const auto& c = model.proto().churn();
  const double lapse = c.experience().negative() * neg[kExperience];
  double z = c.intercept() + lapse -
             std::min(c.experience().positive() * pos[kExperience],
                      c.recovery_cap() * lapse);
  for (int s = kEffort; s < kSignals; ++s) {
    z += Coefficients(c, s).negative() * neg[s] -
         Coefficients(c, s).positive() * pos[s];
  }
  z += c.open_case() * f.open_cases;
  z += c.idle_month() * std::min(f.idle_days / 30.0, 6.0);
  f.churn_prior_logit = z;
  if (learned != nullptr) z += learned->Adjustment(model, state, at_ms, z);
  f.churn_risk = BoundRisk(Sigmoid(z));

  int64_t digital = 0, assisted = 0, physical = 0;
  for (const auto& [ch, n] : state.channel_counts()) {
    switch (ch) {
      case omnicx::v1::CHANNEL_WEB:
      case omnicx::v1::CHANNEL_MOBILE_APP:
      case omnicx::v1::CHANNEL_EMAIL:
      case omnicx::v1::CHANNEL_SMS:
      case omnicx::v1::CHANNEL_SOCIAL:
      case omnicx::v1::CHANNEL_IN_PRODUCT:
        digital += n;
        break;
      case omnicx::v1::CHANNEL_VOICE:
      case omnicx::v1::CHANNEL_CHAT:
        assisted += n;
        break;
      case omnicx::v1::CHANNEL_STORE:
      case omnicx::v1::CHANNEL_BRANCH:
      case omnicx::v1::CHANNEL_KIOSK:
        physical += n;
        break;
      default:
        break;
    }
  }
  f.digital_share = SafeShare(digital, state.events());
  f.assisted_share = SafeShare(assisted, state.events());
  f.physical_share = SafeShare(physical, state.events());

  f.events = static_cast<double>(state.events());
  f.purchases = static_cast<double>(state.purchases());
  f.lifetime_value = state.lifetime_value();
  f.last_nps =
      state.last_nps_ms() != 0 ? static_cast<double>(state.last_nps()) : -1;
  return f;
}

std::map<std::string, double> NamedFeatures(const Features& f) {
  return {
      {"health", f.health},
      {"churn_risk", f.churn_risk},
      {"experience", f.experience_positive - f.experience_negative},
      {"effort", f.effort_positive - f.effort_negative},
      {"engagement", f.engagement_positive - f.engagement_negative},
      {"value", f.value_positive - f.value_negative},
      {"effort_negative", f.effort_negative},
      {"experience_negative", f.experience_negative},
      {"open_cases", f.open_cases},
      {"events", f.events},
      {"tenure_days", f.tenure_days},
      {"idle_days", f.idle_days},
      {"lifetime_value", f.lifetime_value},
      {"digital_share", f.digital_share},
      {"assisted_share", f.assisted_share},
      {"physical_share", f.physical_share},
      {"last_nps", f.last_nps},
      {"purchases", f.purchases},
  };
}

StageAt ComputeStage(const CompiledModel& model, const JourneyState& state,
                     const Features& f, int64_t at_ms) {
  using omnicx::v1::Stage;
  const auto& rules = model.proto().stages();
  // A churn label, unless the customer bought again after it.
  if (state.churned_ms() != 0 &&
      state.churned_ms() >= state.last_purchase_ms()) {
    return {omnicx::v1::STAGE_CHURNED, state.churned_ms()};
  }
  if (state.events() == 0) return {};
  if (state.last_cancel_ms() != 0 &&
      state.last_cancel_ms() >= state.last_purchase_ms()) {
    return {omnicx::v1::STAGE_CHURNED, state.last_cancel_ms()};
  }
  const int64_t idle_limit =
      absl::ToInt64Milliseconds(model.churned_after_idle());
  if (at_ms - state.last_ms() >= idle_limit) {
    return {omnicx::v1::STAGE_CHURNED, state.last_ms() + idle_limit};
  }
  if (f.churn_risk >= rules.at_risk_churn()) {
    return {omnicx::v1::STAGE_AT_RISK, state.last_ms()};
  }
  if (state.purchases() > 0) {
    const bool promoter =
        state.last_promoter_ms() != 0 ||
        (state.last_nps_ms() != 0 && state.last_nps() >= rules.promoter_nps());
    const bool healthy = f.health >= rules.loyal_min_health();
    if (promoter && healthy) {
      return {omnicx::v1::STAGE_ADVOCATE,
              std::max(state.last_promoter_ms(),
                       state.last_nps() >= rules.promoter_nps()
                           ? state.last_nps_ms()
                           : 0)};
    }
    if (state.purchases() >= rules.loyal_purchases() && healthy) {
      return {omnicx::v1::STAGE_LOYAL, state.last_purchase_ms()};
    }
    const int64_t onboarding =
        absl::ToInt64Milliseconds(model.onboarding_period());
    if (at_ms - state.first_purchase_ms() < onboarding) {
      return {omnicx::v1::STAGE_ONBOARDING, state.first_purchase_ms()};
    }
    return {omnicx::v1::STAGE_ENGAGED, state.first_purchase_ms() + onboarding};
  }
  if (state.last_intent_ms() != 0) {
    return {omnicx::v1::STAGE_PURCHASE, state.last_intent_ms()};
  }
  if (state.last_consider_ms() != 0) {
    return {omnicx::v1::STAGE_CONSIDERATION, state.last_consider_ms()};
  }
  return {omnicx::v1::STAGE_AWARENESS, state.first_ms()};
}

std::optional<StageTransition> RefreshDerived(const CompiledModel& model,
                                              JourneyState* state,
                                              const LearnedChurn* learned) {
  const int64_t at = std::max(state->last_ms(), state->churned_ms());
  const Features f = ComputeFeatures(model, *state, at, learned);
  state->set_churn_at_last(f.churn_risk);
  // After a sweep stored a later time-driven move, the stage is as of then:
  // a late touchpoint does not take the customer back in time.
  const int64_t stage_at = std::max(at, state->stage_as_of_ms());
  // A touchpoint after the swept moves: they are history, no longer taken
  // back.
  if (at >= state->stage_as_of_ms()) state->clear_swept();
  const StageAt now =
      stage_at == at
          ? ComputeStage(model, *state, f, at)
          : ComputeStage(model, *state,
                         ComputeFeatures(model, *state, stage_at, learned),
                         stage_at);
  if (now.stage == state->stage()) return std::nullopt;
  StageTransition t{state->stage(), now.stage,
                    std::min(now.entered_ms, stage_at)};
  state->set_stage(now.stage);
  state->set_stage_entered_ms(t.at_ms);
  return t;
}

int64_t StageAsOf(const JourneyState& state) {
  return std::max(
      {state.last_ms(), state.churned_ms(), state.stage_as_of_ms()});
}

std::optional<StageTransition> NextStageChange(const CompiledModel& model,
                                               const JourneyState& state,
                                               const LearnedChurn* learned,
                                               int64_t scan_from,
                                               int64_t until_ms) {
  const omnicx::v1::Stage stored = state.stage();
  if (state.events() == 0 || stored == omnicx::v1::STAGE_CHURNED ||
      stored == omnicx::v1::STAGE_UNSPECIFIED) {
    return std::nullopt;
  }
  const int64_t from = std::max(StageAsOf(state), scan_from);
  auto differs = [&](int64_t t) {
    return ComputeStage(model, state, ComputeFeatures(model, state, t, learned),
                        t)
               .stage != stored;
  };
  // Idle this long, the customer is churned: a change is certain by then.
  const int64_t end = std::min(
      until_ms,
      std::max(from + 1, state.last_ms() + absl::ToInt64Milliseconds(
                                               model.churned_after_idle())));
  if (end <= from) return std::nullopt;
  constexpr int64_t kStep = 86400000;
  int64_t lo = from;
  int64_t hi = end;
  for (int64_t t = from + kStep; t < end; t += kStep) {
    if (differs(t)) {
      hi = t;
      break;
    }
    lo = t;
  }
  if (!differs(hi)) return std::nullopt;  // none up to until_ms
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (differs(mid) ? hi : lo) = mid;
  }
  const Features f = ComputeFeatures(model, state, hi, learned);
  return StageTransition{stored, ComputeStage(model, state, f, hi).stage, hi};
}

std::optional<int64_t> NextStageCheck(const CompiledModel& model,
                                      const JourneyState& state,
                                      int64_t checked_ms,
                                      absl::Duration interval) {
  const omnicx::v1::Stage stored = state.stage();
  if (state.events() == 0 || stored == omnicx::v1::STAGE_CHURNED ||
      stored == omnicx::v1::STAGE_UNSPECIFIED) {
    return std::nullopt;
  }
  int64_t next =
      checked_ms + std::max<int64_t>(1, absl::ToInt64Milliseconds(interval));
  const int64_t idle_end =
      state.last_ms() + absl::ToInt64Milliseconds(model.churned_after_idle());
  if (idle_end > checked_ms) next = std::min(next, idle_end);
  if (state.purchases() > 0) {
    const int64_t onboarded =
        state.first_purchase_ms() +
        absl::ToInt64Milliseconds(model.onboarding_period());
    if (onboarded > checked_ms) next = std::min(next, onboarded);
  }
  return next;
}

std::vector<StageTransition> SweepStage(const CompiledModel& model,
                                        JourneyState* state, int64_t now_ms,
                                        const LearnedChurn* learned,
                                        int64_t scan_from, int max_moves) {
  std::vector<StageTransition> moves;
  while (static_cast<int>(moves.size()) < max_moves) {
    const std::optional<StageTransition> next =
        NextStageChange(model, *state, learned, scan_from, now_ms);
    if (!next.has_value()) break;
    auto* swept = state->add_swept();
    swept->set_from(next->from);
    swept->set_to(next->to);
    swept->set_at_ms(next->at_ms);
    swept->set_from_entered_ms(state->stage_entered_ms());
    if (state->swept_size() > 16) {
      state->mutable_swept()->DeleteSubrange(0, 1);
    }
    state->set_stage(next->to);
    state->set_stage_entered_ms(next->at_ms);
    state->set_stage_as_of_ms(next->at_ms);
    moves.push_back(*next);
  }
  return moves;
}

std::vector<StageTransition> RetractSweptAfter(JourneyState* state,
                                               int64_t event_ms) {
  int k = state->swept_size();
  while (k > 0 && state->swept(k - 1).at_ms() > event_ms) --k;
  std::vector<StageTransition> out;
  if (k == state->swept_size()) return out;
  for (int i = k; i < state->swept_size(); ++i) {
    const auto& m = state->swept(i);
    out.push_back({m.from(), m.to(), m.at_ms()});
  }
  state->set_stage(state->swept(k).from());
  state->set_stage_entered_ms(state->swept(k).from_entered_ms());
  state->set_stage_as_of_ms(k > 0 ? state->swept(k - 1).at_ms() : 0);
  state->mutable_swept()->DeleteSubrange(k, state->swept_size() - k);
  return out;
}

omnicx::v1::JourneySummary Summarize(const CompiledModel& model,
                                     const JourneyState& state, int64_t now_ms,
                                     int max_drivers,
                                     const LearnedChurn* learned) {
  omnicx::v1::JourneySummary out;
  out.set_customer_id(state.customer_id());
  const Features f = ComputeFeatures(model, state, now_ms, learned);
  const StageAt stage = ComputeStage(model, state, f, now_ms);
  out.set_stage(stage.stage);
  const int64_t entered = stage.stage == state.stage()
                              ? state.stage_entered_ms()
                              : stage.entered_ms;
  if (stage.stage != omnicx::v1::STAGE_UNSPECIFIED) {
    *out.mutable_stage_entered_at() = time::TimestampFromUnixMillis(entered);
  }
  out.set_health(f.health);
  out.set_churn_risk(f.churn_risk);
  const std::map<std::string, double> named = NamedFeatures(f);
  (*out.mutable_signals())["experience"] = named.at("experience");
  (*out.mutable_signals())["effort"] = named.at("effort");
  (*out.mutable_signals())["engagement"] = named.at("engagement");
  (*out.mutable_signals())["value"] = named.at("value");
  if (state.events() > 0)
    *out.mutable_last_event_at() =
        time::TimestampFromUnixMillis(state.last_ms());
  out.set_event_count(state.events());

  // Open cases, most recent contact first.
  std::vector<std::pair<std::string, const omnicx::journey::v1::CaseState*>>
      open;
  for (const auto& [id, c] : state.cases()) {
    if (CaseOpen(c)) open.emplace_back(id, &c);
  }
  std::sort(open.begin(), open.end(), [](const auto& a, const auto& b) {
    if (a.second->last_contact_ms() != b.second->last_contact_ms()) {
      return a.second->last_contact_ms() > b.second->last_contact_ms();
    }
    return a.first < b.first;
  });
  for (const auto& [id, c] : open) {
    auto* oc = out.add_open_cases();
    oc->set_case_id(id);
    *oc->mutable_opened_at() = time::TimestampFromUnixMillis(c->opened_ms());
    *oc->mutable_last_contact_at() =
        time::TimestampFromUnixMillis(c->last_contact_ms());
    oc->set_contact_count(c->contacts());
    oc->set_complaint(c->complaint());
    for (int ch : c->channels()) {
      oc->add_channels(static_cast<omnicx::v1::Channel>(ch));
    }
    if (state.drivers().contains(c->first_driver())) {
      if (auto parts = ParseDriverKey(c->first_driver())) {
        oc->set_touchpoint(parts->name());
      }
    }
  }

  // Drivers: how many health points each touchpoint is worth now.
  struct Ranked {
    const DriverState* d;
    double impact;
    std::string key;
  };
  std::vector<Ranked> ranked;
  for (const auto& [key, d] : state.drivers()) {
    const double net = DecayedValueAt(d.health().positive(), now_ms,
                                      model.positive_half_life()) -
                       DecayedValueAt(d.health().negative(), now_ms,
                                      model.negative_half_life());
    const double impact =
        100.0 * (Sigmoid(f.health_logit) - Sigmoid(f.health_logit - net));
    // Below what a one-decimal display shows: no "+0.0" lines.
    if (std::abs(impact) < 0.05) continue;
    ranked.push_back({&d, impact, key});
  }
  std::sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
    if (std::abs(a.impact) != std::abs(b.impact)) {
      return std::abs(a.impact) > std::abs(b.impact);
    }
    return a.key < b.key;
  });
  for (int i = 0; i < static_cast<int>(ranked.size()) && i < max_drivers; ++i) {
    const DriverState& d = *ranked[i].d;
    const std::optional<DriverParts> parts = ParseDriverKey(ranked[i].key);
    if (!parts.has_value()) continue;
    auto* driver = out.add_drivers();
    driver->set_touchpoint(parts->name());
    driver->set_channel(parts->channel);
    driver->set_type(parts->type);
    driver->set_impact(ranked[i].impact);
    driver->set_count(static_cast<int32_t>(d.count()));
    *driver->mutable_last_at() = time::TimestampFromUnixMillis(d.last_ms());
    int top = 0;
    for (int s = 1; s < d.signal_amounts_size(); ++s) {
      if (d.signal_amounts(s) > d.signal_amounts(top)) top = s;
    }
    driver->set_signal(SignalName(top));
  }

  // Segments.
  for (const auto& rule : model.proto().segments()) {
    bool in = true;
    for (const auto& b : rule.all()) {
      auto v = named.find(b.feature());
      const double x = v == named.end() ? 0 : v->second;
      if ((b.has_min() && x < b.min()) || (b.has_max() && x > b.max())) {
        in = false;
        break;
      }
    }
    if (in && state.events() > 0) out.add_segments(rule.name());
  }
  return out;
}

namespace {

constexpr const char* kPainMetricNames[kPainMetrics] = {"a",  "t", "n", "w",
                                                        "wn", "r", "c"};

}  // namespace

PainSnapshot SnapshotPain(const JourneyState& state) {
  PainSnapshot out;
  if (state.events() == 0) return out;
  out.empty = false;
  out.stage = state.stage();
  absl::flat_hash_set<std::string> repeat;
  for (const auto& [id, c] : state.cases()) {
    if (c.contacts() >= 2) repeat.insert(c.first_driver());
  }
  // Churn risk in whole percentage points: the aggregates move when it moves
  // by a point, not on every page view (error at most half a point).
  out.churn = std::llround(state.churn_at_last() * 100);
  out.drivers.reserve(state.drivers_size());
  for (const auto& [key, d] : state.drivers()) {
    out.drivers[key] = {1,
                        d.count(),
                        d.negatives(),
                        std::llround(d.wait_seconds() * 1000),
                        d.waits(),
                        repeat.contains(key) ? 1 : 0,
                        out.churn};
  }
  return out;
}

AggregateFields PainContributions(const JourneyState& state) {
  const PainSnapshot snapshot = SnapshotPain(state);
  AggregateFields out;
  if (snapshot.empty) return out;
  for (const auto& [key, values] : snapshot.drivers) {
    for (int m = 0; m < kPainMetrics; ++m) {
      out[AggregateField(snapshot.stage, key, kPainMetricNames[m])] = values[m];
    }
  }
  out[PopulationField(snapshot.stage, "a")] = 1;
  out[PopulationField(snapshot.stage, "c")] = snapshot.churn;
  return out;
}

AggregateFields PainDelta(const PainSnapshot& before,
                          const PainSnapshot& after) {
  AggregateFields out;
  auto add_all = [&out](const PainSnapshot& s, int64_t sign) {
    if (s.empty) return;
    for (const auto& [key, values] : s.drivers) {
      for (int m = 0; m < kPainMetrics; ++m) {
        if (values[m] != 0) {
          out[AggregateField(s.stage, key, kPainMetricNames[m])] +=
              sign * values[m];
        }
      }
    }
    out[PopulationField(s.stage, "a")] += sign;
    if (s.churn != 0) out[PopulationField(s.stage, "c")] += sign * s.churn;
  };
  if (before.empty || after.empty || before.stage != after.stage) {
    // Different fields entirely: all of before out, all of after in.
    add_all(before, -1);
    add_all(after, 1);
    return out;
  }
  static const std::array<int64_t, kPainMetrics> kNone = {};
  auto add_changes = [&](const std::string& key,
                         const std::array<int64_t, kPainMetrics>& was,
                         const std::array<int64_t, kPainMetrics>& is) {
    for (int m = 0; m < kPainMetrics; ++m) {
      if (is[m] != was[m]) {
        out[AggregateField(after.stage, key, kPainMetricNames[m])] =
            is[m] - was[m];
      }
    }
  };
  for (const auto& [key, is] : after.drivers) {
    auto it = before.drivers.find(key);
    add_changes(key, it == before.drivers.end() ? kNone : it->second, is);
  }
  for (const auto& [key, was] : before.drivers) {
    if (!after.drivers.contains(key)) add_changes(key, was, kNone);
  }
  if (after.churn != before.churn) {
    out[PopulationField(after.stage, "c")] = after.churn - before.churn;
  }
  return out;
}

AggregateFields AggregateDelta(const AggregateFields& before,
                               const AggregateFields& after) {
  AggregateFields out;
  for (const auto& [k, v] : after) {
    auto it = before.find(k);
    const int64_t d = v - (it == before.end() ? 0 : it->second);
    if (d != 0) out[k] = d;
  }
  for (const auto& [k, v] : before) {
    if (after.count(k) == 0 && v != 0) out[k] = -v;
  }
  return out;
}

}  // namespace omnicx::journey
