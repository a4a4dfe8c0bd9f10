// ROC AUC of a score against binary labels: the probability that a randomly
// chosen positive scores higher than a randomly chosen negative, ties
// counting one half (the Mann–Whitney U statistic, ranks averaged over ties).
//
//   double auc = RocAuc({0.9, 0.2, 0.6}, {true, false, true});  // 1.0
//
// Pure; used by the journey simulator's quality measurement.
#ifndef OMNICX_TOOLS_JOURNEYSIM_ROC_AUC_H_
#define OMNICX_TOOLS_JOURNEYSIM_ROC_AUC_H_

#include <vector>

#include "absl/status/statusor.h"

namespace omnicx::journeysim {

// InvalidArgument when the sizes differ or either class is empty.
absl::StatusOr<double> RocAuc(const std::vector<double>& scores,
                              const std::vector<bool>& labels);

}  // namespace omnicx::journeysim

#endif  // OMNICX_TOOLS_JOURNEYSIM_ROC_AUC_H_
