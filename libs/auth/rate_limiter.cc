#include "libs/auth/rate_limiter.h"

#include <algorithm>

namespace omnicx::auth {

RateLimiter::RateLimiter(double rate, int burst)
    : rate_(rate), burst_(std::max(1, burst)) {}

double RateLimiter::Refilled(const Bucket& b, absl::Time now) const {
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - b.updated));
  return std::min(burst_, b.tokens + elapsed * rate_);
}

bool RateLimiter::TryTake(absl::string_view who, absl::Time now,
                          absl::Duration* retry_after) {
  if (!enabled()) return true;
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(who);
  if (it == buckets_.end()) {
    if (buckets_.size() >= kMaxBuckets) {
      for (auto i = buckets_.begin(); i != buckets_.end();) {
        auto next = std::next(i);
        if (Refilled(i->second, now) >= burst_) buckets_.erase(i);
        i = next;
      }
    }
    it = buckets_.emplace(std::string(who), Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  b.tokens = Refilled(b, now);
  b.updated = std::max(b.updated, now);
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  if (retry_after != nullptr) {
    *retry_after = absl::Seconds((1.0 - b.tokens) / rate_);
  }
  return false;
}

}  // namespace omnicx::auth
