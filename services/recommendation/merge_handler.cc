#include "services/recommendation/merge_handler.h"

#include "absl/strings/str_cat.h"

namespace omnicx::recommendation {

absl::Status ApplyMergeRecord(RecommendationStore& store,
                              const streams::StreamEntry& entry) {
  std::string survivor;
  std::string merged;
  for (const auto& [field, value] : entry.fields) {
    if (field == "survivor") survivor = value;
    if (field == "merged") merged = value;
  }
  if (survivor.empty() || merged.empty() || survivor == merged) {
    return absl::InvalidArgumentError(
        absl::StrCat("merge record ", entry.id,
                     " needs distinct survivor and merged fields"));
  }
  return store.MergeCustomers(survivor, merged).status();
}

}  // namespace omnicx::recommendation
