// The journey math without storage: decayed sums, order independence of
// the state under random permutations, merge = replay over random merge
// trees, and the behaviour the CX evidence asks for (one bad experience
// moves churn risk to about a quarter; recovery softens but never erases a
// lapse; negatives outlast positives), stages, cases, drivers and segments.
#include "services/journey/journey_state.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/time/proto_time.h"
#include "services/journey/churn_learning.h"
#include "services/journey/decayed_sum.h"
#include "services/journey/journey_model.h"

namespace omnicx::journey {
namespace {

using ::omnicx::journey::v1::DecayedSum;
using ::omnicx::journey::v1::SignedSum;
using ::omnicx::v1::Interaction;
using ::testing::ElementsAre;

constexpr int64_t kDay = 86400000;
constexpr int64_t kT0 = 1790000000000;  // 2026-09-21

const CompiledModel& Model() {
  static const auto* model =
      new CompiledModel(*CompileModel(DefaultJourneyModel()));
  return *model;
}

Interaction Event(const std::string& id, omnicx::v1::Channel channel,
                  const std::string& type, int64_t t_ms) {
  Interaction e;
  e.set_event_id(id);
  e.set_channel(channel);
  e.set_type(type);
  *e.mutable_occurred_at() = time::TimestampFromUnixMillis(t_ms);
  return e;
}

// Learned corrections on some touchpoints, types and channels the random
// events use: the invariants hold with what the learner learned too.
const LearnedChurn& Learned() {
  static const auto* learned = [] {
    LearnedChurnModel m;
    m.set_version(3);
    for (const auto& [f, v] : std::vector<std::pair<std::string, double>>{
             {"bias", 0.3},
             {"prior", -0.2},
             {"n:y:delivery", 1.5},
             {"n:t:checkout", 0.7},
             {"p:t:checkout", -0.4},
             {"n:c:CHANNEL_VOICE", 0.5}}) {
      (*m.mutable_weights())[f].set_value(v);
    }
    return new LearnedChurn(m);
  }();
  return *learned;
}

JourneyState Replay(const std::vector<Interaction>& events) {
  JourneyState s;
  for (const Interaction& e : events) {
    ApplyEvent(Model(), e, &s);
    RefreshDerived(Model(), &s, &Learned());
  }
  return s;
}

// --- decayed sums -----------------------------------------------------------

TEST(DecayedSumTest, FollowsTheAnchoredFormula) {
  const absl::Duration h = absl::Hours(24);
  DecayedSum s;
  AddDecayed(&s, 4.0, kT0, h);
  EXPECT_DOUBLE_EQ(s.value(), 4.0);
  EXPECT_EQ(s.anchor_ms(), kT0);
  AddDecayed(&s, 1.0, kT0 + kDay, h);  // later: decay then add
  EXPECT_DOUBLE_EQ(s.value(), 3.0);
  EXPECT_EQ(s.anchor_ms(), kT0 + kDay);
  AddDecayed(&s, 2.0, kT0 - kDay, h);  // earlier: add decayed, anchor stays
  EXPECT_DOUBLE_EQ(s.value(), 3.5);
  EXPECT_EQ(s.anchor_ms(), kT0 + kDay);
  EXPECT_DOUBLE_EQ(DecayedValueAt(s, kT0 + 2 * kDay, h), 1.75);
  AddDecayed(&s, -2.0, kT0 - kDay, h);  // removes that contribution exactly
  EXPECT_DOUBLE_EQ(s.value(), 3.0);
}

TEST(DecayedSumTest, AnyOrderAndAnyMergeTreeGiveTheSameSum) {
  const absl::Duration h = absl::Hours(24 * 30);
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::pair<double, int64_t>> terms;
    const int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      terms.emplace_back(std::uniform_real_distribution<>(0.01, 10)(rng),
                         kT0 + static_cast<int64_t>(rng() % (400 * kDay)));
    }
    DecayedSum reference;
    for (const auto& [w, t] : terms) AddDecayed(&reference, w, t, h);
    std::shuffle(terms.begin(), terms.end(), rng);
    // Split into parts, sum each, merge the parts.
    std::vector<DecayedSum> parts(1 + rng() % 4);
    for (const auto& [w, t] : terms) {
      AddDecayed(&parts[rng() % parts.size()], w, t, h);
    }
    DecayedSum merged;
    for (const DecayedSum& p : parts) MergeDecayed(&merged, p, h);
    EXPECT_EQ(merged.anchor_ms(), reference.anchor_ms());
    EXPECT_NEAR(merged.value(), reference.value(),
                1e-9 * std::abs(reference.value()));
  }
}

