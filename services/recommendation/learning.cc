#include "services/recommendation/learning.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace omnicx::recommendation {

std::string LearningSegment(const std::vector<std::string>& segments) {
  for (absl::string_view preferred : kSegmentPriority) {
    for (const std::string& s : segments) {
      if (s == preferred) return s;
    }
  }
  std::string best;
  for (const std::string& s : segments) {
    if (s.empty() || s == kAllSegments) continue;
    if (best.empty() || s < best) best = s;
  }
  return best.empty() ? std::string(kAllSegments) : best;
}

void SegmentCounts::Merge(const SegmentCounts& o) {
  impressions += o.impressions;
  accepts += o.accepts;
  rejects += o.rejects;
  ignores += o.ignores;
  conversions += o.conversions;
  successes += o.successes;
  failures += o.failures;
}

std::string StatsTable::Key(absl::string_view action_id,
                            absl::string_view segment) {
  return absl::StrCat(action_id, "\x1f", segment);
}

SegmentCounts StatsTable::Find(absl::string_view action_id,
                               absl::string_view segment) const {
  auto it = counts_.find(Key(action_id, segment));
  return it == counts_.end() ? SegmentCounts() : it->second;
}

void StatsTable::Add(absl::string_view action_id, absl::string_view segment,
                     const SegmentCounts& counts) {
  counts_[Key(action_id, segment)].Merge(counts);
}

void StatsTable::SetCounter(absl::string_view action_id,
                            absl::string_view segment,
                            absl::string_view counter, int64_t value) {
  SegmentCounts& c = counts_[Key(action_id, segment)];
  if (counter == "imp") {
    c.impressions = value;
  } else if (counter == "acc") {
    c.accepts = value;
  } else if (counter == "rej") {
    c.rejects = value;
  } else if (counter == "ign") {
    c.ignores = value;
  } else if (counter == "conv") {
    c.conversions = value;
  } else if (counter == "s") {
    c.successes = value;
  } else if (counter == "f") {
    c.failures = value;
  }
}

std::vector<StatsTable::Row> StatsTable::Rows() const {
  std::vector<Row> rows;
  rows.reserve(counts_.size());
  for (const auto& [key, counts] : counts_) {
    std::pair<std::string, std::string> parts =
        absl::StrSplit(key, absl::MaxSplits('\x1f', 1));
    rows.push_back({parts.first, parts.second, counts});
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return std::tie(a.action_id, a.segment) < std::tie(b.action_id, b.segment);
  });
  return rows;
}

BetaPosterior Posterior(const omnicx::v1::Action& action,
                        const SegmentCounts& counts, int prior_strength) {
  const double r = action.prior_accept_rate();
  BetaPosterior p;
  p.alpha = std::max(r * prior_strength, 0.01) +
            static_cast<double>(std::max<int64_t>(counts.successes, 0));
  p.beta = std::max((1 - r) * prior_strength, 0.01) +
           static_cast<double>(std::max<int64_t>(counts.failures, 0));
  return p;
}

double SampleBeta(double alpha, double beta, std::mt19937_64& rng) {
  std::gamma_distribution<double> ga(alpha, 1.0);
  std::gamma_distribution<double> gb(beta, 1.0);
  const double x = ga(rng);
  const double y = gb(rng);
  if (x + y <= 0) return alpha / (alpha + beta);
  return x / (x + y);
}

}  // namespace omnicx::recommendation
