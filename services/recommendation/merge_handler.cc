#include "services/recommendation/merge_handler.h"

#include "absl/strings/str_cat.h"
#include "libs/events/stream_records.h"

namespace omnicx::recommendation {

absl::Status ApplyMergeRecord(RecommendationStore& store,
                              const streams::StreamEntry& entry) {
  std::optional<events::MergeRecord> record =
      events::DecodeMergeRecord(entry.fields);
  if (!record.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("merge record ", entry.id,
                     " needs distinct survivor and merged fields"));
  }
  return store.MergeCustomers(record->survivor, record->merged).status();
}

}  // namespace omnicx::recommendation
