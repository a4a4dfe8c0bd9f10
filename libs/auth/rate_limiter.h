// A token bucket per credential, so one caller cannot exhaust a service for
// all the others. Each call takes one token; tokens refill at `rate` per
// second up to `burst`. Time is passed in, so tests need no clock.
//
//   RateLimiter limiter(/*rate=*/100, /*burst=*/200);
//   absl::Duration wait;
//   if (!limiter.TryTake("default/console-eu", absl::Now(), &wait)) {
//     // RESOURCE_EXHAUSTED with RetryInfo(wait)
//   }
//
// Buckets are kept per process (each replica limits on its own). At most
// kMaxBuckets are held; when full, buckets that have refilled completely
// (idle callers) are dropped.
#ifndef OMNICX_LIBS_AUTH_RATE_LIMITER_H_
#define OMNICX_LIBS_AUTH_RATE_LIMITER_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace omnicx::auth {

class RateLimiter {
 public:
  static constexpr size_t kMaxBuckets = 100000;

  // rate <= 0 disables the limit.
  RateLimiter(double rate, int burst);

  bool enabled() const { return rate_ > 0; }
  // Takes a token for `who` at `now`. False when none is left; `retry_after`
  // then says when the next one will be there.
  bool TryTake(absl::string_view who, absl::Time now,
               absl::Duration* retry_after);

 private:
  struct Bucket {
    double tokens;
    absl::Time updated;
  };
  double Refilled(const Bucket& b, absl::Time now) const;

  const double rate_;
  const double burst_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace omnicx::auth

#endif  // OMNICX_LIBS_AUTH_RATE_LIMITER_H_
