// Arbitration without Redis: the gate table (eligibility, consent, channel,
// complaint policy, missing inputs), a property test that consent is never
// violated over random catalogs and customers, priority arithmetic, the
// human-touch rule, determinism under a seed, fallback selection, and the
// features distilled from profile and journey.
#include "services/recommendation/arbiter.h"

#include <random>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/time/proto_time.h"
#include "services/recommendation/catalog.h"

namespace omnicx::recommendation {
namespace {

using ::omnicx::v1::Action;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1795000000);

Action Make(const std::string& id, omnicx::v1::ActionKind kind, double value) {
  Action a;
  a.set_action_id(id);
  a.set_kind(kind);
  a.set_value(value);
  a.set_prior_accept_rate(0.2);
  return a;
}

CustomerFeatures Customer() {
  CustomerFeatures c;
  c.customer_id = "c1";
  c.has_profile = true;
  c.has_journey = true;
  c.stage = omnicx::v1::STAGE_ENGAGED;
  c.health = 60;
  c.churn_risk = 0.2;
  c.segments = {"digital_first"};
  return c;
}

struct GateCase {
  std::string name;
  std::function<void(Action*)> action;
  std::function<void(CustomerFeatures*)> customer;
  omnicx::v1::Channel channel;
  std::string reason;  // "" = passes
};

TEST(GateTest, Table) {
  using omnicx::v1::CHANNEL_SMS;
  using omnicx::v1::CHANNEL_UNSPECIFIED;
  using omnicx::v1::CHANNEL_VOICE;
  auto none = [](auto*) {};
  const std::vector<GateCase> cases = {
      {"plain", none, none, CHANNEL_UNSPECIFIED, ""},
      {"disabled", [](Action* a) { a->set_disabled(true); }, none,
       CHANNEL_UNSPECIFIED, "disabled"},
      {"channel_ok", [](Action* a) { a->add_channels(CHANNEL_VOICE); }, none,
       CHANNEL_VOICE, ""},
      {"channel_any", [](Action* a) { a->add_channels(CHANNEL_VOICE); }, none,
       CHANNEL_UNSPECIFIED, ""},
      {"channel_not", [](Action* a) { a->add_channels(CHANNEL_VOICE); }, none,
       CHANNEL_SMS, "channel:not deliverable on sms"},
      {"consent_missing",
       [](Action* a) { a->set_required_consent("marketing"); }, none,
       CHANNEL_UNSPECIFIED, "consent:marketing missing"},
      {"consent_granted",
       [](Action* a) { a->set_required_consent("marketing"); },
       [](CustomerFeatures* c) { c->consents.insert("marketing"); },
       CHANNEL_UNSPECIFIED, ""},
      {"consent_other_purpose",
       [](Action* a) { a->set_required_consent("marketing"); },
       [](CustomerFeatures* c) { c->consents.insert("analytics"); },
       CHANNEL_UNSPECIFIED, "consent:marketing missing"},
      {"consent_without_profile",
       [](Action* a) { a->set_required_consent("marketing"); },
       [](CustomerFeatures* c) { c->has_profile = false; }, CHANNEL_UNSPECIFIED,
       "consent:marketing missing (profile unavailable)"},
      {"stage_in",
       [](Action* a) {
         a->mutable_eligibility()->add_stages(omnicx::v1::STAGE_ENGAGED);
       },
       none, CHANNEL_UNSPECIFIED, ""},
      {"stage_out",
       [](Action* a) {
         a->mutable_eligibility()->add_stages(omnicx::v1::STAGE_LOYAL);
         a->mutable_eligibility()->add_stages(omnicx::v1::STAGE_AT_RISK);
       },
       none, CHANNEL_UNSPECIFIED,
       "eligibility:stage ENGAGED not in [LOYAL, AT_RISK]"},
      {"segments_any_hit",
       [](Action* a) {
         a->mutable_eligibility()->add_segments_any("detractor");
         a->mutable_eligibility()->add_segments_any("digital_first");
       },
       none, CHANNEL_UNSPECIFIED, ""},
      {"segments_any_miss",
       [](Action* a) { a->mutable_eligibility()->add_segments_any("vip"); },
       none, CHANNEL_UNSPECIFIED, "eligibility:none of segments [vip]"},
      {"segments_none_hit",
       [](Action* a) {
         a->mutable_eligibility()->add_segments_none("digital_first");
       },
       none, CHANNEL_UNSPECIFIED, "eligibility:segment digital_first"},
      {"health_below",
       [](Action* a) { a->mutable_eligibility()->set_min_health(70); }, none,
       CHANNEL_UNSPECIFIED, "eligibility:health 60 below 70"},
      {"health_above",
       [](Action* a) { a->mutable_eligibility()->set_max_health(40); }, none,
       CHANNEL_UNSPECIFIED, "eligibility:health 60 above 40"},
      {"health_boundary",
       [](Action* a) { a->mutable_eligibility()->set_min_health(60); }, none,
       CHANNEL_UNSPECIFIED, ""},
      {"churn_below",
       [](Action* a) { a->mutable_eligibility()->set_min_churn_risk(0.5); },
       none, CHANNEL_UNSPECIFIED, "eligibility:churn risk 0.20 below 0.50"},
      {"churn_above",
       [](Action* a) { a->mutable_eligibility()->set_max_churn_risk(0.1); },
       none, CHANNEL_UNSPECIFIED, "eligibility:churn risk 0.20 above 0.10"},
      {"needs_open_case",
       [](Action* a) { a->mutable_eligibility()->set_has_open_case(true); },
       none, CHANNEL_UNSPECIFIED, "eligibility:no open case"},
      {"has_open_case",
       [](Action* a) { a->mutable_eligibility()->set_has_open_case(true); },
       [](CustomerFeatures* c) { c->open_cases = 2; }, CHANNEL_UNSPECIFIED, ""},
      {"needs_no_open_case",
       [](Action* a) { a->mutable_eligibility()->set_has_open_case(false); },
       [](CustomerFeatures* c) { c->open_cases = 2; }, CHANNEL_UNSPECIFIED,
       "eligibility:2 open case(s)"},
      {"journey_condition_without_journey",
       [](Action* a) { a->mutable_eligibility()->set_min_health(10); },
       [](CustomerFeatures* c) { c->has_journey = false; }, CHANNEL_UNSPECIFIED,
       "eligibility:journey unavailable"},
      {"no_condition_without_journey", none,
       [](CustomerFeatures* c) { c->has_journey = false; }, CHANNEL_UNSPECIFIED,
       ""},
      {"sales_during_complaint",
       [](Action* a) { a->set_kind(omnicx::v1::ACTION_KIND_CROSS_SELL); },
       [](CustomerFeatures* c) {
         c->open_cases = 1;
         c->complaint_open = true;
       },
       CHANNEL_UNSPECIFIED, "policy:complaint open, service recovery first"},
      {"retention_during_complaint",
       [](Action* a) { a->set_kind(omnicx::v1::ACTION_KIND_RETENTION_OFFER); },
       [](CustomerFeatures* c) {
         c->open_cases = 1;
         c->complaint_open = true;
       },
       CHANNEL_UNSPECIFIED, "policy:complaint open, service recovery first"},
      {"recovery_during_complaint",
       [](Action* a) { a->set_kind(omnicx::v1::ACTION_KIND_SERVICE_RECOVERY); },
       [](CustomerFeatures* c) {
         c->open_cases = 1;
         c->complaint_open = true;
       },
       CHANNEL_UNSPECIFIED, ""},
      {"sales_with_non_complaint_case",
       [](Action* a) { a->set_kind(omnicx::v1::ACTION_KIND_CROSS_SELL); },
       [](CustomerFeatures* c) { c->open_cases = 1; }, CHANNEL_UNSPECIFIED, ""},
      {"sales_without_journey",
       [](Action* a) { a->set_kind(omnicx::v1::ACTION_KIND_CROSS_SELL); },
       [](CustomerFeatures* c) { c->has_journey = false; }, CHANNEL_UNSPECIFIED,
       "policy:complaint status unknown (journey unavailable), no sales"},
      {"consent_checked_before_eligibility",
       [](Action* a) {
         a->set_required_consent("marketing");
         a->mutable_eligibility()->set_min_health(90);
       },
       none, CHANNEL_UNSPECIFIED, "consent:marketing missing"},
  };
  for (const GateCase& c : cases) {
    Action a = Make("a", omnicx::v1::ACTION_KIND_EDUCATION, 10);
    c.action(&a);
    CustomerFeatures f = Customer();
    c.customer(&f);
    EXPECT_EQ(GateReason(a, f, c.channel), c.reason) << c.name;
  }
}

std::vector<const Action*> Pointers(const std::vector<Action>& actions) {
  std::vector<const Action*> out;
  for (const Action& a : actions) out.push_back(&a);
  return out;
}

TEST(ArbitrateTest, ConsentIsNeverViolatedOverRandomCatalogsAndCustomers) {
  std::mt19937_64 gen(20261124);
  const std::vector<std::string> purposes = {"marketing", "sms", "research",
                                             "profiling"};
  const std::vector<std::string> segments = {"detractor", "high_value",
                                             "digital_first", "at_risk"};
  auto pick = [&](int n) { return static_cast<int>(gen() % n); };
  int consented_recommended = 0;
  int needing_consent_recommended = 0;
  for (int round = 0; round < 2000; ++round) {
    std::vector<Action> actions;
    const int n = 1 + pick(30);
    for (int i = 0; i < n; ++i) {
      Action a =
          Make(absl::StrCat("a", i),
               static_cast<omnicx::v1::ActionKind>(1 + pick(7)), 1 + pick(500));
      if (pick(2)) a.set_required_consent(purposes[pick(4)]);
      if (pick(4) == 0) a.add_channels(omnicx::v1::CHANNEL_EMAIL);
      if (pick(4) == 0) a.mutable_eligibility()->set_max_health(pick(100));
      if (pick(5) == 0) a.set_agent_led(true);
      a.set_prior_accept_rate(pick(100) / 100.0);
      a.set_fallback(a.required_consent().empty() && pick(3) == 0);
      actions.push_back(a);
    }
    CustomerFeatures c;
    c.has_profile = pick(4) != 0;
    if (c.has_profile) {
      for (const std::string& p : purposes) {
        if (pick(2)) c.consents.insert(p);
      }
      c.lifetime_value = pick(3000);
      c.high_value = c.lifetime_value > 1000;
    }
    c.has_journey = pick(3) != 0;
    if (c.has_journey) {
      c.health = pick(101);
      c.churn_risk = pick(101) / 100.0;
      c.open_cases = pick(3);
      c.complaint_open = c.open_cases > 0 && pick(2);
      c.segments = {segments[pick(4)]};
      c.severe_negative = pick(2);
    }
    StatsTable stats;
    std::mt19937_64 rng(round);
    const auto channel = static_cast<omnicx::v1::Channel>(pick(13));
    Arbitration result = Arbitrate(Pointers(actions), c, channel, stats,
                                   ArbitrationOptions(), rng);
    EXPECT_EQ(result.ranked.size() + result.suppressed.size(), actions.size());
    for (const Candidate& cand : result.ranked) {
      const std::string& purpose = cand.action->required_consent();
      if (purpose.empty()) continue;
      ++needing_consent_recommended;
      ASSERT_TRUE(c.has_profile) << "round " << round;
      ASSERT_TRUE(c.consents.contains(purpose)) << "round " << round;
      ++consented_recommended;
    }
    for (const Action* a : FallbackActions(Pointers(actions), channel)) {
      ASSERT_TRUE(a->required_consent().empty());
    }
  }
  // The property was exercised, not vacuous.
  EXPECT_GT(needing_consent_recommended, 100);
  EXPECT_EQ(consented_recommended, needing_consent_recommended);
}

TEST(ArbitrateTest, PriorityIsTheProductOfItsFactorsWithReasons) {
  std::vector<Action> actions = {
      Make("recovery", omnicx::v1::ACTION_KIND_SERVICE_RECOVERY, 40)};
  actions[0].set_lever(1.5);
  CustomerFeatures c = Customer();
  c.open_cases = 1;
  c.health = 30;
  StatsTable stats;
  std::mt19937_64 rng(7);
  Arbitration r = Arbitrate(Pointers(actions), c, omnicx::v1::CHANNEL_VOICE,
                            stats, ArbitrationOptions(), rng);
  ASSERT_EQ(r.ranked.size(), 1u);
  const Candidate& cand = r.ranked[0];
  // service recovery: 1 + open case (1) + (100 - health) / 100.
  EXPECT_DOUBLE_EQ(cand.context_weight, 2.7);
  EXPECT_DOUBLE_EQ(cand.lever, 1.5);
  EXPECT_DOUBLE_EQ(cand.score, cand.propensity * 40 * 2.7 * 1.5);
  EXPECT_GT(cand.propensity, 0);
  EXPECT_LT(cand.propensity, 1);
  // Prior 0.2 with strength 10: Beta(2, 8).
  EXPECT_DOUBLE_EQ(cand.posterior_mean, 0.2);
  ASSERT_GE(cand.reasons.size(), 3u);
  EXPECT_THAT(cand.reasons[0], HasSubstr("× value 40 × context 2.70 × lever "
                                         "1.5"));
  EXPECT_THAT(cand.reasons[1], HasSubstr("Beta(2.00, 8.00)"));
  EXPECT_THAT(cand.reasons[2], HasSubstr("open case, health 30"));
  EXPECT_EQ(r.segment, "digital_first");
}

TEST(ArbitrateTest, HumanTouchOutranksAutomatedOffers) {
  std::vector<Action> actions = {
      Make("callback", omnicx::v1::ACTION_KIND_HUMAN_CALLBACK, 5),
      Make("recovery_agent", omnicx::v1::ACTION_KIND_SERVICE_RECOVERY, 5),
      Make("recovery_email", omnicx::v1::ACTION_KIND_SERVICE_RECOVERY, 500),
      Make("upgrade", omnicx::v1::ACTION_KIND_CROSS_SELL, 10000),
      Make("outreach", omnicx::v1::ACTION_KIND_PROACTIVE_OUTREACH, 5000)};
  actions[1].set_agent_led(true);
  for (Action& a : actions) a.set_prior_accept_rate(0.5);
  CustomerFeatures c = Customer();
  c.lifetime_value = 5000;
  c.high_value = true;
  c.severe_negative = true;
  c.severe_driver = "checkout (-25 health)";
  StatsTable stats;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    std::mt19937_64 rng(seed);
    Arbitration r = Arbitrate(Pointers(actions), c, omnicx::v1::CHANNEL_VOICE,
                              stats, ArbitrationOptions(), rng);
    ASSERT_TRUE(r.human_touch);
    ASSERT_EQ(r.ranked.size(), 5u);
    std::set<std::string> top = {r.ranked[0].action->action_id(),
                                 r.ranked[1].action->action_id()};
    EXPECT_EQ(top, (std::set<std::string>{"callback", "recovery_agent"}));
    EXPECT_THAT(r.ranked[0].reasons.back(),
                HasSubstr("human touch: high-value customer (lifetime value "
                          "5000) after a severe negative experience: checkout "
                          "(-25 health)"));
  }
  // Without the severe experience the big automated offers win.
  c.severe_negative = false;
  std::mt19937_64 rng(1);
  Arbitration r = Arbitrate(Pointers(actions), c, omnicx::v1::CHANNEL_VOICE,
                            stats, ArbitrationOptions(), rng);
  EXPECT_FALSE(r.human_touch);
  EXPECT_EQ(r.ranked[0].action->action_id(), "upgrade");
}

