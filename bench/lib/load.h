// Load generation for omnicx benchmarks: latency recording, closed-loop
// (fixed concurrency) and open-loop (fixed offered rate, latency measured
// from the scheduled send time, so queueing is counted — no coordinated
// omission) runners, and one table format so every benchmark prints its
// figures beside the baseline measured in the same run.
//
//   LoadResult r = RunClosedLoop(16, absl::Seconds(3), 1'000'000,
//                                [&](int worker) { return CallOnce(); });
//   PrintRow("Track c16", "p99 ms", r.p99_ms(), baseline_p99_ms);
//
// Every runner is bounded by both a duration and a call count.
#ifndef OMNICX_BENCH_LIB_LOAD_H_
#define OMNICX_BENCH_LIB_LOAD_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace omnicx::bench {

class LatencyRecorder {
 public:
  void Record(absl::Duration latency) {
    micros_.push_back(absl::ToDoubleMicroseconds(latency));
  }
  void Merge(const LatencyRecorder& other);
  size_t count() const { return micros_.size(); }
  // q in [0, 1]; nearest-rank on sorted samples; 0 when empty.
  double PercentileMicros(double q) const;

 private:
  mutable std::vector<double> micros_;
  mutable bool sorted_ = false;
};

struct LoadResult {
  int64_t ok = 0;
  int64_t errors = 0;
  absl::Duration elapsed;
  LatencyRecorder latency;         // successful calls
  LatencyRecorder failed_latency;  // failed calls that completed
  double qps() const;
  double p50_ms() const { return latency.PercentileMicros(0.50) / 1000; }
  double p99_ms() const { return latency.PercentileMicros(0.99) / 1000; }
  double failed_p99_ms() const {
    return failed_latency.PercentileMicros(0.99) / 1000;
  }
};

// `workers` threads each call `call(worker)` back to back until `duration`
// passes or `max_calls` calls were made in total. `call` returns success.
LoadResult RunClosedLoop(int workers, absl::Duration duration,
                         int64_t max_calls,
                         const std::function<bool(int worker)>& call);

// Issues calls at `rate` per second for `duration` (at most `max_calls`).
// `issue` starts one asynchronous call and must invoke `done(ok)` exactly
// once when it completes (from any thread). Latency is measured from each
// call's scheduled start. Waits up to 10 s for stragglers.
LoadResult RunOpenLoop(
    double rate, absl::Duration duration, int64_t max_calls,
    const std::function<void(std::function<void(bool)> done)>& issue);

// Baseline figures written by bench/baseline.sh (key=value lines).
std::map<std::string, double> ReadFigures(const std::string& path);

// One result row: "name | metric | value | baseline | ratio". A baseline of
// 0 prints "-".
void PrintHeader();
void PrintRow(const std::string& name, const std::string& metric, double value,
              double baseline = 0);

}  // namespace omnicx::bench

#endif  // OMNICX_BENCH_LIB_LOAD_H_
