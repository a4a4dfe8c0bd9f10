// Churn labels and the churn learner without storage: labels mark the
// customer as left and nothing else; examples see only what happened before
// the label; without labels the prior decides; learning recovers which
// touchpoints matter and gives calibrated probabilities.
#include "services/journey/churn_learning.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "libs/time/proto_time.h"
#include "services/journey/journey_model.h"
#include "services/journey/journey_state.h"
#include "services/journey/pain_points.h"

namespace omnicx::journey {
namespace {

using ::omnicx::v1::Interaction;

constexpr int64_t kDay = 86400000;
constexpr int64_t kT0 = 1790000000000;

const CompiledModel& Model() {
  static const auto* model =
      new CompiledModel(*CompileModel(DefaultJourneyModel()));
  return *model;
}

Interaction Event(const std::string& id, const std::string& type,
                  const std::string& touchpoint, int64_t t_ms,
                  omnicx::v1::Outcome outcome = omnicx::v1::OUTCOME_SUCCESS) {
  Interaction e;
  e.set_event_id(id);
  e.set_channel(omnicx::v1::CHANNEL_WEB);
  e.set_type(type);
  e.set_touchpoint(touchpoint);
  e.set_outcome(outcome);
  *e.mutable_occurred_at() = time::TimestampFromUnixMillis(t_ms);
  return e;
}

JourneyState Replay(const std::vector<Interaction>& events) {
  JourneyState s;
  for (const Interaction& e : events) {
    ApplyEvent(Model(), e, &s);
    RefreshDerived(Model(), &s);
  }
  return s;
}

std::vector<Interaction> Lapse() {
  return {Event("v", "page_view", "home", kT0),
          Event("d", "delivery", "delivery", kT0 + kDay,
                omnicx::v1::OUTCOME_FAILURE),
          Event("p", "payment", "checkout", kT0 + 2 * kDay)};
}

// --- labels ------------------------------------------------------------------

TEST(ChurnLabelTest, DefaultLabelsAndAFilesListReplacesThem) {
  for (const char* t :
       {"churned", "account_closed", "subscription_cancelled"}) {
    EXPECT_TRUE(Model().IsChurnLabel(t)) << t;
  }
  EXPECT_FALSE(Model().IsChurnLabel("cancellation"));
  auto model = LoadJourneyModelFromYaml("churn_labels: [x-lapsed]\n", "t");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE(model->IsChurnLabel("x-lapsed"));
  EXPECT_FALSE(model->IsChurnLabel("churned"));
  auto bad = LoadJourneyModelFromYaml("learning: {learning_rate: 0}\n", "t");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("learning.learning_rate"),
            std::string::npos);
}

TEST(ChurnLabelTest, MarksTheCustomerLeftAndChangesNothingElse) {
  std::vector<Interaction> events = Lapse();
  const JourneyState before = Replay(events);
  events.push_back(Event("l", "churned", "", kT0 + 5 * kDay));
  const JourneyState after = Replay(events);
  EXPECT_EQ(after.churned_ms(), kT0 + 5 * kDay);
  EXPECT_EQ(after.stage(), omnicx::v1::STAGE_CHURNED);
  EXPECT_EQ(after.stage_entered_ms(), kT0 + 5 * kDay);
  // Not a touchpoint: no signal, counter or driver moved.
  JourneyState stripped = after;
  stripped.clear_churned_ms();
  stripped.set_stage(before.stage());
  stripped.set_stage_entered_ms(before.stage_entered_ms());
  stripped.set_churn_at_last(before.churn_at_last());
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(stripped, before));
  // The earliest label counts, whatever the order.
  Interaction earlier = Event("l0", "account_closed", "", kT0 + 4 * kDay);
  JourneyState s = after;
  ApplyEvent(Model(), earlier, &s);
  EXPECT_EQ(s.churned_ms(), kT0 + 4 * kDay);
  // Buying again after it: back.
  Interaction purchase = Event("b", "purchase", "shop", kT0 + 9 * kDay);
  ApplyEvent(Model(), purchase, &s);
  RefreshDerived(Model(), &s);
  EXPECT_NE(s.stage(), omnicx::v1::STAGE_CHURNED);
}

