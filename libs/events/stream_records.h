// Decoding of the records the consumers read from Redis streams, shared by
// every consumer so that each reads them the same way and a fuzzer can
// reach the decoding without Redis (tests/fuzz/stream_entry_fuzzer.cc):
//   - an event entry ("e" = a serialised omnicx.v1.Interaction) of the
//     event shards (profile) and the resolved-event shards (journey, where
//     resolved_customer_id must be set);
//   - a merge-log record (fields "survivor", "merged", "at"), appended by
//     the profile service and read by the journey and recommendation.
//
//   std::optional<v1::Interaction> event =
//       DecodeEventPayload(entry.payload, /*resolved=*/true);
//   if (!event.has_value()) return absl::DataLossError("...");
//   std::optional<MergeRecord> merge = DecodeMergeRecord(entry.fields);
//
// Pure: no Redis. A corrupt record is std::nullopt; the caller says why in
// its own error (and the consumer dead-letters it after its retries).
#ifndef OMNICX_LIBS_EVENTS_STREAM_RECORDS_H_
#define OMNICX_LIBS_EVENTS_STREAM_RECORDS_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "omnicx/v1/common.pb.h"

namespace omnicx::events {

// A stream entry's fields in order, as StreamEntry::fields holds them.
using EntryFields = std::vector<std::pair<std::string, std::string>>;

// The event in `payload`; std::nullopt when it does not parse or, for a
// `resolved` entry, has no resolved_customer_id.
std::optional<omnicx::v1::Interaction> DecodeEventPayload(
    absl::string_view payload, bool resolved);

struct MergeRecord {
  std::string survivor;  // the customer that remains
  std::string merged;    // the customer merged into it
};

// std::nullopt unless `survivor` and `merged` are both non-empty and
// distinct (the last of each field counts, as XADD wrote them once).
std::optional<MergeRecord> DecodeMergeRecord(const EntryFields& fields);

}  // namespace omnicx::events

#endif  // OMNICX_LIBS_EVENTS_STREAM_RECORDS_H_