TEST(ArbitrateTest, SameSeedSameDecisions) {
  const ActionCatalog& catalog = DefaultCatalog();
  std::vector<const Action*> actions;
  for (const Action& a : catalog.actions()) actions.push_back(&a);
  CustomerFeatures c = Customer();
  c.consents.insert("marketing");
  c.health = 80;
  StatsTable stats;
  auto run = [&](uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::pair<std::string, double>> out;
    for (int i = 0; i < 20; ++i) {
      for (const Candidate& cand :
           Arbitrate(actions, c, omnicx::v1::CHANNEL_EMAIL, stats,
                     ArbitrationOptions(), rng)
               .ranked) {
        out.emplace_back(cand.action->action_id(), cand.propensity);
      }
    }
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(ArbitrateTest, DefaultCatalogPutsServiceRecoveryFirstDuringAComplaint) {
  std::vector<const Action*> actions;
  for (const Action& a : DefaultCatalog().actions()) actions.push_back(&a);
  CustomerFeatures c = Customer();
  c.consents.insert("marketing");
  c.open_cases = 1;
  c.complaint_open = true;
  c.health = 35;
  c.churn_risk =
      0.6;  // retention_discount_20 is eligible: only policy stops it
  StatsTable stats;
  std::mt19937_64 rng(3);
  Arbitration r = Arbitrate(actions, c, omnicx::v1::CHANNEL_VOICE, stats,
                            ArbitrationOptions(), rng);
  ASSERT_FALSE(r.ranked.empty());
  for (const Candidate& cand : r.ranked) {
    EXPECT_FALSE(IsSalesKind(cand.action->kind())) << cand.action->action_id();
  }
  bool saw_policy = false;
  for (const Suppression& s : r.suppressed) {
    if (s.action_id == "retention_discount_20" ||
        s.action_id == "cross_sell_premium_upgrade") {
      EXPECT_TRUE(absl::StartsWith(s.reason, "policy:") ||
                  absl::StartsWith(s.reason, "eligibility:"))
          << s.action_id << ": " << s.reason;
      saw_policy = saw_policy || absl::StartsWith(s.reason, "policy:");
    }
  }
  EXPECT_TRUE(saw_policy);
}

TEST(FallbackTest, OnlyEnabledConsentFreeFallbacksOnTheChannelByValue) {
  std::vector<Action> actions = {
      Make("a", omnicx::v1::ACTION_KIND_EDUCATION, 5),
      Make("b", omnicx::v1::ACTION_KIND_EDUCATION, 9),
      Make("c", omnicx::v1::ACTION_KIND_EDUCATION, 50),
      Make("d", omnicx::v1::ACTION_KIND_EDUCATION, 70),
      Make("e", omnicx::v1::ACTION_KIND_EDUCATION, 90)};
  actions[0].set_fallback(true);
  actions[1].set_fallback(true);
  actions[2].set_fallback(false);
  actions[3].set_fallback(true);
  actions[3].set_disabled(true);
  actions[4].set_fallback(true);
  actions[4].add_channels(omnicx::v1::CHANNEL_SMS);
  std::vector<std::string> ids;
  for (const Action* a :
       FallbackActions(Pointers(actions), omnicx::v1::CHANNEL_VOICE)) {
    ids.push_back(a->action_id());
  }
  EXPECT_THAT(ids, ::testing::ElementsAre("b", "a"));
}

TEST(FeaturesTest, ConsentsValueComplaintsAndSevereExperiences) {
  omnicx::v1::Profile p;
  p.set_customer_id("c9");
  p.set_lifetime_value(1200);
  auto* c1 = p.add_consents();
  c1->set_purpose("marketing");
  c1->set_granted(true);
  auto* c2 = p.add_consents();
  c2->set_purpose("sms");
  c2->set_granted(false);
  omnicx::v1::JourneySummary j;
  j.set_stage(omnicx::v1::STAGE_AT_RISK);
  j.set_health(25);
  j.set_churn_risk(0.7);
  j.add_segments("detractor");
  auto* oc = j.add_open_cases();
  oc->set_case_id("k1");
  *oc->mutable_opened_at() = time::ToProto(kNow - absl::Hours(24));
  oc->set_complaint(true);
  auto* d = j.add_drivers();
  d->set_touchpoint("checkout");
  d->set_type("complaint");
  d->set_impact(-22);
  *d->mutable_last_at() = time::ToProto(kNow - absl::Hours(1));

  FeatureOptions options;
  CustomerFeatures f = ExtractFeatures(&p, &j, kNow, options);
  EXPECT_EQ(f.customer_id, "c9");
  EXPECT_TRUE(f.consents.contains("marketing"));
  EXPECT_FALSE(f.consents.contains("sms"));
  EXPECT_TRUE(f.high_value);
  EXPECT_EQ(f.open_cases, 1);
  EXPECT_TRUE(f.complaint_open);
  EXPECT_TRUE(f.severe_negative);
  EXPECT_EQ(f.severe_driver, "checkout (-22 health)");

  // Old experiences are not severe-recent; an open case the customer did
  // not complain on is not a complaint.
  *d->mutable_last_at() = time::ToProto(kNow - absl::Hours(30 * 24));
  oc->set_complaint(false);
  f = ExtractFeatures(&p, &j, kNow, options);
  EXPECT_FALSE(f.severe_negative);
  EXPECT_FALSE(f.complaint_open);

  // No profile: no consents, not high value unless the journey says so.
  f = ExtractFeatures(nullptr, &j, kNow, options);
  EXPECT_FALSE(f.has_profile);
  EXPECT_TRUE(f.consents.empty());
  EXPECT_FALSE(f.high_value);
  j.add_segments("high_value");
  EXPECT_TRUE(ExtractFeatures(nullptr, &j, kNow, options).high_value);

  f = ExtractFeatures(&p, nullptr, kNow, options);
  EXPECT_FALSE(f.has_journey);
  EXPECT_EQ(f.open_cases, 0);
}

}  // namespace
}  // namespace omnicx::recommendation

