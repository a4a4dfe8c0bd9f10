#include "services/recommendation/deadline_timer.h"

#include <algorithm>

namespace omnicx::recommendation {
namespace {

constexpr absl::Duration kResolution = absl::Milliseconds(1);

}  // namespace

DeadlineTimer::DeadlineTimer(time::Clock& clock)
    : clock_(clock), thread_([this] { Run(); }) {}

DeadlineTimer::~DeadlineTimer() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void DeadlineTimer::Schedule(absl::Time when, std::function<void()> callback) {
  absl::MutexLock lock(&mu_);
  due_.emplace(when, std::move(callback));
}

void DeadlineTimer::Run() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    // At most one wake-up per kResolution: under load every call has a
    // watchdog, and waking for each one would cost more than the calls.
    const absl::Time now = clock_.Now();
    const absl::Time next =
        due_.empty() ? now + absl::Milliseconds(100)
                     : std::max(due_.begin()->first, now + kResolution);
    // Wakes then, or earlier when stopping or when an earlier callback
    // arrives.
    auto changed = [this, next]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stop_ ||
             (!due_.empty() && due_.begin()->first + kResolution < next);
    };
    clock_.AwaitWithDeadline(&mu_, absl::Condition(&changed), next);
    if (stop_) break;
    while (!due_.empty() && due_.begin()->first <= clock_.Now()) {
      std::function<void()> callback = std::move(due_.begin()->second);
      due_.erase(due_.begin());
      mu_.Unlock();
      callback();
      mu_.Lock();
    }
  }
  due_.clear();
}

}  // namespace omnicx::recommendation
