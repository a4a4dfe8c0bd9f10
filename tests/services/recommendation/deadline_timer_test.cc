#include "services/recommendation/deadline_timer.h"

#include <atomic>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "libs/testing/wait.h"
#include "libs/time/clock.h"

namespace omnicx::recommendation {
namespace {

using ::omnicx::testing::WaitUntil;

// Callbacks run when the timer's clock reaches their time, in time order,
// and not before: the simulated clock moves only when the test says so.
TEST(DeadlineTimerTest, RunsCallbacksInTimeOrderWhenTheirTimeComes) {
  time::SimulatedClock clock(absl::FromUnixSeconds(1000));
  absl::Mutex mu;
  std::vector<int> ran;
  auto record = [&](int n) {
    return [&, n] {
      absl::MutexLock lock(&mu);
      ran.push_back(n);
    };
  };
  auto count = [&] {
    absl::MutexLock lock(&mu);
    return ran.size();
  };
  DeadlineTimer timer(clock);
  timer.Schedule(clock.Now() + absl::Milliseconds(200), record(2));
  timer.Schedule(clock.Now() + absl::Milliseconds(100), record(1));
  timer.Schedule(clock.Now() + absl::Seconds(10), record(3));
  ASSERT_TRUE(WaitUntil([&] { return clock.waiters() == 1; }));
  clock.Advance(absl::Milliseconds(99));
  EXPECT_FALSE(WaitUntil([&] { return count() > 0; }, absl::Milliseconds(50)));
  clock.Advance(absl::Milliseconds(150));
  ASSERT_TRUE(WaitUntil([&] { return count() == 2; }));
  EXPECT_FALSE(WaitUntil([&] { return count() > 2; }, absl::Milliseconds(50)));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
}

// The destructor drops what is not yet due.
TEST(DeadlineTimerTest, DestructionDropsCallbacksNotDue) {
  time::SimulatedClock clock;
  std::atomic<bool> ran{false};
  {
    DeadlineTimer timer(clock);
    timer.Schedule(clock.Now() + absl::Seconds(1), [&] { ran = true; });
  }
  EXPECT_FALSE(ran.load());
}

}  // namespace
}  // namespace omnicx::recommendation