// --- order independence and merge = replay ---------------------------------

void ExpectSumNear(const DecayedSum& a, const DecayedSum& b, absl::Duration h,
                   const std::string& what) {
  const int64_t at = std::max(a.anchor_ms(), b.anchor_ms());
  const double va = DecayedValueAt(a, at, h), vb = DecayedValueAt(b, at, h);
  EXPECT_NEAR(va, vb, 1e-9 * std::max({1.0, std::abs(va), std::abs(vb)}))
      << what;
}

void ExpectSignedNear(const SignedSum& a, const SignedSum& b,
                      const std::string& what) {
  ExpectSumNear(a.positive(), b.positive(), Model().positive_half_life(),
                what + ".positive");
  ExpectSumNear(a.negative(), b.negative(), Model().negative_half_life(),
                what + ".negative");
}

// Equal up to rounding, except the stage's entry time (documented as
// arrival-order dependent).
void ExpectStatesEqual(const JourneyState& a, const JourneyState& b) {
  ExpectSignedNear(a.experience(), b.experience(), "experience");
  ExpectSignedNear(a.effort(), b.effort(), "effort");
  ExpectSignedNear(a.engagement(), b.engagement(), "engagement");
  ExpectSignedNear(a.value(), b.value(), "value");
  EXPECT_EQ(a.events(), b.events());
  EXPECT_EQ(a.first_ms(), b.first_ms());
  EXPECT_EQ(a.last_ms(), b.last_ms());
  EXPECT_EQ(a.purchases(), b.purchases());
  EXPECT_EQ(a.first_purchase_ms(), b.first_purchase_ms());
  EXPECT_EQ(a.last_purchase_ms(), b.last_purchase_ms());
  EXPECT_EQ(a.last_cancel_ms(), b.last_cancel_ms());
  EXPECT_EQ(a.churned_ms(), b.churned_ms());
  EXPECT_EQ(a.last_nps(), b.last_nps());
  EXPECT_EQ(a.last_nps_ms(), b.last_nps_ms());
  EXPECT_NEAR(a.lifetime_value(), b.lifetime_value(), 1e-6);
  EXPECT_EQ(a.channel_counts().size(), b.channel_counts().size());
  for (const auto& [ch, n] : a.channel_counts()) {
    EXPECT_EQ(b.channel_counts().at(ch), n);
  }
  ASSERT_EQ(a.drivers().size(), b.drivers().size());
  for (const auto& [key, d] : a.drivers()) {
    ASSERT_TRUE(b.drivers().contains(key));
    const auto& e = b.drivers().at(key);
    ExpectSignedNear(d.health(), e.health(), "driver");
    ExpectSignedNear(d.churn(), e.churn(), "driver churn");
    EXPECT_EQ(d.count(), e.count());
    EXPECT_EQ(d.negatives(), e.negatives());
    EXPECT_EQ(d.last_ms(), e.last_ms());
    EXPECT_EQ(d.waits(), e.waits());
  }
  ASSERT_EQ(a.cases().size(), b.cases().size());
  for (const auto& [id, c] : a.cases()) {
    ASSERT_TRUE(b.cases().contains(id));
    const auto& d = b.cases().at(id);
    EXPECT_EQ(c.contacts(), d.contacts());
    EXPECT_EQ(c.opened_ms(), d.opened_ms());
    EXPECT_EQ(c.last_contact_ms(), d.last_contact_ms());
    EXPECT_EQ(c.resolved_ms(), d.resolved_ms());
    EXPECT_EQ(c.first_driver(), d.first_driver());
    EXPECT_THAT(c.channels(), ::testing::ElementsAreArray(d.channels()));
    EXPECT_DOUBLE_EQ(c.effort(), d.effort());
    EXPECT_EQ(c.complaint(), d.complaint());
  }
  EXPECT_EQ(a.stage(), b.stage());
  EXPECT_NEAR(a.churn_at_last(), b.churn_at_last(), 1e-9);
  // Churn risk read with the learned corrections.
  const int64_t now = std::max(a.last_ms(), b.last_ms()) + 10 * kDay;
  EXPECT_NEAR(ComputeFeatures(Model(), a, now, &Learned()).churn_risk,
              ComputeFeatures(Model(), b, now, &Learned()).churn_risk, 1e-9);
}

