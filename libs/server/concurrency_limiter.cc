#include "libs/server/concurrency_limiter.h"

#include <algorithm>
#include <cmath>

namespace omnicx::server {
namespace {

// The median of `samples` (reordered); `samples` is not empty.
absl::Duration Median(std::vector<absl::Duration>& samples) {
  auto mid = samples.begin() + samples.size() / 2;
  std::nth_element(samples.begin(), mid, samples.end());
  return *mid;
}
}  // namespace

ConcurrencyLimiter::ConcurrencyLimiter(ConcurrencyLimiterOptions options,
                                       const time::Clock& clock)
    : options_([&options] {
        options.min_limit = std::max(1, options.min_limit);
        options.max_limit = std::max(options.min_limit, options.max_limit);
        options.min_rtt_samples = std::max(1, options.min_rtt_samples);
        if (options.initial_limit <= 0) {
          options.initial_limit = options.max_limit / 4;
        }
        options.initial_limit = std::clamp(
            options.initial_limit, options.min_limit, options.max_limit);
        return options;
      }()),
      clock_(clock),
      limit_(options_.initial_limit),
      limit_before_measuring_(options_.initial_limit) {
  absl::MutexLock lock(&mu_);
  StartMeasuring(clock_.Now(), options_.initial_limit);
}

std::optional<absl::Time> ConcurrencyLimiter::TryAcquire() {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  if (in_flight_ >= limit_) return std::nullopt;
  ++in_flight_;
  window_peak_ = std::max(window_peak_, in_flight_);
  return now;
}

void ConcurrencyLimiter::Release(absl::Time start) {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  --in_flight_;
  // A measurement counts only the calls it admitted, at its low limit.
  if (measuring_ && start < measuring_since_) return;
  samples_.push_back(now - start);
  if (measuring_) {
    if (static_cast<int>(samples_.size()) < options_.min_rtt_samples) return;
    min_rtt_ = Median(samples_);
    samples_.clear();
    measuring_ = false;
    limit_ = limit_before_measuring_;
    next_measurement_ = now + options_.min_rtt_interval;
    window_start_ = now;
    window_peak_ = in_flight_;
    return;
  }
  if (now - window_start_ >= options_.update_interval) Update(now);
}

void ConcurrencyLimiter::StartMeasuring(absl::Time now, int pinned) {
  measuring_ = true;
  measuring_since_ = now;
  limit_before_measuring_ = limit_;
  limit_ = pinned;
  samples_.clear();
  windows_at_min_ = 0;
  window_start_ = now;
}

void ConcurrencyLimiter::Update(absl::Time now) {
  const absl::Duration sample_rtt = Median(samples_);
  const double gradient = std::clamp(
      absl::FDivDuration(min_rtt_ * (1 + options_.buffer), sample_rtt), 0.5,
      2.0);
  const double limit = limit_;
  int next = static_cast<int>(std::ceil(limit * gradient + std::sqrt(limit)));
  // Grow only when the limit was what held calls back.
  if (next > limit_ && window_peak_ * 2 < limit_) next = limit_;
  limit_ = std::clamp(next, options_.min_limit, options_.max_limit);
  samples_.clear();
  window_start_ = now;
  window_peak_ = in_flight_;
  windows_at_min_ = limit_ == options_.min_limit ? windows_at_min_ + 1 : 0;
  if (windows_at_min_ >= 5 || now >= next_measurement_) {
    StartMeasuring(now, options_.min_limit);
  }
}

int ConcurrencyLimiter::limit() const {
  absl::MutexLock lock(&mu_);
  return limit_;
}

absl::Duration ConcurrencyLimiter::min_rtt() const {
  absl::MutexLock lock(&mu_);
  return min_rtt_;
}

}  // namespace omnicx::server
