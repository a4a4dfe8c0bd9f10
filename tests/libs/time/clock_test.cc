#include "libs/time/clock.h"

#include <atomic>
#include <functional>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "libs/testing/wait.h"

namespace omnicx::time {
namespace {

using ::omnicx::testing::WaitUntil;

TEST(RealClockTest, NowIsAbslNow) {
  const absl::Time before = absl::Now();
  const absl::Time now = RealClock().Now();
  EXPECT_GE(now, before);
  EXPECT_LE(now, absl::Now());
}

TEST(RealClockTest, StopSignalWaitEndsAtDeadlineWhenNotStopped) {
  StopSignal stop;
  EXPECT_FALSE(stop.WaitUntil(absl::Now()));
  EXPECT_FALSE(stop.stopped());
}

TEST(SimulatedClockTest, MovesOnlyWhenTold) {
  SimulatedClock clock(absl::FromUnixSeconds(1000));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(1000));
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(1005));
  clock.SetTime(absl::FromUnixSeconds(2000));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(2000));
  clock.SetTime(absl::FromUnixSeconds(1500));  // never backwards
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(2000));
  clock.Advance(-absl::Seconds(1));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(2000));
}

TEST(SimulatedClockTest, NowOfFollowsTheClock) {
  SimulatedClock clock(absl::FromUnixSeconds(1000));
  std::function<absl::Time()> now = NowOf(clock);
  clock.Advance(absl::Seconds(2));
  EXPECT_EQ(now(), absl::FromUnixSeconds(1002));
}

TEST(SimulatedClockTest, WaiterWakesOnlyWhenSimulatedTimeReachesDeadline) {
  SimulatedClock clock(absl::FromUnixSeconds(1000));
  StopSignal stop(clock);
  std::atomic<bool> woke{false};
  std::atomic<bool> stopped{true};
  std::thread waiter([&] {
    stopped = stop.WaitUntil(absl::FromUnixSeconds(1010));
    woke = true;
  });
  ASSERT_TRUE(WaitUntil([&] { return clock.waiters() == 1; }));
  clock.Advance(absl::Seconds(9));
  // Real time passing does not end the wait; the simulated one has not
  // reached the deadline.
  EXPECT_FALSE(WaitUntil([&] { return woke.load(); }, absl::Milliseconds(50)));
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(WaitUntil([&] { return woke.load(); }));
  waiter.join();
  EXPECT_FALSE(stopped.load());
  EXPECT_EQ(clock.waiters(), 0);
}

TEST(SimulatedClockTest, StopWakesAWaiterWithoutTimeMoving) {
  SimulatedClock clock;
  StopSignal stop(clock);
  std::atomic<bool> stopped{false};
  std::thread waiter([&] { stopped = stop.WaitFor(absl::Hours(1)); });
  ASSERT_TRUE(WaitUntil([&] { return clock.waiters() == 1; }));
  stop.Stop();
  waiter.join();
  EXPECT_TRUE(stopped.load());
  EXPECT_TRUE(stop.stopped());
  EXPECT_EQ(clock.Now(), absl::UnixEpoch());
}

TEST(SimulatedClockTest, AwaitReturnsAtOnceWhenTheConditionHolds) {
  SimulatedClock clock;
  absl::Mutex mu;
  bool ready = true;
  absl::MutexLock lock(&mu);
  EXPECT_TRUE(clock.AwaitWithDeadline(&mu, absl::Condition(&ready),
                                      clock.Now() + absl::Hours(1)));
  ready = false;
  EXPECT_FALSE(
      clock.AwaitWithDeadline(&mu, absl::Condition(&ready), clock.Now()));
}

}  // namespace
}  // namespace omnicx::time