std::vector<Interaction> RandomEvents(std::mt19937_64& rng, int n) {
  static const omnicx::v1::Channel kChannels[] = {
      omnicx::v1::CHANNEL_WEB, omnicx::v1::CHANNEL_VOICE,
      omnicx::v1::CHANNEL_CHAT, omnicx::v1::CHANNEL_STORE};
  static const char* kTypes[] = {
      "page_view",       "purchase",     "support_contact",
      "complaint",       "delivery",     "issue_resolved",
      "survey_response", "cancellation", "churned"};
  std::vector<Interaction> out;
  for (int i = 0; i < n; ++i) {
    Interaction e =
        Event(absl::StrCat("e", i), kChannels[rng() % 4], kTypes[rng() % 9],
              kT0 + static_cast<int64_t>(rng() % (300 * kDay)));
    e.set_touchpoint(rng() % 2 ? "checkout" : "");
    e.set_outcome(static_cast<omnicx::v1::Outcome>(rng() % 5));
    if (rng() % 3 == 0) e.set_case_id(absl::StrCat("case-", rng() % 5));
    if (rng() % 4 == 0) {
      e.set_sentiment(std::uniform_real_distribution<>(-1, 1)(rng));
    }
    if (rng() % 5 == 0) e.mutable_feedback()->set_nps(rng() % 11);
    if (rng() % 6 == 0) e.mutable_feedback()->set_ces(1 + rng() % 7);
    if (rng() % 4 == 0) e.mutable_wait()->set_seconds(rng() % 2000);
    if (rng() % 3 == 0) e.set_value((rng() % 20000) / 10.0 - 300);
    out.push_back(e);
  }
  return out;
}

TEST(JourneyStateTest, AnyArrivalOrderGivesTheSameState) {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 100; ++round) {
    std::vector<Interaction> events = RandomEvents(rng, 1 + rng() % 60);
    const JourneyState reference = Replay(events);
    for (int p = 0; p < 3; ++p) {
      std::shuffle(events.begin(), events.end(), rng);
      SCOPED_TRACE(absl::StrCat("round ", round, " permutation ", p));
      ExpectStatesEqual(Replay(events), reference);
    }
  }
}

TEST(JourneyStateTest, RandomMergeTreesEqualReplayingTheUnion) {
  std::mt19937_64 rng(13);
  for (int round = 0; round < 100; ++round) {
    std::vector<Interaction> events = RandomEvents(rng, 1 + rng() % 60);
    const JourneyState reference = Replay(events);
    // Deal the events to up to 5 customers, then merge them pairwise in a
    // random order until one is left.
    std::vector<std::vector<Interaction>> dealt(1 + rng() % 5);
    for (const Interaction& e : events)
      dealt[rng() % dealt.size()].push_back(e);
    std::vector<JourneyState> states;
    for (const auto& part : dealt) states.push_back(Replay(part));
    while (states.size() > 1) {
      const size_t i = rng() % states.size();
      JourneyState taken = states[i];
      states.erase(states.begin() + i);
      JourneyState& into = states[rng() % states.size()];
      MergeState(Model(), taken, &into);
      RefreshDerived(Model(), &into, &Learned());
    }
    SCOPED_TRACE(absl::StrCat("round ", round));
    ExpectStatesEqual(states[0], reference);
  }
}

// --- behaviour --------------------------------------------------------------

double ChurnAt(const JourneyState& s, int64_t at) {
  return ComputeFeatures(Model(), s, at).churn_risk;
}

std::vector<Interaction> SevereLapse() {
  Interaction delivery = Event("d1", omnicx::v1::CHANNEL_WEB, "delivery", kT0);
  delivery.set_outcome(omnicx::v1::OUTCOME_FAILURE);
  Interaction complaint =
      Event("c1", omnicx::v1::CHANNEL_VOICE, "complaint", kT0 + 3600000);
  complaint.set_case_id("case-1");
  return {delivery, complaint};
}

TEST(JourneyBehaviourTest, OneSevereBadExperienceMovesChurnToAboutAQuarter) {
  const JourneyState neutral;
  const double baseline = ChurnAt(neutral, kT0);
  EXPECT_NEAR(baseline, 0.05, 0.001);
  const JourneyState lapsed = Replay(SevereLapse());
  const double churn = ChurnAt(lapsed, kT0 + 2 * 3600000);
  EXPECT_GE(churn, 0.2);
  EXPECT_LE(churn, 0.3);
}

