// Admission control under overload: how many calls a service runs at once,
// adapted to the latency it measures (the gradient controller of Envoy's
// adaptive concurrency filter). Calls beyond the limit are refused at once,
// to be answered RESOURCE_EXHAUSTED, so the calls admitted keep about their
// unloaded latency instead of all of them queueing for the CPU.
//
//   ConcurrencyLimiter limiter({.max_limit = 64});
//   std::optional<absl::Time> start = limiter.TryAcquire();
//   if (!start) return Refuse();               // RESOURCE_EXHAUSTED, RetryInfo
//   ... serve the call ...
//   limiter.Release(*start);                   // exactly once per admission
//
// How the limit moves:
//  - minRTT, the latency with almost nothing queued, is the median latency
//    of min_rtt_samples calls admitted with the limit pinned at min_limit:
//    every min_rtt_interval, and after the limit sat at min_limit for 5
//    windows in a row (the old minRTT was too low). The first measurement,
//    at start, runs at initial_limit instead, so that a fresh process takes
//    a burst (a new process usually starts idle).
//  - Otherwise, every update_interval, the median latency of the calls that
//    finished in it (sampleRTT) moves the limit:
//      limit = limit × clamp(minRTT × (1 + buffer) / sampleRTT, 0.5, 2)
//              + sqrt(limit),
//    within [min_limit, max_limit]. The sqrt(limit) term lets a few calls
//    queue, so the limit finds the point where latency starts to rise.
//  - The limit grows only in a window where at least half of it was in use,
//    so an idle service does not drift to max_limit and then admit a burst
//    all at once.
// Time comes from an injected clock (tests drive a SimulatedClock).
#ifndef OMNICX_LIBS_SERVER_CONCURRENCY_LIMITER_H_
#define OMNICX_LIBS_SERVER_CONCURRENCY_LIMITER_H_

#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/time/clock.h"

namespace omnicx::server {

struct ConcurrencyLimiterOptions {
  int min_limit = 3;
  int max_limit = 64;
  // The limit until the first minRTT is known; 0: a quarter of max_limit.
  int initial_limit = 0;
  absl::Duration update_interval = absl::Milliseconds(100);
  int min_rtt_samples = 50;
  // Latency allowed over minRTT before the limit shrinks.
  double buffer = 0.25;
  absl::Duration min_rtt_interval = absl::Seconds(60);
};

class ConcurrencyLimiter {
 public:
  // `clock` must outlive this.
  explicit ConcurrencyLimiter(ConcurrencyLimiterOptions options,
                              const time::Clock& clock = time::RealClock());

  // The admitted call's start, or nullopt (and nothing to release) when
  // `limit()` calls are in flight.
  std::optional<absl::Time> TryAcquire();
  // Ends a call TryAcquire admitted at `start`; its latency is a sample.
  void Release(absl::Time start);

  int limit() const;
  // Zero until the first measurement ends.
  absl::Duration min_rtt() const;

 private:
  // Pins the limit at `pinned` until min_rtt_samples of the calls admitted
  // from now on finish.
  void StartMeasuring(absl::Time now, int pinned)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Update(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ConcurrencyLimiterOptions options_;
  const time::Clock& clock_;
  mutable absl::Mutex mu_;
  int limit_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool measuring_ ABSL_GUARDED_BY(mu_) = true;
  absl::Time measuring_since_ ABSL_GUARDED_BY(mu_);
  // The limit to go back to once a measurement ends.
  int limit_before_measuring_ ABSL_GUARDED_BY(mu_);
  absl::Duration min_rtt_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  absl::Time next_measurement_ ABSL_GUARDED_BY(mu_);
  absl::Time window_start_ ABSL_GUARDED_BY(mu_);
  // The most calls in flight at once in this window.
  int window_peak_ ABSL_GUARDED_BY(mu_) = 0;
  int windows_at_min_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<absl::Duration> samples_ ABSL_GUARDED_BY(mu_);
};

}  // namespace omnicx::server

#endif  // OMNICX_LIBS_SERVER_CONCURRENCY_LIMITER_H_
