// Beta–Bernoulli learning and Thompson sampling: segment choice, the prior's
// pseudo-counts, sampling statistics, and convergence on simulated outcomes
// with known accept rates through the real arbitration path.
#include "services/recommendation/learning.h"

#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/recommendation/arbiter.h"

namespace omnicx::recommendation {
namespace {

TEST(LearningSegmentTest, PriorityOrderThenAlphabeticalThenAll) {
  EXPECT_EQ(LearningSegment({}), "all");
  EXPECT_EQ(LearningSegment({"digital_first", "detractor"}), "detractor");
  EXPECT_EQ(LearningSegment({"high_value", "at_risk"}), "at_risk");
  EXPECT_EQ(LearningSegment({"zeta", "gold"}), "gold");
  EXPECT_EQ(LearningSegment({"all"}), "all");
}

TEST(PosteriorTest, PriorPseudoCountsPlusEvidence) {
  omnicx::v1::Action a;
  a.set_prior_accept_rate(0.3);
  SegmentCounts counts;
  BetaPosterior p = Posterior(a, counts, 10);
  EXPECT_DOUBLE_EQ(p.alpha, 3);
  EXPECT_DOUBLE_EQ(p.beta, 7);
  counts.successes = 5;
  counts.failures = 15;
  p = Posterior(a, counts, 10);
  EXPECT_DOUBLE_EQ(p.alpha, 8);
  EXPECT_DOUBLE_EQ(p.beta, 22);
  EXPECT_DOUBLE_EQ(p.mean(), 8.0 / 30.0);
  a.set_prior_accept_rate(0);
  p = Posterior(a, SegmentCounts(), 10);
  EXPECT_DOUBLE_EQ(p.alpha, 0.01);
  EXPECT_DOUBLE_EQ(p.beta, 10);
}

TEST(SampleBetaTest, MeanAndRangeMatchTheDistribution) {
  std::mt19937_64 rng(99);
  double sum = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const double x = SampleBeta(3, 7, rng);
    ASSERT_GE(x, 0);
    ASSERT_LE(x, 1);
    sum += x;
  }
  EXPECT_NEAR(sum / n, 0.3, 0.01);
}

TEST(StatsTableTest, CountersBySegmentSortedRows) {
  StatsTable t;
  t.SetCounter("b", "all", "imp", 10);
  t.SetCounter("a", "detractor", "s", 2);
  t.SetCounter("a", "detractor", "f", 3);
  t.SetCounter("a", "detractor", "nonsense", 3);
  EXPECT_EQ(t.Find("a", "detractor").successes, 2);
  EXPECT_EQ(t.Find("a", "detractor").failures, 3);
  EXPECT_EQ(t.Find("a", "all").impressions, 0);
  std::vector<StatsTable::Row> rows = t.Rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].action_id, "a");
  EXPECT_EQ(rows[1].action_id, "b");
  EXPECT_EQ(rows[1].counts.impressions, 10);
}

// Simulated customers accept each action with a fixed, unknown rate; every
// action has the same value and prior, so only learning can tell them apart.
TEST(ThompsonTest, ConvergesOnTheBestActionWithin5000Decisions) {
  const std::vector<std::pair<std::string, double>> truth = {
      {"a_low", 0.04}, {"b_mid", 0.08}, {"c_good", 0.12}, {"d_best", 0.20}};
  std::vector<omnicx::v1::Action> actions;
  for (const auto& [id, rate] : truth) {
    omnicx::v1::Action a;
    a.set_action_id(id);
    a.set_kind(omnicx::v1::ACTION_KIND_EDUCATION);
    a.set_value(10);
    a.set_prior_accept_rate(0.1);
    actions.push_back(a);
  }
  std::vector<const omnicx::v1::Action*> pointers;
  for (const auto& a : actions) pointers.push_back(&a);
  CustomerFeatures customer;  // no journey: segment "all"
  StatsTable stats;
  std::mt19937_64 rng(2026);
  std::mt19937_64 world(11);
  std::uniform_real_distribution<double> u(0, 1);
  int best_late = 0;
  const int kDecisions = 5000;
  const int kMeasured = 1000;
  for (int i = 0; i < kDecisions + kMeasured; ++i) {
    Arbitration r = Arbitrate(pointers, customer, omnicx::v1::CHANNEL_WEB,
                              stats, ArbitrationOptions(), rng);
    ASSERT_EQ(r.segment, "all");
    const std::string& chosen = r.ranked.front().action->action_id();
    double rate = 0;
    for (const auto& [id, p] : truth) {
      if (id == chosen) rate = p;
    }
    SegmentCounts outcome;
    outcome.impressions = 1;
    if (u(world) < rate) {
      outcome.accepts = outcome.successes = 1;
    } else {
      outcome.ignores = outcome.failures = 1;
    }
    stats.Add(chosen, "all", outcome);
    if (i >= kDecisions && chosen == "d_best") ++best_late;
  }
  EXPECT_GE(best_late, kMeasured * 8 / 10)
      << "best chosen " << best_late << " of " << kMeasured;
  // The posterior of the best action sits near its true rate.
  const SegmentCounts best = stats.Find("d_best", "all");
  EXPECT_NEAR(Posterior(actions[3], best, 10).mean(), 0.20, 0.03);
}

}  // namespace
}  // namespace omnicx::recommendation