TEST(ChurnLabelTest, TheExampleHoldsOnlyWhatHappenedBeforeTheLabel) {
  std::vector<Interaction> events = Lapse();
  const JourneyState before = Replay(events);
  const int64_t left = kT0 + 40 * kDay;
  events.push_back(Event("l", "churned", "", left));
  const JourneyState after = Replay(events);
  const std::optional<ChurnExample> example =
      LeftExample(Model(), 0, before.events(), after);
  ASSERT_TRUE(example.has_value());
  EXPECT_TRUE(example->churned());
  // The same as the state without the label, seen when they left.
  const int64_t seen = left;
  const ChurnExample unlabelled = MakeChurnExample(Model(), before, seen, true);
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(*example, unlabelled));
  EXPECT_DOUBLE_EQ(example->prior_logit(),
                   ComputeFeatures(Model(), before, seen).churn_prior_logit);
  EXPECT_FALSE(example->features().contains("n:y:churned"));
  EXPECT_GT(example->features().at("n:t:delivery"), 0);
  EXPECT_LT(example->features().at("p:t:checkout"), 0);
  EXPECT_NEAR(example->features().at("idle"),
              static_cast<double>(seen - before.last_ms()) / (30 * kDay), 1e-9);
  EXPECT_DOUBLE_EQ(example->features().at("mix:CHANNEL_WEB"), 1.0);
  // Once: a second label teaches nothing more.
  EXPECT_FALSE(LeftExample(Model(), after.churned_ms(), after.events(), after)
                   .has_value());
  // Labelled before any touchpoint arrived: the touchpoints bring it.
  EXPECT_TRUE(LeftExample(Model(), after.churned_ms(), 0, after).has_value());
}

Interaction Purchase(const std::string& id, double value, int64_t t_ms) {
  Interaction e = Event(id, "purchase", "checkout", t_ms);
  e.set_value(value);
  return e;
}

// Who the customer is, from their own events: what they spend each time
// (returns count against it) and whether they are new.
TEST(ChurnFeatureTest, SpendPerPurchaseAndNewCustomer) {
  Interaction ret = Event("r", "return", "returns", kT0 + 3 * kDay);
  ret.set_value(-20);
  const JourneyState s =
      Replay({Purchase("a", 30, kT0), Purchase("b", 50, kT0 + kDay), ret});
  const ChurnExample early =
      MakeChurnExample(Model(), s, kT0 + 30 * kDay, false);
  EXPECT_NEAR(early.features().at("spend"), std::log1p(60.0 / 2), 1e-12);
  EXPECT_DOUBLE_EQ(early.features().at("new_customer"), 1.0);
  // Two months after their first touchpoint they are no longer new.
  const ChurnExample later =
      MakeChurnExample(Model(), s, kT0 + 61 * kDay, false);
  EXPECT_FALSE(later.features().contains("new_customer"));
  EXPECT_NEAR(later.features().at("spend"), std::log1p(30.0), 1e-12);
  // No purchase, no spend; returns worth more than the purchases read as 0.
  EXPECT_FALSE(MakeChurnExample(Model(), Replay(Lapse()), kT0 + 3 * kDay, false)
                   .features()
                   .contains("spend"));
  Interaction big = Event("r2", "return", "returns", kT0 + 4 * kDay);
  big.set_value(-500);
  EXPECT_DOUBLE_EQ(
      MakeChurnExample(Model(), Replay({Purchase("a", 30, kT0), big}),
                       kT0 + 5 * kDay, false)
          .features()
          .at("spend"),
      0.0);
}

