#include "tools/journeysim/roc_auc.h"

#include <algorithm>
#include <numeric>

namespace omnicx::journeysim {

absl::StatusOr<double> RocAuc(const std::vector<double>& scores,
                              const std::vector<bool>& labels) {
  if (scores.size() != labels.size()) {
    return absl::InvalidArgumentError("scores and labels differ in size");
  }
  const size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double positive_rank_sum = 0;
  size_t positives = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    // Ranks i+1 .. j share their average.
    const double rank = (static_cast<double>(i + 1) + j) / 2;
    for (size_t k = i; k < j; ++k) {
      if (labels[order[k]]) {
        positive_rank_sum += rank;
        ++positives;
      }
    }
    i = j;
  }
  const size_t negatives = n - positives;
  if (positives == 0 || negatives == 0) {
    return absl::InvalidArgumentError(
        "ROC AUC needs at least one positive and one negative");
  }
  const double u = positive_rank_sum - positives * (positives + 1) / 2.0;
  return u / (static_cast<double>(positives) * negatives);
}

}  // namespace omnicx::journeysim
