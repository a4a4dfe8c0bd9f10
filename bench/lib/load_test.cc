#include "bench/lib/load.h"

#include <atomic>

#include "gtest/gtest.h"

namespace omnicx::bench {
namespace {

TEST(LatencyRecorderTest, NearestRankPercentiles) {
  LatencyRecorder r;
  for (int i = 100; i >= 1; --i) r.Record(absl::Microseconds(i));
  EXPECT_EQ(r.PercentileMicros(0.50), 50);
  EXPECT_EQ(r.PercentileMicros(0.99), 99);
  EXPECT_EQ(r.PercentileMicros(1.0), 100);
  EXPECT_EQ(r.PercentileMicros(0.0), 1);
  LatencyRecorder other;
  other.Record(absl::Microseconds(1000));
  r.Merge(other);
  EXPECT_EQ(r.count(), 101u);
  EXPECT_EQ(r.PercentileMicros(1.0), 1000);
  EXPECT_EQ(LatencyRecorder().PercentileMicros(0.5), 0);
}

TEST(RunnersTest, BoundedByCount) {
  std::atomic<int> calls{0};
  LoadResult r = RunClosedLoop(4, absl::Seconds(10), 1000, [&](int) {
    calls++;
    return true;
  });
  EXPECT_EQ(r.ok, 1000);
  EXPECT_EQ(calls.load(), 1000);
  LoadResult open =
      RunOpenLoop(2000, absl::Seconds(10), 200,
                  [](std::function<void(bool)> done) { done(true); });
  EXPECT_EQ(open.ok, 200);
  EXPECT_LT(open.elapsed, absl::Seconds(1));
}

TEST(RunnersTest, FailedCallsKeepTheirOwnLatencies) {
  int n = 0;
  LoadResult closed = RunClosedLoop(1, absl::Seconds(10), 10,
                                    [&](int) { return ++n % 2 == 0; });
  EXPECT_EQ(closed.ok, 5);
  EXPECT_EQ(closed.errors, 5);
  EXPECT_EQ(closed.latency.count(), 5u);
  EXPECT_EQ(closed.failed_latency.count(), 5u);
  std::atomic<int> m{0};
  LoadResult open =
      RunOpenLoop(2000, absl::Seconds(10), 10,
                  [&](std::function<void(bool)> done) { done(++m % 2 == 0); });
  EXPECT_EQ(open.errors, 5);
  EXPECT_EQ(open.failed_latency.count(), 5u);
  EXPECT_EQ(open.latency.count(), 5u);
}

}  // namespace
}  // namespace omnicx::bench
