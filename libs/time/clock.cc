#include "libs/time/clock.h"

#include "absl/time/clock.h"

namespace omnicx::time {
namespace {

// How often (real time) a simulated waiter looks at the simulated time.
// Advance cannot signal the waiter's own mutex safely (it may be destroyed
// once the wait ends), so the waiter re-checks: test-only cost.
constexpr absl::Duration kSimulatedPoll = absl::Milliseconds(1);

class Real : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& condition,
                         absl::Time deadline) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return mu->AwaitWithDeadline(condition, deadline);
  }
};

}  // namespace

Clock& RealClock() {
  static Clock* const clock = new Real();
  return *clock;
}

SimulatedClock::SimulatedClock(absl::Time start)
    : now_ns_(absl::ToUnixNanos(start)) {}

absl::Time SimulatedClock::Now() const {
  return absl::FromUnixNanos(now_ns_.load(std::memory_order_acquire));
}

void SimulatedClock::SetTime(absl::Time t) {
  const int64_t ns = absl::ToUnixNanos(t);
  int64_t current = now_ns_.load(std::memory_order_acquire);
  while (ns > current && !now_ns_.compare_exchange_weak(
                             current, ns, std::memory_order_acq_rel)) {
  }
}

void SimulatedClock::Advance(absl::Duration d) {
  if (d > absl::ZeroDuration()) now_ns_.fetch_add(absl::ToInt64Nanoseconds(d));
}

int SimulatedClock::waiters() const { return waiters_.load(); }

bool SimulatedClock::AwaitWithDeadline(absl::Mutex* mu,
                                       const absl::Condition& condition,
                                       absl::Time deadline) {
  const int64_t deadline_ns = absl::ToUnixNanos(deadline);
  auto done = [&] {
    return condition.Eval() ||
           now_ns_.load(std::memory_order_acquire) >= deadline_ns;
  };
  waiters_.fetch_add(1);
  while (!mu->AwaitWithDeadline(absl::Condition(&done),
                                absl::Now() + kSimulatedPoll)) {
  }
  waiters_.fetch_sub(1);
  return condition.Eval();
}

void StopSignal::Stop() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
}

bool StopSignal::stopped() const {
  absl::MutexLock lock(&mu_);
  return stopped_;
}

bool StopSignal::WaitUntil(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  return clock_.AwaitWithDeadline(&mu_, absl::Condition(&stopped_), deadline);
}

}  // namespace omnicx::time