// The customer features come from order-free parts of the state: a merged
// customer has the features of the replayed union.
TEST(ChurnFeatureTest, MergedCustomerHasTheFeaturesOfTheReplay) {
  const std::vector<Interaction> a = {
      Purchase("a", 30, kT0), Event("v", "page_view", "home", kT0 + kDay)};
  const std::vector<Interaction> b = {
      Purchase("b", 900, kT0 + 70 * kDay),
      Event("d", "delivery", "delivery", kT0 + 71 * kDay,
            omnicx::v1::OUTCOME_FAILURE)};
  JourneyState merged = Replay(b);
  MergeState(Model(), Replay(a), &merged);
  std::vector<Interaction> all = b;
  all.insert(all.end(), a.begin(), a.end());
  const JourneyState replayed = Replay(all);
  for (int64_t at : {kT0 + 72 * kDay, kT0 + 200 * kDay}) {
    const ChurnExample x = MakeChurnExample(Model(), merged, at, false);
    const ChurnExample y = MakeChurnExample(Model(), replayed, at, false);
    EXPECT_NEAR(x.features().at("spend"), std::log1p(465.0), 1e-12);
    EXPECT_FALSE(x.features().contains("new_customer"));  // since kT0
    ASSERT_EQ(x.features().size(), y.features().size());
    for (const auto& [f, v] : y.features()) {
      EXPECT_NEAR(x.features().at(f), v, 1e-9) << f;
    }
  }
}

// Customers who spend little each time leave three times as often, with
// the same experiences: the learner finds it from "spend" alone.
TEST(ChurnFeatureTest, LearnsThatLowSpendersLeaveMoreOften) {
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> u(0, 1);
  auto draw = [&](int n, std::vector<ChurnExample>* out,
                  std::vector<double>* base) {
    for (int i = 0; i < n; ++i) {
      const bool low = u(rng) < 0.5;
      const double v = (low ? 35 : 300) * (0.5 + u(rng));
      const JourneyState s = Replay({Purchase("p", v, kT0 - 200 * kDay),
                                     Event("v", "page_view", "home", kT0)});
      const double p = low ? 0.03 : 0.01;
      out->push_back(MakeChurnExample(Model(), s, kT0 + kDay, u(rng) < p));
      base->push_back(p);
    }
  };
  std::vector<ChurnExample> train, test;
  std::vector<double> train_p, test_p;
  draw(20000, &train, &train_p);
  draw(5000, &test, &test_p);
  LearnedChurnModel m;
  for (const ChurnExample& e : train) Learn(Model(), e, &m);
  const LearnedChurn learned(m);
  EXPECT_LT(learned.Value("spend"), -0.2);
  double low = 0, high = 0;
  int nl = 0, nh = 0;
  for (size_t i = 0; i < test.size(); ++i) {
    const double r = PredictExample(m, test[i]);
    (test_p[i] > 0.02 ? low : high) += r;
    (test_p[i] > 0.02 ? nl : nh) += 1;
  }
  EXPECT_GT(low / nl, 1.5 * high / nh) << low / nl << " " << high / nh;
}

TEST(ChurnLabelTest, CustomersStillThereGiveOneNegativePerPeriod) {
  const JourneyState s = Replay(Lapse());
  const int64_t period_end =
      (s.last_ms() / kExamplePeriodMs + 1) * kExamplePeriodMs;
  EXPECT_FALSE(StayedExample(Model(), s, period_end - 1).has_value());
  const std::optional<ChurnExample> stayed =
      StayedExample(Model(), s, period_end + kDay);
  ASSERT_TRUE(stayed.has_value());
  EXPECT_FALSE(stayed->churned());
  // The state before the new touchpoints, seen at the first boundary after
  // its latest one.
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      *stayed, MakeChurnExample(Model(), s, period_end, false)));
  // A brand-new customer's first touchpoints are no evidence of staying,
  // nor is anything after a label.
  EXPECT_FALSE(
      StayedExample(Model(), JourneyState(), period_end + kDay).has_value());
  JourneyState labelled = s;
  labelled.set_churned_ms(s.last_ms());
  EXPECT_FALSE(StayedExample(Model(), labelled, period_end + kDay).has_value());
}

// --- the prior, shrinkage and calibration bounds
// ------------------------------

