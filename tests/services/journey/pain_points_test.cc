// Pain-point ranking from aggregate fields alone: severity blend, impact
// order, channel and stage filters, population churn lift, and touchpoints
// nobody is left in.
#include "services/journey/pain_points.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/journey/journey_state.h"

namespace omnicx::journey {
namespace {

const CompiledModel& Model() {
  static const auto* model =
      new CompiledModel(*CompileModel(DefaultJourneyModel()));
  return *model;
}

void Add(std::map<std::string, double>* fields, omnicx::v1::Stage stage,
         omnicx::v1::Channel channel, const std::string& type,
         const std::string& touchpoint, double a, double t, double n, double r,
         double c, double w = 0, double wn = 0) {
  const std::string key = DriverKey(channel, type, touchpoint);
  (*fields)[AggregateField(stage, key, "a")] += a;
  (*fields)[AggregateField(stage, key, "t")] += t;
  (*fields)[AggregateField(stage, key, "n")] += n;
  (*fields)[AggregateField(stage, key, "r")] += r;
  // Stored units: churn in percentage points, wait in milliseconds.
  (*fields)[AggregateField(stage, key, "c")] += c * 100;
  (*fields)[AggregateField(stage, key, "w")] += w * 1000;
  (*fields)[AggregateField(stage, key, "wn")] += wn;
}

TEST(PainPointsTest, RanksByCustomersAffectedTimesSeverity) {
  std::map<std::string, double> f;
  using omnicx::v1::CHANNEL_VOICE;
  using omnicx::v1::CHANNEL_WEB;
  // 100 customers in the population with mean churn 0.1.
  f[PopulationField(omnicx::v1::STAGE_ENGAGED, "a")] = 100;
  f[PopulationField(omnicx::v1::STAGE_ENGAGED, "c")] = 10 * 100;
  // Checkout: 40 customers, half their touches failed, churn 0.35.
  Add(&f, omnicx::v1::STAGE_ENGAGED, CHANNEL_WEB, "payment", "checkout", 40, 80,
      40, 0, 14);
  // Page views: everybody, nothing bad, population churn.
  Add(&f, omnicx::v1::STAGE_ENGAGED, CHANNEL_WEB, "page_view", "", 100, 900, 0,
      0, 10);
  // Billing line: 20 customers, all repeat callers, 15 min waits.
  Add(&f, omnicx::v1::STAGE_ENGAGED, CHANNEL_VOICE, "support_contact",
      "ivr_billing", 20, 50, 30, 20, 6, 50 * 900, 50);
  // Merged away: nobody left.
  Add(&f, omnicx::v1::STAGE_ENGAGED, CHANNEL_WEB, "delivery", "", 0, 0, 0, 0,
      0);

  std::vector<omnicx::v1::PainPoint> top = RankPainPoints(Model(), f, {});
  ASSERT_EQ(top.size(), 2u);  // page views have no severity at all
  // checkout: (0.4·0.5 + 0.25·1) / 1 = 0.45 → impact 18.
  EXPECT_EQ(top[0].touchpoint(), "checkout");
  EXPECT_EQ(top[0].customers_affected(), 40);
  EXPECT_NEAR(top[0].negative_rate(), 0.5, 1e-12);
  EXPECT_NEAR(top[0].mean_churn_risk(), 0.35, 1e-12);
  EXPECT_NEAR(top[0].severity(), 0.45, 1e-12);
  EXPECT_NEAR(top[0].impact(), 18, 1e-9);
  // billing: (0.4·0.6 + 0.2·1 + 0.15·1 + 0.25·0.8) = 0.79 → 15.8.
  EXPECT_EQ(top[1].touchpoint(), "ivr_billing");
  EXPECT_EQ(top[1].channel(), CHANNEL_VOICE);
  EXPECT_NEAR(top[1].repeat_contact_rate(), 1, 1e-12);
  EXPECT_NEAR(top[1].mean_wait_seconds(), 900, 1e-9);
  EXPECT_NEAR(top[1].severity(), 0.79, 1e-12);
  EXPECT_NEAR(top[1].impact(), 15.8, 1e-9);

  PainPointQuery voice;
  voice.channel = CHANNEL_VOICE;
  top = RankPainPoints(Model(), f, voice);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].touchpoint(), "ivr_billing");

  PainPointQuery one;
  one.limit = 1;
  EXPECT_EQ(RankPainPoints(Model(), f, one).size(), 1u);
}

TEST(PainPointsTest, StageFilterCountsOnlyThatStage) {
  std::map<std::string, double> f;
  f[PopulationField(omnicx::v1::STAGE_AT_RISK, "a")] = 10;
  f[PopulationField(omnicx::v1::STAGE_AT_RISK, "c")] = 6 * 100;
  f[PopulationField(omnicx::v1::STAGE_LOYAL, "a")] = 10;
  f[PopulationField(omnicx::v1::STAGE_LOYAL, "c")] = 1 * 100;
  Add(&f, omnicx::v1::STAGE_AT_RISK, omnicx::v1::CHANNEL_WEB, "delivery", "", 8,
      8, 8, 0, 5);
  Add(&f, omnicx::v1::STAGE_LOYAL, omnicx::v1::CHANNEL_WEB, "delivery", "", 2,
      2, 0, 0, 0.2);
  PainPointQuery at_risk;
  at_risk.stage = omnicx::v1::STAGE_AT_RISK;
  auto top = RankPainPoints(Model(), f, at_risk);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].customers_affected(), 8);
  EXPECT_NEAR(top[0].negative_rate(), 1, 1e-12);
  PainPointQuery loyal;
  loyal.stage = omnicx::v1::STAGE_LOYAL;
  EXPECT_TRUE(RankPainPoints(Model(), f, loyal).empty());
  auto all = RankPainPoints(Model(), f, {});
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].customers_affected(), 10);
  EXPECT_NEAR(all[0].negative_rate(), 0.8, 1e-12);
}

}  // namespace
}  // namespace omnicx::journey
