// The journey's cross-customer aggregates as deltas: a commit encodes its
// change to the pain-point fields and the funnel days into one compact
// outbox record; the aggregator decodes a partition's records and sums them
// before writing one fold. Pure: no Redis.
//
//   std::string record = EncodeDelta(pain_delta, {{"2026-12-05", "1>2"}});
//   FoldedDeltas sum;
//   OMNICX_RETURN_IF_ERROR(AddDelta(record, &sum));
#ifndef OMNICX_SERVICES_JOURNEY_AGGREGATE_DELTA_H_
#define OMNICX_SERVICES_JOURNEY_AGGREGATE_DELTA_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/journey/journey_state.h"

namespace omnicx::journey {

// One funnel transition: its UTC day ("2026-12-05") and "from>to" field.
using FunnelMove = std::pair<std::string, std::string>;

// A serialised AggregateDelta (state.proto); "" when there is no change.
// `retracted` moves count −1 (a move and its retraction cancel).
std::string EncodeDelta(const AggregateFields& pain,
                        const std::vector<FunnelMove>& moves,
                        const std::vector<FunnelMove>& retracted = {});

// The sum of any number of deltas, without zero entries.
struct FoldedDeltas {
  AggregateFields pain;
  // day -> "from>to" -> count.
  std::map<std::string, AggregateFields> funnel;
  bool empty() const { return pain.empty() && funnel.empty(); }
};

// Adds one record to `sum` (DataLoss when it does not parse).
absl::Status AddDelta(absl::string_view record, FoldedDeltas* sum);

}  // namespace omnicx::journey

#endif  // OMNICX_SERVICES_JOURNEY_AGGREGATE_DELTA_H_
