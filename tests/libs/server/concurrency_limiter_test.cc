// ConcurrencyLimiter: minRTT measured at the minimum limit, the limit grown
// while latency stays near it and cut when latency rises, no growth while
// idle, and minRTT measured again on schedule. Time is a SimulatedClock.
#include "libs/server/concurrency_limiter.h"

#include <optional>
#include <vector>

#include "gtest/gtest.h"
#include "libs/time/clock.h"

namespace omnicx::server {
namespace {

class ConcurrencyLimiterTest : public ::testing::Test {
 protected:
  ConcurrencyLimiterOptions Options() {
    ConcurrencyLimiterOptions o;
    o.min_limit = 2;
    o.max_limit = 40;
    o.initial_limit = 2;
    o.update_interval = absl::Milliseconds(100);
    o.min_rtt_samples = 10;
    o.buffer = 0.25;
    o.min_rtt_interval = absl::Seconds(60);
    return o;
  }

  // Admits as many calls as the limit allows, advances the clock by
  // `latency` and releases them all: one round of a saturating load.
  // Returns how many were admitted.
  int Round(ConcurrencyLimiter& limiter, absl::Duration latency) {
    std::vector<absl::Time> starts;
    while (std::optional<absl::Time> s = limiter.TryAcquire()) {
      starts.push_back(*s);
    }
    clock_.Advance(latency);
    for (absl::Time s : starts) limiter.Release(s);
    return static_cast<int>(starts.size());
  }

  // Measures a 2 ms minRTT, then saturating rounds at 2 ms until the limit
  // reaches `at_least` (bounded).
  void GrowTo(ConcurrencyLimiter& limiter, int at_least) {
    for (int i = 0; i < 5; ++i) Round(limiter, absl::Milliseconds(2));
    for (int i = 0; i < 1000 && limiter.limit() < at_least; ++i) {
      Round(limiter, absl::Milliseconds(2));
    }
  }

  time::SimulatedClock clock_{absl::FromUnixSeconds(1000)};
};

TEST_F(ConcurrencyLimiterTest, MeasuresMinRttAtTheMinimumLimitFirst) {
  ConcurrencyLimiter limiter(Options(), clock_);
  EXPECT_EQ(limiter.limit(), 2);
  EXPECT_EQ(Round(limiter, absl::Milliseconds(2)), 2);  // 2 of 10 samples
  EXPECT_EQ(limiter.min_rtt(), absl::ZeroDuration());
  for (int i = 0; i < 4; ++i) Round(limiter, absl::Milliseconds(2));
  EXPECT_EQ(limiter.min_rtt(), absl::Milliseconds(2));
}

TEST_F(ConcurrencyLimiterTest, GrowsWhileLatencyHoldsAndShrinksWhenItRises) {
  ConcurrencyLimiter limiter(Options(), clock_);
  for (int i = 0; i < 5; ++i) Round(limiter, absl::Milliseconds(2));
  ASSERT_EQ(limiter.min_rtt(), absl::Milliseconds(2));
  // Saturated, latency at minRTT: each 100 ms window grows it by a quarter
  // plus sqrt(limit), up to max_limit.
  for (int i = 0; i < 1000 && limiter.limit() < 40; ++i) {
    Round(limiter, absl::Milliseconds(2));
  }
  EXPECT_EQ(limiter.limit(), 40);
  // Latency four times minRTT: a window (13 rounds of 8 ms) halves the
  // limit, plus sqrt(limit) of headroom: 40 → 27 → 19 → 15 → 12 ...
  for (int i = 0; i < 13; ++i) Round(limiter, absl::Milliseconds(8));
  EXPECT_EQ(limiter.limit(), 27);
  for (int i = 0; i < 13; ++i) Round(limiter, absl::Milliseconds(8));
  EXPECT_EQ(limiter.limit(), 19);
}

TEST_F(ConcurrencyLimiterTest, DoesNotGrowWhileMostOfTheLimitIsIdle) {
  ConcurrencyLimiter limiter(Options(), clock_);
  GrowTo(limiter, 8);
  ASSERT_GE(limiter.limit(), 8);
  // One call at a time for two seconds: fast, but the limit was not the
  // bottleneck, so it stays (after the window the saturated rounds ended).
  auto one_at_a_time = [&](int calls) {
    for (int i = 0; i < calls; ++i) {
      std::optional<absl::Time> s = limiter.TryAcquire();
      ASSERT_TRUE(s.has_value());
      clock_.Advance(absl::Milliseconds(2));
      limiter.Release(*s);
    }
  };
  one_at_a_time(60);
  const int limit = limiter.limit();
  one_at_a_time(1000);
  EXPECT_EQ(limiter.limit(), limit);
}

TEST_F(ConcurrencyLimiterTest, MeasuresMinRttAgainOnSchedule) {
  ConcurrencyLimiter limiter(Options(), clock_);
  GrowTo(limiter, 40);
  ASSERT_EQ(limiter.limit(), 40);
  // A minute on, the service got slower for good: the next window starts a
  // measurement at the minimum limit, which finds the new minRTT and then
  // gives the limit back.
  clock_.Advance(absl::Seconds(60));
  Round(limiter, absl::Milliseconds(5));
  EXPECT_EQ(limiter.limit(), 2);
  // The calls admitted before it do not count: 5 rounds of 2 calls do.
  for (int i = 0; i < 4; ++i) Round(limiter, absl::Milliseconds(5));
  EXPECT_EQ(limiter.limit(), 2);
  Round(limiter, absl::Milliseconds(5));
  EXPECT_EQ(limiter.min_rtt(), absl::Milliseconds(5));
  // Back to the limit it had, which holds at the new minRTT.
  EXPECT_EQ(limiter.limit(), 40);
  for (int i = 0; i < 100; ++i) Round(limiter, absl::Milliseconds(5));
  EXPECT_EQ(limiter.limit(), 40);
}

TEST_F(ConcurrencyLimiterTest, StartsAtAQuarterOfTheMaximumByDefault) {
  ConcurrencyLimiterOptions o = Options();
  o.initial_limit = 0;
  ConcurrencyLimiter limiter(o, clock_);
  EXPECT_EQ(limiter.limit(), 10);
  EXPECT_EQ(Round(limiter, absl::Milliseconds(2)), 10);
  EXPECT_EQ(limiter.min_rtt(), absl::Milliseconds(2));  // 10 samples
}

TEST_F(ConcurrencyLimiterTest, RefusesOnlyBeyondTheLimit) {
  ConcurrencyLimiter limiter(Options(), clock_);
  std::optional<absl::Time> a = limiter.TryAcquire();
  std::optional<absl::Time> b = limiter.TryAcquire();
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_FALSE(limiter.TryAcquire().has_value());
  limiter.Release(*a);
  EXPECT_TRUE(limiter.TryAcquire().has_value());
}

}  // namespace
}  // namespace omnicx::server