TEST(JourneyBehaviourTest, RecoveryHelpsButNeverErasesMoreThanHalf) {
  std::vector<Interaction> events = SevereLapse();
  const int64_t at = kT0 + kDay;
  const double baseline = ChurnAt(JourneyState(), at);
  const double lapse = ChurnAt(Replay(events), at) - baseline;
  // The best single act of recovery: resolved, successfully, delighted.
  Interaction resolved =
      Event("r1", omnicx::v1::CHANNEL_VOICE, "issue_resolved", kT0 + 7200000);
  resolved.set_case_id("case-1");
  resolved.set_outcome(omnicx::v1::OUTCOME_SUCCESS);
  resolved.set_sentiment(1.0);
  resolved.mutable_feedback()->set_csat(5);
  events.push_back(resolved);
  const JourneyState recovered = Replay(events);
  const double after = ChurnAt(recovered, at) - baseline;
  EXPECT_LT(after, lapse);        // recovery helps
  EXPECT_GE(after, 0.5 * lapse);  // but never below half of the lapse
  EXPECT_TRUE(Summarize(Model(), recovered, at).open_cases().empty());
  const auto lapsed = Summarize(Model(), Replay(SevereLapse()), at);
  ASSERT_EQ(lapsed.open_cases_size(), 1);
  EXPECT_TRUE(lapsed.open_cases(0).complaint());
}

TEST(JourneyBehaviourTest, NegativesOutlastPositivesOfEqualWeight) {
  Interaction good = Event("g", omnicx::v1::CHANNEL_WEB, "x-test", kT0);
  good.set_sentiment(0.8);
  Interaction bad = Event("b", omnicx::v1::CHANNEL_WEB, "x-test", kT0);
  bad.set_sentiment(-0.8);
  const JourneyState up = Replay({good}), down = Replay({bad});
  const double neutral = ComputeFeatures(Model(), JourneyState(), kT0).health;
  for (int days : {0, 30, 90, 180}) {
    const int64_t at = kT0 + days * kDay;
    const double gain =
        NamedFeatures(ComputeFeatures(Model(), up, at)).at("experience");
    const double loss =
        -NamedFeatures(ComputeFeatures(Model(), down, at)).at("experience");
    EXPECT_DOUBLE_EQ(gain, days == 0 ? loss : gain);
    if (days > 0) EXPECT_GT(loss, gain) << days << " days";
  }
  // At 30 days the positive part has halved, the negative only by 16%.
  EXPECT_NEAR(NamedFeatures(ComputeFeatures(Model(), up, kT0 + 30 * kDay))
                  .at("experience"),
              0.6, 1e-9);
  EXPECT_NEAR(-NamedFeatures(ComputeFeatures(Model(), down, kT0 + 120 * kDay))
                   .at("experience"),
              0.6, 1e-9);
  EXPECT_GT(neutral, ComputeFeatures(Model(), down, kT0 + 60 * kDay).health);
}

// --- stages, cases, drivers, segments ---------------------------------------

omnicx::v1::Stage StageOf(const std::vector<Interaction>& events, int64_t at) {
  return Summarize(Model(), Replay(events), at).stage();
}

TEST(JourneyStageTest, FollowsTheJourney) {
  using omnicx::v1::CHANNEL_WEB;
  Interaction view = Event("v", CHANNEL_WEB, "page_view", kT0);
  Interaction product = Event("p", CHANNEL_WEB, "product_view", kT0 + 1000);
  Interaction cart = Event("a", CHANNEL_WEB, "add_to_cart", kT0 + 2000);
  Interaction buy = Event("b", CHANNEL_WEB, "purchase", kT0 + 3000);
  buy.set_value(120);
  EXPECT_EQ(StageOf({}, kT0), omnicx::v1::STAGE_UNSPECIFIED);
  EXPECT_EQ(StageOf({view}, kT0), omnicx::v1::STAGE_AWARENESS);
  EXPECT_EQ(StageOf({view, product}, kT0 + 1000),
            omnicx::v1::STAGE_CONSIDERATION);
  EXPECT_EQ(StageOf({view, product, cart}, kT0 + 2000),
            omnicx::v1::STAGE_PURCHASE);
  EXPECT_EQ(StageOf({view, product, cart, buy}, kT0 + kDay),
            omnicx::v1::STAGE_ONBOARDING);
  const JourneyState engaged = Replay({view, product, cart, buy});
  const auto later = Summarize(Model(), engaged, kT0 + 40 * kDay);
  EXPECT_EQ(later.stage(), omnicx::v1::STAGE_ENGAGED);
  // Entered when onboarding ended, not when asked.
  EXPECT_EQ(time::ToUnixMillis(later.stage_entered_at()),
            kT0 + 3000 + 30 * kDay);
  EXPECT_EQ(Summarize(Model(), engaged, kT0 + 200 * kDay).stage(),
            omnicx::v1::STAGE_CHURNED);

  std::vector<Interaction> loyal;
  for (int i = 0; i < 3; ++i) {
    Interaction p = Event(absl::StrCat("p", i), CHANNEL_WEB, "purchase",
                          kT0 + i * 10 * kDay);
    p.set_outcome(omnicx::v1::OUTCOME_SUCCESS);
    p.set_value(80);
    loyal.push_back(p);
  }
  EXPECT_EQ(StageOf(loyal, kT0 + 21 * kDay), omnicx::v1::STAGE_LOYAL);
  Interaction nps = Event("n", CHANNEL_WEB, "survey_response", kT0 + 21 * kDay);
  nps.mutable_feedback()->set_nps(10);
  loyal.push_back(nps);
  EXPECT_EQ(StageOf(loyal, kT0 + 22 * kDay), omnicx::v1::STAGE_ADVOCATE);
  Interaction cancel = Event("x", CHANNEL_WEB, "cancellation", kT0 + 23 * kDay);
  loyal.push_back(cancel);
  EXPECT_EQ(StageOf(loyal, kT0 + 23 * kDay), omnicx::v1::STAGE_CHURNED);

  std::vector<Interaction> risky = {buy};
  for (const Interaction& e : SevereLapse()) risky.push_back(e);
  Interaction again =
      Event("c2", omnicx::v1::CHANNEL_CHAT, "complaint", kT0 + 2 * 3600000);
  again.set_case_id("case-1");
  again.mutable_wait()->set_seconds(1800);
  risky.push_back(again);
  EXPECT_EQ(StageOf(risky, kT0 + 3 * 3600000), omnicx::v1::STAGE_AT_RISK);
}

