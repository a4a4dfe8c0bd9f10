#include "libs/metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace omnicx::metrics {
namespace {

void AtomicAdd(std::atomic<double>& target, double by) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + by,
                                       std::memory_order_relaxed)) {
  }
}

bool ValidName(const std::string& name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = absl::ascii_isalpha(c) || c == '_' ||
                    (allow_colon && c == ':') ||
                    (i > 0 && absl::ascii_isdigit(c));
    if (!ok) return false;
  }
  return !(name.size() >= 2 && name[0] == '_' && name[1] == '_');
}

[[noreturn]] void Die(const std::string& why) {
  std::cerr << "metrics: " << why << "\n";
  std::abort();
}

void CheckNames(const std::string& name,
                const std::vector<std::string>& labels) {
  if (!ValidName(name, true))
    Die(absl::StrCat("invalid metric name '", name, "'"));
  for (const auto& l : labels) {
    if (!ValidName(l, false) || l == "le") {
      Die(absl::StrCat("invalid label name '", l, "' on ", name));
    }
  }
}

std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string LabelSet(const std::vector<std::string>& names,
                     const std::vector<std::string>& values,
                     const std::string& extra = "") {
  if (names.empty() && extra.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    absl::StrAppend(&out, i ? "," : "", names[i], "=\"",
                    EscapeLabelValue(values[i]), "\"");
  }
  if (!extra.empty()) absl::StrAppend(&out, names.empty() ? "" : ",", extra);
  out += "}";
  return out;
}

template <typename F>
void Header(std::string* out, const F& family, const char* type) {
  absl::StrAppend(out, "# HELP ", family.name(), " ", EscapeHelp(family.help()),
                  "\n# TYPE ", family.name(), " ", type, "\n");
}

}  // namespace

std::vector<double> DefaultLatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};
}

void Counter::Increment(double by) {
  if (by < 0) return;  // counters never go down
  AtomicAdd(value_, by);
}

void Gauge::Add(double by) { AtomicAdd(value_, by); }

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), counts_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double v) {
  const size_t i = static_cast<size_t>(
      std::lower_bound(bounds_->begin(), bounds_->end(), v) - bounds_->begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, v);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_->size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

template <typename T>
T& Family<T>::WithLabels(const std::vector<std::string>& values) {
  if (values.size() != labels_.size()) {
    Die(absl::StrCat(name_, " takes ", labels_.size(), " label values, got ",
                     values.size()));
  }
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = children_.find(values);
    if (it != children_.end()) return *it->second;
  }
  absl::MutexLock lock(&mu_);
  auto& slot = children_[values];
  if (slot == nullptr) {
    if constexpr (std::is_same_v<T, Histogram>) {
      slot = std::make_unique<T>(&bounds_);
    } else {
      slot = std::make_unique<T>();
    }
  }
  return *slot;
}