TEST(ChurnLearningTest, WithoutLabelsChurnRiskIsThePrior) {
  const JourneyState s = Replay(Lapse());
  const int64_t now = s.last_ms() + 10 * kDay;
  const Features prior = ComputeFeatures(Model(), s, now);
  const LearnedChurn empty;
  EXPECT_DOUBLE_EQ(ComputeFeatures(Model(), s, now, &empty).churn_risk,
                   prior.churn_risk);
  EXPECT_DOUBLE_EQ(prior.churn_risk,
                   0.01 + 0.98 / (1 + std::exp(-prior.churn_prior_logit)));
  // A model that learned about other touchpoints leaves this one's
  // importance as configured: only the shared bias moves it.
  LearnedChurnModel m;
  (*m.mutable_weights())["n:t:elsewhere"].set_value(2.0);
  (*m.mutable_weights())["bias"].set_value(0.5);
  const LearnedChurn other(m);
  EXPECT_NEAR(other.Adjustment(Model(), s, now, prior.churn_prior_logit), 0.5,
              1e-12);
}

TEST(ChurnLearningTest, CustomersWhoStayedTeachNothingBeforeTheFirstLabel) {
  const JourneyState s = Replay(Lapse());
  LearnedChurnModel m;
  EXPECT_FALSE(
      Learn(Model(), MakeChurnExample(Model(), s, s.last_ms(), false), &m));
  EXPECT_EQ(m.examples(), 0);
  EXPECT_TRUE(LearnedChurn(m).empty());
  EXPECT_TRUE(
      Learn(Model(), MakeChurnExample(Model(), s, s.last_ms(), true), &m));
  EXPECT_TRUE(
      Learn(Model(), MakeChurnExample(Model(), s, s.last_ms(), false), &m));
  EXPECT_EQ(m.examples(), 2);
  EXPECT_EQ(m.positives(), 1);
}

TEST(ChurnLearningTest, ShrinkageKeepsAFewLabelsCloseToThePrior) {
  LearnedChurnModel m;
  const JourneyState lapse = Replay(Lapse());
  const JourneyState calm = Replay({Event("v", "page_view", "home", kT0)});
  // Three who left after a failed delivery, three still there without one.
  for (int i = 0; i < 3; ++i) {
    Learn(Model(), MakeChurnExample(Model(), lapse, lapse.last_ms(), true), &m);
    Learn(Model(), MakeChurnExample(Model(), calm, calm.last_ms(), false), &m);
  }
  const LearnedChurn learned(m);
  EXPECT_GT(learned.Value("n:t:delivery"), 0);
  EXPECT_LT(learned.Value("n:t:delivery"), 0.5);
  EXPECT_EQ(m.weights().at("n:t:delivery").support(), 3);
  EXPECT_EQ(m.weights().at("n:t:delivery").positives(), 3);
  // With shrinkage only (no further evidence), corrections decay to 0.
  omnicx::journey::v1::JourneyModel proto = Model().proto();
  proto.mutable_learning()->set_shrinkage(1.0);
  const CompiledModel shrinking = *CompileModel(proto);
  ChurnExample nothing;
  nothing.set_prior_logit(0);
  (*nothing.mutable_features())["n:t:delivery"] = 1e-9;
  nothing.set_churned(true);
  for (int i = 0; i < 2000; ++i) Learn(shrinking, nothing, &m);
  EXPECT_NEAR(m.weights().at("n:t:delivery").value(), 0, 0.05);
}

TEST(ChurnLearningTest, RiskAndHealthAreNeverCertain) {
  std::vector<Interaction> events;
  for (int i = 0; i < 2; ++i) {
    Interaction d = Event(absl::StrCat("d", i), "delivery", "delivery",
                          kT0 + i * kDay, omnicx::v1::OUTCOME_FAILURE);
    d.mutable_wait()->set_seconds(3 * 86400);
    events.push_back(d);
  }
  const JourneyState s = Replay(events);
  const Features f = ComputeFeatures(Model(), s, kT0 + 2 * kDay);
  EXPECT_GE(f.health, 1.0);
  LearnedChurnModel m;
  (*m.mutable_weights())["bias"].set_value(50);
  const LearnedChurn extreme(m);
  EXPECT_NEAR(ComputeFeatures(Model(), s, kT0 + 2 * kDay, &extreme).churn_risk,
              kMaxChurnRisk, 1e-12);
  EXPECT_DOUBLE_EQ(BoundRisk(0), kMinChurnRisk);
  EXPECT_DOUBLE_EQ(BoundRisk(1), kMaxChurnRisk);
  EXPECT_DOUBLE_EQ(BoundRisk(std::nan("")), kMinChurnRisk);
  // Strictly increasing: customers below 1% still rank.
  EXPECT_LT(BoundRisk(0.001), BoundRisk(0.002));
}