namespace omnicx::recommendation {
namespace {

TEST(ContextWeightTest, IntentWeightsSomeKindsWithOrWithoutJourney) {
  Action retention = Make("r", omnicx::v1::ACTION_KIND_RETENTION_OFFER, 10);
  Action survey = Make("s", omnicx::v1::ACTION_KIND_SURVEY, 10);
  CustomerFeatures c = Customer();  // churn risk 0.2: retention 1 + 0.4
  std::string why;
  EXPECT_DOUBLE_EQ(ContextWeight(retention, c, &why), 1.4);
  c.intent = "retention";
  EXPECT_DOUBLE_EQ(ContextWeight(retention, c, &why), 1.4 * 1.5);
  EXPECT_EQ(why, "churn risk 0.20; intent retention ×1.5");
  EXPECT_DOUBLE_EQ(ContextWeight(survey, c, &why), 1.0);
  c.has_journey = false;
  EXPECT_DOUBLE_EQ(ContextWeight(retention, c, &why), 1.5);
  EXPECT_EQ(why, "no journey features; intent retention ×1.5");
  EXPECT_DOUBLE_EQ(IntentFactor("nonsense", omnicx::v1::ACTION_KIND_SURVEY),
                   1.0);
  EXPECT_DOUBLE_EQ(IntentFactor("survey", omnicx::v1::ACTION_KIND_SURVEY), 1.5);
}

}  // namespace
}  // namespace omnicx::recommendation