// Every move is a real change of the stage computed by time alone: the
// stage just before it is `from`, at it `to`.
void ExpectRealMoves(const JourneyState& state,
                     const std::vector<StageTransition>& moves,
                     const LearnedChurn* learned) {
  for (const StageTransition& m : moves) {
    EXPECT_EQ(Summarize(Model(), state, m.at_ms - 1, 10, learned).stage(),
              m.from);
    EXPECT_EQ(Summarize(Model(), state, m.at_ms, 10, learned).stage(), m.to);
  }
}

TEST(JourneyStageTest, AQuietBuyerMovesOnByTimeAlone) {
  Interaction buy = Event("b", omnicx::v1::CHANNEL_WEB, "purchase", kT0 + 3000);
  buy.set_value(120);
  JourneyState s = Replay({buy});
  ASSERT_EQ(s.stage(), omnicx::v1::STAGE_ONBOARDING);
  // Onboarding ends exactly 30 days after the first purchase.
  std::optional<StageTransition> next = NextStageChange(Model(), s, &Learned());
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->from, omnicx::v1::STAGE_ONBOARDING);
  EXPECT_EQ(next->to, omnicx::v1::STAGE_ENGAGED);
  EXPECT_EQ(next->at_ms, kT0 + 3000 + 30 * kDay);
  // Nothing is stored before it is due.
  EXPECT_TRUE(SweepStage(Model(), &s, next->at_ms - 1, &Learned()).empty());
  EXPECT_EQ(s.stage(), omnicx::v1::STAGE_ONBOARDING);
  // A sweep long after stores every move on the way, each when it happened:
  // engaged, then churned after 180 idle days.
  const JourneyState quiet = s;
  const std::vector<StageTransition> moves =
      SweepStage(Model(), &s, kT0 + 400 * kDay, &Learned());
  ASSERT_EQ(moves.size(), 2u);
  EXPECT_EQ(moves[0].to, omnicx::v1::STAGE_ENGAGED);
  EXPECT_EQ(moves[0].at_ms, kT0 + 3000 + 30 * kDay);
  EXPECT_EQ(moves[1].from, omnicx::v1::STAGE_ENGAGED);
  EXPECT_EQ(moves[1].to, omnicx::v1::STAGE_CHURNED);
  EXPECT_EQ(moves[1].at_ms, kT0 + 3000 + 180 * kDay);
  ExpectRealMoves(quiet, moves, &Learned());
  EXPECT_EQ(s.stage(), omnicx::v1::STAGE_CHURNED);
  EXPECT_EQ(s.stage_entered_ms(), kT0 + 3000 + 180 * kDay);
  EXPECT_EQ(StageAsOf(s), kT0 + 3000 + 180 * kDay);
  // Churned stays churned until they come back.
  EXPECT_FALSE(NextStageChange(Model(), s, &Learned()).has_value());
}