// --- learning on a known world
// -------------------------------------------------

// Customers who fail at "alpha" and "beta" (both configured alike, type
// delivery); only alpha drives churn.
struct World {
  std::vector<ChurnExample> examples;
  std::vector<bool> churned;
  std::vector<double> true_risk;
};
World Draw(std::mt19937_64& rng, int n, double intercept = -3.2) {
  World w;
  std::poisson_distribution<int> failures(0.6);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < n; ++i) {
    std::vector<Interaction> events = {Event("v", "page_view", "home", kT0)};
    const int a = failures(rng), b = failures(rng);
    for (int k = 0; k < a + b; ++k) {
      events.push_back(Event(absl::StrCat("f", k), "delivery",
                             k < a ? "alpha" : "beta", kT0 + (1 + k) * kDay,
                             omnicx::v1::OUTCOME_FAILURE));
    }
    const double risk = 1 / (1 + std::exp(-(intercept + 1.3 * a + 0.0 * b)));
    const bool y = u(rng) < risk;
    const JourneyState s = Replay(events);
    w.examples.push_back(MakeChurnExample(Model(), s, s.last_ms(), y));
    w.churned.push_back(y);
    w.true_risk.push_back(risk);
  }
  return w;
}

double Auc(const std::vector<double>& score, const std::vector<bool>& label) {
  double pairs = 0, wins = 0;
  for (size_t i = 0; i < score.size(); ++i) {
    if (!label[i]) continue;
    for (size_t j = 0; j < score.size(); ++j) {
      if (label[j]) continue;
      pairs += 1;
      wins += score[i] > score[j] ? 1 : score[i] == score[j] ? 0.5 : 0;
    }
  }
  return wins / pairs;
}

double ExpectedCalibrationError(const std::vector<double>& p,
                                const std::vector<bool>& y) {
  double sum_p[10] = {}, sum_y[10] = {}, count[10] = {};
  for (size_t i = 0; i < p.size(); ++i) {
    const int bin = std::min(9, static_cast<int>(p[i] * 10));
    sum_p[bin] += p[i];
    sum_y[bin] += y[i] ? 1 : 0;
    count[bin] += 1;
  }
  double ece = 0;
  for (int b = 0; b < 10; ++b) {
    ece += std::abs(sum_p[b] - sum_y[b]) / static_cast<double>(p.size());
  }
  return ece;
}

TEST(ChurnLearningTest, LearnsWhichTouchpointsMatterAndIsCalibrated) {
  std::mt19937_64 rng(5);
  const World train = Draw(rng, 12000);
  const World test = Draw(rng, 4000);
  LearnedChurnModel m;
  for (const ChurnExample& e : train.examples) Learn(Model(), e, &m);
  const LearnedChurn learned(m);
  // alpha's bad experiences matter more than configured, beta's less.
  EXPECT_GT(learned.Value("n:t:alpha"), learned.Value("n:t:beta") + 0.5);
  std::vector<double> prior, after;
  for (const ChurnExample& e : test.examples) {
    prior.push_back(1 / (1 + std::exp(-e.prior_logit())));
    after.push_back(PredictExample(m, e));
  }
  const double auc_prior = Auc(prior, test.churned);
  const double auc_learned = Auc(after, test.churned);
  const double auc_truth = Auc(test.true_risk, test.churned);
  // Closes most of the gap between the prior and the truth.
  EXPECT_GT(auc_learned - auc_prior, 0.6 * (auc_truth - auc_prior))
      << auc_prior << " " << auc_learned << " " << auc_truth;
  EXPECT_LE(ExpectedCalibrationError(after, test.churned), 0.05);
  const auto described = DescribeChurnModel(m, 100);
  EXPECT_EQ(described.examples(), m.examples());
  EXPECT_GT(described.examples(),
            11900);  // all but those before the first label
  bool found = false;
  for (const auto& imp : described.importances()) {
    if (imp.kind() == "touchpoint" && imp.name() == "alpha") {
      found = true;
      EXPECT_GT(imp.negative_multiplier(), 1.3);
      EXPECT_EQ(imp.support(), m.weights().at("n:t:alpha").support());
    }
  }
  EXPECT_TRUE(found);
}

