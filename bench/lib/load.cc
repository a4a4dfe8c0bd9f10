#include "bench/lib/load.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

namespace omnicx::bench {

void LatencyRecorder::Merge(const LatencyRecorder& other) {
  micros_.insert(micros_.end(), other.micros_.begin(), other.micros_.end());
  sorted_ = false;
}

double LatencyRecorder::PercentileMicros(double q) const {
  if (micros_.empty()) return 0;
  if (!sorted_) {
    std::sort(micros_.begin(), micros_.end());
    sorted_ = true;
  }
  const size_t rank =
      static_cast<size_t>(std::ceil(q * static_cast<double>(micros_.size())));
  return micros_[std::min(micros_.size() - 1, rank == 0 ? 0 : rank - 1)];
}

double LoadResult::qps() const {
  const double s = absl::ToDoubleSeconds(elapsed);
  return s > 0 ? static_cast<double>(ok) / s : 0;
}

LoadResult RunClosedLoop(int workers, absl::Duration duration,
                         int64_t max_calls,
                         const std::function<bool(int worker)>& call) {
  std::atomic<int64_t> issued{0};
  std::vector<LoadResult> per_worker(workers);
  const absl::Time start = absl::Now();
  const absl::Time end = start + duration;
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      LoadResult& mine = per_worker[w];
      while (absl::Now() < end && issued.fetch_add(1) < max_calls) {
        const absl::Time t0 = absl::Now();
        if (call(w)) {
          mine.ok++;
          mine.latency.Record(absl::Now() - t0);
        } else {
          mine.errors++;
          mine.failed_latency.Record(absl::Now() - t0);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  LoadResult total;
  total.elapsed = absl::Now() - start;
  for (auto& r : per_worker) {
    total.ok += r.ok;
    total.errors += r.errors;
    total.latency.Merge(r.latency);
    total.failed_latency.Merge(r.failed_latency);
  }
  return total;
}

LoadResult RunOpenLoop(
    double rate, absl::Duration duration, int64_t max_calls,
    const std::function<void(std::function<void(bool)> done)>& issue) {
  struct Shared {
    absl::Mutex mu;
    LoadResult result;
    int64_t outstanding = 0;
  };
  auto shared = std::make_shared<Shared>();
  const absl::Duration interval = absl::Seconds(1) / rate;
  const absl::Time start = absl::Now();
  int64_t n = 0;
  for (; n < max_calls; ++n) {
    const absl::Time scheduled = start + interval * n;
    if (scheduled - start >= duration) break;
    const absl::Time now = absl::Now();
    if (scheduled > now) absl::SleepFor(scheduled - now);
    {
      absl::MutexLock lock(&shared->mu);
      shared->outstanding++;
    }
    issue([shared, scheduled](bool ok) {
      const absl::Duration latency = absl::Now() - scheduled;
      absl::MutexLock lock(&shared->mu);
      if (ok) {
        shared->result.ok++;
        shared->result.latency.Record(latency);
      } else {
        shared->result.errors++;
        shared->result.failed_latency.Record(latency);
      }
      shared->outstanding--;
    });
  }
  absl::MutexLock lock(&shared->mu);
  auto drained = [&shared] { return shared->outstanding == 0; };
  shared->mu.AwaitWithTimeout(absl::Condition(&drained), absl::Seconds(10));
  shared->result.errors += shared->outstanding;  // stragglers count as errors
  LoadResult out;
  out.ok = shared->result.ok;
  out.errors = shared->result.errors;
  out.latency = shared->result.latency;
  out.failed_latency = shared->result.failed_latency;
  out.elapsed = absl::Now() - start;
  return out;
}

std::map<std::string, double> ReadFigures(const std::string& path) {
  std::map<std::string, double> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, '=');
    double v = 0;
    if (absl::SimpleAtod(kv.second, &v)) out[kv.first] = v;
  }
  return out;
}

void PrintHeader() {
  std::printf("%-34s | %-14s | %12s | %12s | %8s\n", "scenario", "metric",
              "value", "baseline", "ratio");
  std::printf("%s\n", std::string(92, '-').c_str());
}

void PrintRow(const std::string& name, const std::string& metric, double value,
              double baseline) {
  if (baseline > 0) {
    std::printf("%-34s | %-14s | %12.2f | %12.2f | %7.2fx\n", name.c_str(),
                metric.c_str(), value, baseline, value / baseline);
  } else {
    std::printf("%-34s | %-14s | %12.2f | %12s | %8s\n", name.c_str(),
                metric.c_str(), value, "-", "-");
  }
  std::fflush(stdout);
}

}  // namespace omnicx::bench