TEST(JourneyStageTest, AnIdleUnhappyCustomerBecomesAtRiskThenChurned) {
  // The configured model alone (no learned corrections).
  Interaction buy = Event("b", omnicx::v1::CHANNEL_WEB, "purchase", kT0);
  buy.set_value(120);
  Interaction complaint =
      Event("c", omnicx::v1::CHANNEL_VOICE, "complaint", kT0 + 40 * kDay);
  Interaction call = Event("s", omnicx::v1::CHANNEL_WEB, "support_contact",
                           kT0 + 40 * kDay + 1000);
  call.set_case_id("k");
  call.mutable_wait()->set_seconds(1800);
  const int64_t last = kT0 + 40 * kDay + 2000;
  Interaction ret = Event("r", omnicx::v1::CHANNEL_WEB, "return", last);
  JourneyState s;
  for (const Interaction& e : {buy, complaint, call, ret}) {
    ApplyEvent(Model(), e, &s);
    RefreshDerived(Model(), &s);
  }
  ASSERT_EQ(s.stage(), omnicx::v1::STAGE_ENGAGED) << s.churn_at_last();
  const JourneyState quiet = s;
  // Idle months raise churn risk past 0.30 shortly before 180 idle days.
  const std::vector<StageTransition> moves =
      SweepStage(Model(), &s, kT0 + 400 * kDay);
  ASSERT_EQ(moves.size(), 2u);
  EXPECT_EQ(moves[0].from, omnicx::v1::STAGE_ENGAGED);
  EXPECT_EQ(moves[0].to, omnicx::v1::STAGE_AT_RISK);
  EXPECT_GT(moves[0].at_ms, last + 150 * kDay);
  EXPECT_LT(moves[0].at_ms, last + 180 * kDay);
  EXPECT_EQ(moves[1].from, omnicx::v1::STAGE_AT_RISK);
  EXPECT_EQ(moves[1].to, omnicx::v1::STAGE_CHURNED);
  EXPECT_EQ(moves[1].at_ms, last + 180 * kDay);
  ExpectRealMoves(quiet, moves, nullptr);
}

TEST(JourneyStageTest, TheNextCheckIsCheapAndNeverMissesABoundary) {
  Interaction buy = Event("b", omnicx::v1::CHANNEL_WEB, "purchase", kT0);
  buy.set_value(120);
  JourneyState s = Replay({buy});
  const absl::Duration day = absl::Hours(24);
  EXPECT_EQ(NextStageCheck(Model(), s, kT0, day), kT0 + kDay);
  // The exact end of onboarding, then of the idle limit.
  EXPECT_EQ(NextStageCheck(Model(), s, kT0 + 29 * kDay + 1, day),
            kT0 + 30 * kDay);
  EXPECT_EQ(NextStageCheck(Model(), s, kT0 + 179 * kDay + 5, day),
            kT0 + 180 * kDay);
  // A window: nothing up to its end, the move just inside it.
  EXPECT_FALSE(
      NextStageChange(Model(), s, &Learned(), kT0 + kDay, kT0 + 30 * kDay - 1)
          .has_value());
  EXPECT_EQ(
      NextStageChange(Model(), s, &Learned(), kT0 + 29 * kDay, kT0 + 30 * kDay)
          ->at_ms,
      kT0 + 30 * kDay);
  ASSERT_EQ(SweepStage(Model(), &s, kT0 + 400 * kDay, &Learned()).size(), 2u);
  EXPECT_EQ(NextStageCheck(Model(), s, kT0 + 400 * kDay, day), std::nullopt);
  EXPECT_EQ(NextStageCheck(Model(), JourneyState(), kT0, day), std::nullopt);
}

TEST(JourneyStageTest, ALateTouchpointTakesBackTheSweptMovesAfterIt) {
  Interaction buy = Event("b", omnicx::v1::CHANNEL_WEB, "purchase", kT0);
  buy.set_value(120);
  JourneyState s = Replay({buy});
  ASSERT_EQ(SweepStage(Model(), &s, kT0 + 400 * kDay, &Learned()).size(), 2u);
  ASSERT_EQ(s.swept_size(), 2);
  EXPECT_TRUE(RetractSweptAfter(&s, kT0 + 200 * kDay).empty());
  const std::vector<StageTransition> back =
      RetractSweptAfter(&s, kT0 + 100 * kDay);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].from, omnicx::v1::STAGE_ENGAGED);
  EXPECT_EQ(back[0].to, omnicx::v1::STAGE_CHURNED);
  EXPECT_EQ(back[0].at_ms, kT0 + 180 * kDay);
  EXPECT_EQ(s.stage(), omnicx::v1::STAGE_ENGAGED);
  EXPECT_EQ(s.stage_entered_ms(), kT0 + 30 * kDay);
  EXPECT_EQ(StageAsOf(s), kT0 + 30 * kDay);
  // With the touchpoint the customer churns 180 days after it instead.
  ApplyEvent(Model(),
             Event("v", omnicx::v1::CHANNEL_WEB, "page_view", kT0 + 100 * kDay),
             &s);
  EXPECT_FALSE(RefreshDerived(Model(), &s, &Learned()).has_value());
  EXPECT_EQ(s.swept_size(), 0);  // history now
  const std::vector<StageTransition> again =
      SweepStage(Model(), &s, kT0 + 400 * kDay, &Learned());
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].at_ms, kT0 + 280 * kDay);
}