// As in the simulator's held-out protocol, where one example in 150 is a
// churner: most examples are customers still there at a period boundary,
// the rate is far below the prior's 5% baseline and below the 1% floor of
// churn risk. Learning must still find which touchpoint matters. Fitting
// the bounded probability (no gradient below its floor) and uncentred
// features (the common ones took up the overall rate) had every importance
// pushed down and ranked worse than the prior.
TEST(ChurnLearningTest, LearnsImportancesWhenChurnIsRareAndThePriorTooHigh) {
  std::mt19937_64 rng(11);
  const World train = Draw(rng, 30000, -5.8);
  const World test = Draw(rng, 20000, -5.8);
  const int64_t positives =
      std::count(train.churned.begin(), train.churned.end(), true);
  ASSERT_GT(positives, 100);
  ASSERT_LT(positives, 600);  // about 1 in 75, as in the simulator
  LearnedChurnModel m;
  for (const ChurnExample& e : train.examples) Learn(Model(), e, &m);
  const LearnedChurn learned(m);
  EXPECT_GT(learned.Value("n:t:alpha"), 0.3);
  EXPECT_GT(learned.Value("n:t:alpha"), learned.Value("n:t:beta") + 0.5);
  // The rate is the bias's to learn.
  EXPECT_LT(learned.Value("bias"), -1.0);
  std::vector<double> prior, after;
  for (const ChurnExample& e : test.examples) {
    prior.push_back(1 / (1 + std::exp(-e.prior_logit())));
    after.push_back(PredictExample(m, e));
  }
  const double auc_prior = Auc(prior, test.churned);
  const double auc_learned = Auc(after, test.churned);
  const double auc_truth = Auc(test.true_risk, test.churned);
  EXPECT_GT(auc_learned - auc_prior, 0.6 * (auc_truth - auc_prior))
      << auc_prior << " " << auc_learned << " " << auc_truth;
  EXPECT_LE(ExpectedCalibrationError(after, test.churned), 0.02);
}

// The overall churn rate is the bias's to learn: a feature most customers
// have, that says nothing about who leaves, keeps its configured weight
// even when the prior's rate is far too high (uncentred, it took up half
// of the shift, and importances moved with how common a touchpoint is).
TEST(ChurnLearningTest, ACommonUninformativeFeatureDoesNotTakeUpTheRate) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  LearnedChurnModel m;
  for (int i = 0; i < 20000; ++i) {
    ChurnExample e;
    e.set_prior_logit(-3.0);  // 5%
    if (u(rng) < 0.9) (*e.mutable_features())["n:t:common"] = 1.0;
    e.set_churned(u(rng) < 0.005);
    Learn(Model(), e, &m);
  }
  const LearnedChurn learned(m);
  EXPECT_LT(learned.Value("bias"), -1.5);
  EXPECT_NEAR(learned.Value("n:t:common"), 0, 0.3);
}

// --- analytics corrections
// -----------------------------------------------------

