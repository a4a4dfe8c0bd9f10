// Injected time: every timer, TTL, cache and deadline reads the time and
// waits through a Clock, so tests drive it with a SimulatedClock instead of
// sleeping (in the style of Envoy's TimeSource).
//
//   // Production: the real clock (absl::Now, real waits).
//   time::StopSignal stop(time::RealClock());
//   while (!stop.WaitFor(absl::Seconds(1))) RefreshNow();   // until Stop()
//
//   // Tests: time moves only when the test says so.
//   time::SimulatedClock clock(absl::FromUnixSeconds(1000));
//   LagMonitor monitor(log, intake, registry, clock);
//   clock.Advance(absl::Seconds(1));   // the loop's wait ends now
//
// A waiter on a SimulatedClock wakes when its condition holds (at once, as
// with absl::Mutex) or when Advance/SetTime moves the simulated time to its
// deadline (within about a millisecond of real time); real time alone never
// ends its wait.
//
// A unit that waits or expires entries takes a `Clock&` (defaulting to
// RealClock()). A unit that only stamps times keeps its
// `std::function<absl::Time()> clock` option; pass `NowOf(clock)` to drive
// it from the same clock.
#ifndef OMNICX_LIBS_TIME_CLOCK_H_
#define OMNICX_LIBS_TIME_CLOCK_H_

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace omnicx::time {

class Clock {
 public:
  virtual ~Clock() = default;

  virtual absl::Time Now() const = 0;

  // Like mu->AwaitWithDeadline(condition, deadline) with `deadline` on this
  // clock: `mu` is held on entry and on return; true when `condition` held.
  virtual bool AwaitWithDeadline(absl::Mutex* mu,
                                 const absl::Condition& condition,
                                 absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;
};

// The process's real clock: absl::Now() and real waits. Never destroyed.
Clock& RealClock();

// `clock.Now` as a function, for the units that take one; `clock` must
// outlive it.
inline std::function<absl::Time()> NowOf(const Clock& clock) {
  return [&clock] { return clock.Now(); };
}

// A clock that moves only on SetTime/Advance; thread-safe.
class SimulatedClock : public Clock {
 public:
  explicit SimulatedClock(absl::Time start = absl::UnixEpoch());

  absl::Time Now() const override;
  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& condition,
                         absl::Time deadline) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Moves the time (never backwards: an earlier `t` is ignored) and wakes
  // the waiters whose deadline it reaches.
  void SetTime(absl::Time t);
  void Advance(absl::Duration d);

  // How many threads wait on this clock right now: tests wait for a
  // background loop to be waiting before they advance past its deadline.
  int waiters() const;

 private:
  std::atomic<int64_t> now_ns_;
  std::atomic<int> waiters_{0};
};

// "Until the deadline or Stop()" for a background loop; Stop() wakes a
// waiting thread at once.
class StopSignal {
 public:
  explicit StopSignal(Clock& clock = RealClock()) : clock_(clock) {}

  void Stop();
  bool stopped() const;

  // Waits until `deadline` on the clock or Stop(); true when stopped.
  bool WaitUntil(absl::Time deadline);
  bool WaitFor(absl::Duration timeout) {
    return WaitUntil(clock_.Now() + timeout);
  }

 private:
  Clock& clock_;
  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace omnicx::time

#endif  // OMNICX_LIBS_TIME_CLOCK_H_
