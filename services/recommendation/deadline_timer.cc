#include "services/recommendation/deadline_timer.h"

namespace omnicx::recommendation {

DeadlineTimer::DeadlineTimer() : thread_([this] { Run(); }) {}

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
    const absl::Time next = due_.empty() ? absl::Now() + absl::Milliseconds(100)
                                         : due_.begin()->first;
    // Wakes at the earliest due time, or when a callback or stop arrives.
    auto changed = [this, next]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stop_ || (!due_.empty() && due_.begin()->first < next);
    };
    mu_.AwaitWithDeadline(absl::Condition(&changed), next);
    if (stop_) break;
    while (!due_.empty() && due_.begin()->first <= absl::Now()) {
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