TEST(FeedbackTest, CountsTowardTheTouchpointItIsAboutAndIsNoPainPoint) {
  Interaction contact = Event("c", "support_contact", "delivery", kT0,
                              omnicx::v1::OUTCOME_UNSPECIFIED);
  contact.set_case_id("case-1");
  Interaction survey = Event("s", "survey_response", "delivery", kT0 + kDay,
                             omnicx::v1::OUTCOME_UNSPECIFIED);
  survey.set_channel(omnicx::v1::CHANNEL_EMAIL);
  survey.set_case_id("case-1");
  survey.mutable_feedback()->set_nps(1);
  const JourneyState s = Replay({contact, survey});
  const std::string about =
      DriverKey(omnicx::v1::CHANNEL_UNSPECIFIED, "", "delivery");
  ASSERT_TRUE(s.drivers().contains(about));
  EXPECT_EQ(s.drivers().at(about).negatives(), 1);
  EXPECT_FALSE(s.drivers().contains(
      DriverKey(omnicx::v1::CHANNEL_EMAIL, "survey_response", "delivery")));
  // Not a second contact on the case: no repeat contact.
  EXPECT_EQ(s.cases().at("case-1").contacts(), 1);
  // Feedback naming no touchpoint keeps its own key, and is never ranked.
  Interaction loose = Event("l", "survey_response", "", kT0 + 2 * kDay,
                            omnicx::v1::OUTCOME_UNSPECIFIED);
  loose.mutable_feedback()->set_nps(0);
  const JourneyState t = Replay({contact, survey, loose});
  std::map<std::string, double> fields;
  for (const auto& [f, v] : PainContributions(t)) fields[f] = v;
  PainPointQuery query;
  query.limit = 10;
  for (const auto& p : RankPainPoints(Model(), fields, query)) {
    EXPECT_FALSE(IsFeedback(p.type())) << p.type();
  }
}

TEST(OwnerTest, PainPointsNameTheirOwnerAndFilterByIt) {
  auto model = LoadJourneyModelFromYaml(
      "owners:\n"
      "  - {touchpoint: delivery, team: logistics}\n"
      "  - {type: payment, team: billing}\n"
      "  - {channel: CHANNEL_VOICE, team: contact_centre}\n"
      "  - {channel: CHANNEL_VOICE, touchpoint: delivery, team: "
      "logistics_calls}\n",
      "t");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->Owner(omnicx::v1::CHANNEL_WEB, "delivery", "delivery"),
            "logistics");
  EXPECT_EQ(
      model->Owner(omnicx::v1::CHANNEL_VOICE, "support_contact", "delivery"),
      "logistics_calls");
  EXPECT_EQ(model->Owner(omnicx::v1::CHANNEL_WEB, "payment", "checkout"),
            "billing");
  EXPECT_EQ(model->Owner(omnicx::v1::CHANNEL_VOICE, "login", "login"),
            "contact_centre");
  EXPECT_EQ(model->Owner(omnicx::v1::CHANNEL_WEB, "login", "login"), "");
  auto bad = LoadJourneyModelFromYaml("owners:\n  - {team: x}\n", "t");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("owners[0]"), std::string::npos);

  const JourneyState s = Replay(Lapse());
  std::map<std::string, double> fields;
  for (const auto& [f, v] : PainContributions(s)) fields[f] = v;
  PainPointQuery all;
  std::set<std::string> owners;
  for (const auto& p : RankPainPoints(*model, fields, all)) {
    owners.insert(p.owner());
    if (p.touchpoint() == "delivery") EXPECT_EQ(p.owner(), "logistics");
  }
  EXPECT_EQ(owners.count("logistics"), 1u);
  PainPointQuery logistics;
  logistics.owner = "logistics";
  const auto mine = RankPainPoints(*model, fields, logistics);
  ASSERT_FALSE(mine.empty());
  for (const auto& p : mine) EXPECT_EQ(p.owner(), "logistics");
}

TEST(DriverTest, ZeroImpactEntriesAreLeftOut) {
  std::vector<Interaction> events = Lapse();
  for (int i = 0; i < 3; ++i) {
    events.push_back(Event(absl::StrCat("v", i), "page_view",
                           absl::StrCat("p", i), kT0 - 400 * kDay));
  }
  const JourneyState s = Replay(events);
  const omnicx::v1::JourneySummary summary =
      Summarize(Model(), s, kT0 + 3 * kDay);
  EXPECT_GT(summary.drivers_size(), 0);
  for (const auto& d : summary.drivers()) {
    EXPECT_GE(std::abs(d.impact()), 0.05) << d.touchpoint();
  }
}

}  // namespace
}  // namespace omnicx::journey