TEST(JourneyStageTest, ALateTouchpointDoesNotTakeASweptStageBack) {
  Interaction buy = Event("b", omnicx::v1::CHANNEL_WEB, "purchase", kT0);
  buy.set_value(120);
  JourneyState s = Replay({buy});
  ASSERT_EQ(SweepStage(Model(), &s, kT0 + 31 * kDay, &Learned()).size(), 1u);
  ASSERT_EQ(s.stage(), omnicx::v1::STAGE_ENGAGED);
  // A page view from day 10 arrives after the sweep: still engaged, no move.
  ApplyEvent(Model(),
             Event("v", omnicx::v1::CHANNEL_WEB, "page_view", kT0 + 10 * kDay),
             &s);
  EXPECT_FALSE(RefreshDerived(Model(), &s, &Learned()).has_value());
  EXPECT_EQ(s.stage(), omnicx::v1::STAGE_ENGAGED);
}

TEST(JourneyCaseTest, RepeatContactsAndChannelSwitchesRaiseEffort) {
  Interaction first =
      Event("1", omnicx::v1::CHANNEL_WEB, "support_contact", kT0);
  first.set_case_id("k");
  first.set_touchpoint("billing");
  Interaction second =
      Event("2", omnicx::v1::CHANNEL_VOICE, "support_contact", kT0 + kDay);
  second.set_case_id("k");
  Interaction third =
      Event("3", omnicx::v1::CHANNEL_VOICE, "support_contact", kT0 + 2 * kDay);
  third.set_case_id("k");
  const JourneyState one = Replay({first});
  const JourneyState three = Replay({first, second, third});
  const auto at = kT0 + 2 * kDay;
  EXPECT_DOUBLE_EQ(ComputeFeatures(Model(), one, at).effort_negative, 0);
  // Two repeats + one switch = 3 effort, booked at the last contact.
  EXPECT_NEAR(ComputeFeatures(Model(), three, at).effort_negative, 3.0, 1e-12);
  const auto summary = Summarize(Model(), three, at);
  ASSERT_EQ(summary.open_cases_size(), 1);
  EXPECT_EQ(summary.open_cases(0).case_id(), "k");
  EXPECT_EQ(summary.open_cases(0).contact_count(), 3);
  EXPECT_EQ(summary.open_cases(0).touchpoint(), "billing");
  EXPECT_FALSE(summary.open_cases(0).complaint());
  EXPECT_THAT(summary.open_cases(0).channels(),
              ElementsAre(omnicx::v1::CHANNEL_WEB, omnicx::v1::CHANNEL_VOICE));
  Interaction resolved =
      Event("4", omnicx::v1::CHANNEL_VOICE, "issue_resolved", kT0 + 3 * kDay);
  resolved.set_case_id("k");
  EXPECT_TRUE(Summarize(Model(), Replay({first, second, third, resolved}),
                        kT0 + 3 * kDay)
                  .open_cases()
                  .empty());
  // A contact after the resolution reopens it.
  Interaction reopen =
      Event("5", omnicx::v1::CHANNEL_CHAT, "support_contact", kT0 + 4 * kDay);
  reopen.set_case_id("k");
  EXPECT_EQ(
      Summarize(Model(), Replay({first, resolved, reopen}), kT0 + 4 * kDay)
          .open_cases_size(),
      1);
}

TEST(JourneyDriverTest, DriversExplainHealthLargestFirst) {
  Interaction fail = Event("f", omnicx::v1::CHANNEL_WEB, "payment", kT0);
  fail.set_touchpoint("checkout");
  fail.set_outcome(omnicx::v1::OUTCOME_FAILURE);
  Interaction view = Event("v", omnicx::v1::CHANNEL_WEB, "page_view", kT0);
  Interaction buy = Event("b", omnicx::v1::CHANNEL_STORE, "purchase", kT0);
  buy.set_outcome(omnicx::v1::OUTCOME_SUCCESS);
  const auto summary = Summarize(Model(), Replay({view, fail, buy}), kT0);
  ASSERT_EQ(summary.drivers_size(), 3);
  EXPECT_EQ(summary.drivers(0).touchpoint(), "checkout");
  EXPECT_EQ(summary.drivers(0).type(), "payment");
  EXPECT_EQ(summary.drivers(0).signal(), "experience");
  EXPECT_LT(summary.drivers(0).impact(), -10);
  EXPECT_EQ(summary.drivers(1).touchpoint(), "purchase");
  EXPECT_GT(summary.drivers(1).impact(), 0);
  EXPECT_EQ(summary.drivers(2).touchpoint(), "page_view");
  EXPECT_GT(summary.drivers(2).impact(), 0);
  EXPECT_LT(summary.drivers(2).impact(), summary.drivers(1).impact());
}

