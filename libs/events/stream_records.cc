#include "libs/events/stream_records.h"

namespace omnicx::events {

std::optional<omnicx::v1::Interaction> DecodeEventPayload(
    absl::string_view payload, bool resolved) {
  omnicx::v1::Interaction event;
  if (!event.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return std::nullopt;
  }
  if (resolved && event.resolved_customer_id().empty()) return std::nullopt;
  return event;
}

std::optional<MergeRecord> DecodeMergeRecord(const EntryFields& fields) {
  MergeRecord record;
  for (const auto& [name, value] : fields) {
    if (name == "survivor") record.survivor = value;
    if (name == "merged") record.merged = value;
  }
  if (record.survivor.empty() || record.merged.empty() ||
      record.survivor == record.merged) {
    return std::nullopt;
  }
  return record;
}

}  // namespace omnicx::events