template <typename T>
std::vector<std::pair<std::vector<std::string>, const T*>> Family<T>::Children()
    const {
  std::vector<std::pair<std::vector<std::string>, const T*>> out;
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [labels, child] : children_) {
    out.emplace_back(labels, child.get());
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

CounterFamily& Registry::Counter(const std::string& name,
                                 const std::string& help,
                                 const std::vector<std::string>& labels) {
  CheckNames(name, labels);
  absl::MutexLock lock(&mu_);
  auto& slot = counters_[name];
  if (slot == nullptr) {
    if (gauges_.count(name) || histograms_.count(name)) {
      Die(absl::StrCat(name, " is registered with another type"));
    }
    slot = std::make_unique<CounterFamily>(name, help, labels);
  } else if (slot->labels() != labels) {
    Die(absl::StrCat(name, " registered again with other labels"));
  }
  return *slot;
}

GaugeFamily& Registry::Gauge(const std::string& name, const std::string& help,
                             const std::vector<std::string>& labels) {
  CheckNames(name, labels);
  absl::MutexLock lock(&mu_);
  auto& slot = gauges_[name];
  if (slot == nullptr) {
    if (counters_.count(name) || histograms_.count(name)) {
      Die(absl::StrCat(name, " is registered with another type"));
    }
    slot = std::make_unique<GaugeFamily>(name, help, labels);
  } else if (slot->labels() != labels) {
    Die(absl::StrCat(name, " registered again with other labels"));
  }
  return *slot;
}

HistogramFamily& Registry::Histogram(const std::string& name,
                                     const std::string& help,
                                     const std::vector<std::string>& labels,
                                     const std::vector<double>& bounds) {
  CheckNames(name, labels);
  if (!std::is_sorted(bounds.begin(), bounds.end()) || bounds.empty()) {
    Die(absl::StrCat(name, " needs sorted, non-empty bucket bounds"));
  }
  absl::MutexLock lock(&mu_);
  auto& slot = histograms_[name];
  if (slot == nullptr) {
    if (counters_.count(name) || gauges_.count(name)) {
      Die(absl::StrCat(name, " is registered with another type"));
    }
    slot = std::make_unique<HistogramFamily>(name, help, labels, bounds);
  } else if (slot->labels() != labels || slot->bounds() != bounds) {
    Die(absl::StrCat(name, " registered again with other labels or buckets"));
  }
  return *slot;
}

void Registry::Callback(CallbackMetric metric) {
  CheckNames(metric.name, {});
  absl::MutexLock lock(&mu_);
  callbacks_.emplace(metric.name, std::move(metric));
}

std::string Registry::Render() const {
  // Render outside the registry lock would need stable family pointers;
  // families are never removed, so holding the lock briefly is fine.
  absl::MutexLock lock(&mu_);
  std::map<std::string, std::string> blocks;  // sorted by name
  for (const auto& [name, family] : counters_) {
    std::string& out = blocks[name];
    Header(&out, *family, "counter");
    for (const auto& [values, child] : family->Children()) {
      absl::StrAppend(&out, name, LabelSet(family->labels(), values), " ",
                      FormatValue(child->value()), "\n");
    }
  }
  for (const auto& [name, family] : gauges_) {
    std::string& out = blocks[name];
    Header(&out, *family, "gauge");
    for (const auto& [values, child] : family->Children()) {
      absl::StrAppend(&out, name, LabelSet(family->labels(), values), " ",
                      FormatValue(child->value()), "\n");
    }
  }
  for (const auto& [name, family] : histograms_) {
    std::string& out = blocks[name];
    Header(&out, *family, "histogram");
    for (const auto& [values, child] : family->Children()) {
      const std::vector<uint64_t> counts = child->CumulativeCounts();
      for (size_t i = 0; i < counts.size(); ++i) {
        const std::string le = i < family->bounds().size()
                                   ? FormatValue(family->bounds()[i])
                                   : "+Inf";
        absl::StrAppend(
            &out, name, "_bucket",
            LabelSet(family->labels(), values, absl::StrCat("le=\"", le, "\"")),
            " ", counts[i], "\n");
      }
      absl::StrAppend(&out, name, "_sum", LabelSet(family->labels(), values),
                      " ", FormatValue(child->sum()), "\n");
      absl::StrAppend(&out, name, "_count", LabelSet(family->labels(), values),
                      " ", counts.back(), "\n");
    }
  }
  for (const auto& [name, metric] : callbacks_) {
    std::string& out = blocks[name];
    absl::StrAppend(&out, "# HELP ", name, " ", EscapeHelp(metric.help),
                    "\n# TYPE ", name, " ",
                    metric.type == Type::kCounter ? "counter" : "gauge", "\n",
                    name, " ", FormatValue(metric.value()), "\n");
  }
  std::string text;
  for (const auto& [name, block] : blocks) text += block;
  return text;
}

Registry& DefaultRegistry() {
  static Registry* registry = new Registry();
  return *registry;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  return absl::StrFormat("%.15g", v);
}

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace omnicx::metrics