TEST(JourneySegmentTest, DefaultRules) {
  std::vector<Interaction> digital;
  for (int i = 0; i < 4; ++i) {
    digital.push_back(Event(absl::StrCat("w", i), omnicx::v1::CHANNEL_WEB,
                            "login", kT0 + i * 1000));
  }
  EXPECT_THAT(Summarize(Model(), Replay(digital), kT0 + kDay).segments(),
              ElementsAre("digital_first", "new_customer"));

  std::vector<Interaction> branch;
  for (int i = 0; i < 3; ++i) {
    Interaction e = Event(absl::StrCat("b", i), omnicx::v1::CHANNEL_BRANCH,
                          "purchase", kT0 + i * kDay);
    e.set_value(600);
    branch.push_back(e);
  }
  Interaction survey =
      Event("s", omnicx::v1::CHANNEL_EMAIL, "survey_response", kT0 + 40 * kDay);
  survey.mutable_feedback()->set_nps(3);
  branch.push_back(survey);
  EXPECT_THAT(Summarize(Model(), Replay(branch), kT0 + 40 * kDay).segments(),
              ElementsAre("branch_loyal", "detractor", "high_value"));
}

TEST(JourneyAggregateTest, ContributionsMoveWithTheStage) {
  Interaction fail = Event("f", omnicx::v1::CHANNEL_WEB, "payment", kT0);
  fail.set_touchpoint("checkout");
  fail.set_outcome(omnicx::v1::OUTCOME_FAILURE);
  JourneyState s;
  ApplyEvent(Model(), fail, &s);
  auto moved = RefreshDerived(Model(), &s);
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->from, omnicx::v1::STAGE_UNSPECIFIED);
  EXPECT_EQ(moved->to, omnicx::v1::STAGE_PURCHASE);
  const AggregateFields before = PainContributions(s);
  const std::string key =
      DriverKey(omnicx::v1::CHANNEL_WEB, "payment", "checkout");
  EXPECT_EQ(before.at(absl::StrCat("3\x1f", key, "\x1f", "n")), 1);
  EXPECT_EQ(before.at("3\x1f*\x1f"
                      "a"),
            1);

  Interaction buy = Event("b", omnicx::v1::CHANNEL_WEB, "purchase", kT0 + 1000);
  ApplyEvent(Model(), buy, &s);
  moved = RefreshDerived(Model(), &s);
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->to, omnicx::v1::STAGE_ONBOARDING);
  const AggregateFields delta = AggregateDelta(before, PainContributions(s));
  // Everything leaves stage 3 and arrives in stage 4.
  EXPECT_EQ(delta.at("3\x1f*\x1f"
                     "a"),
            -1);
  EXPECT_EQ(delta.at("4\x1f*\x1f"
                     "a"),
            1);
  EXPECT_EQ(delta.at(absl::StrCat("3\x1f", key, "\x1f", "n")), -1);
  EXPECT_EQ(delta.at(absl::StrCat("4\x1f", key, "\x1f", "n")), 1);
}

// The apply path's cheap delta equals the difference of the full
// contributions, across random journeys, stage moves and trimmed drivers.
TEST(JourneyAggregateTest, SnapshotDeltaEqualsTheContributionsDelta) {
  std::mt19937_64 rng(29);
  for (int round = 0; round < 200; ++round) {
    std::vector<Interaction> events = RandomEvents(rng, 1 + rng() % 40);
    JourneyState s;
    for (const Interaction& e : events) {
      const AggregateFields full_before = PainContributions(s);
      const PainSnapshot before = SnapshotPain(s);
      ApplyEvent(Model(), e, &s);
      RefreshDerived(Model(), &s);
      SCOPED_TRACE(absl::StrCat("round ", round, " event ", e.event_id()));
      ASSERT_EQ(PainDelta(before, SnapshotPain(s)),
                AggregateDelta(full_before, PainContributions(s)));
    }
    ASSERT_EQ(PainDelta(SnapshotPain(s), PainSnapshot()),
              AggregateDelta(PainContributions(s), AggregateFields()));
  }
}

}  // namespace
}  // namespace omnicx::journey
