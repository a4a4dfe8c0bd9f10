// Prometheus metrics: counters, gauges and histograms with labels, rendered
// in the text exposition format 0.0.4. No C++ Prometheus client is packaged
// for Debian 12, so this is the project's small, conformant one.
//
//   metrics::CounterFamily& calls = registry.Counter(
//       "omnicx_calls_total", "Calls by method.", {"method"});
//   metrics::Counter& track = calls.WithLabels({"Track"});  // cache this
//   track.Increment();
//   std::string text = registry.Render();
//
// Registering the same name again returns the existing family (the type,
// label names and buckets must match; a mismatch is a programming error and
// aborts with a message, as does an invalid metric or label name).
// Updates are lock-free atomics; WithLabels takes a reader lock, so cache
// the child on hot paths when the labels are fixed.
#ifndef OMNICX_LIBS_METRICS_REGISTRY_H_
#define OMNICX_LIBS_METRICS_REGISTRY_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"

namespace omnicx::metrics {

// Seconds: 100 µs … 10 s.
std::vector<double> DefaultLatencyBuckets();

class Counter {
 public:
  void Increment(double by = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double by);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double v);
  // Cumulative counts per bound, then +Inf; and the sum.
  std::vector<uint64_t> CumulativeCounts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds + 1 (+Inf)
  std::atomic<double> sum_{0.0};
};

enum class Type { kCounter, kGauge, kHistogram };

// All children of one metric name, keyed by label values.
template <typename T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> labels,
         std::vector<double> bounds = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        labels_(std::move(labels)),
        bounds_(std::move(bounds)) {}

  // The child for these label values (as many as label names); created on
  // first use; the reference stays valid for the registry's lifetime.
  T& WithLabels(const std::vector<std::string>& values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& labels() const { return labels_; }
  const std::vector<double>& bounds() const { return bounds_; }

  // Children sorted by label values, for rendering.
  std::vector<std::pair<std::vector<std::string>, const T*>> Children() const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> labels_;
  std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::vector<std::string>, std::unique_ptr<T>> children_
      ABSL_GUARDED_BY(mu_);
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// A value computed at scrape time (process metrics, queue depths).
struct CallbackMetric {
  std::string name;
  std::string help;
  Type type;
  std::function<double()> value;
};

class Registry {
 public:
  CounterFamily& Counter(const std::string& name, const std::string& help,
                         const std::vector<std::string>& labels);
  GaugeFamily& Gauge(const std::string& name, const std::string& help,
                     const std::vector<std::string>& labels);
  HistogramFamily& Histogram(const std::string& name, const std::string& help,
                             const std::vector<std::string>& labels,
                             const std::vector<double>& bounds);
  // Registers once per name; later registrations of the name are ignored.
  void Callback(CallbackMetric metric);

  // The text exposition, families sorted by name.
  std::string Render() const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<CounterFamily>> counters_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<GaugeFamily>> gauges_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<HistogramFamily>> histograms_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, CallbackMetric> callbacks_ ABSL_GUARDED_BY(mu_);
};

// The process-wide registry the services use.
Registry& DefaultRegistry();

// Prometheus spelling of a sample value: integers exactly, +Inf, -Inf, NaN.
std::string FormatValue(double v);
// Escapes a label value (backslash, double quote, newline).
std::string EscapeLabelValue(const std::string& v);

}  // namespace omnicx::metrics

#endif  // OMNICX_LIBS_METRICS_REGISTRY_H_
