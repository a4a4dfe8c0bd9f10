// Trimming a Redis stream only below what every consumer group has
// acknowledged, shared by the event log (ingestion) and the resolved-event
// shards (journey), so no group ever loses an entry it has not processed.
//
//   absl::StatusOr<int64_t> n = TrimAcknowledged(redis, keys.EventShard(3));
//
// The oldest entry some group still needs is its oldest pending entry or,
// with nothing pending, the one after its last delivered entry; the stream
// is trimmed with XTRIM MINID ~ to that id (Redis removes only whole nodes
// below it, never anything at or above it). A stream without groups is left
// alone.
#ifndef OMNICX_LIBS_STREAMS_RETENTION_H_
#define OMNICX_LIBS_STREAMS_RETENTION_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/redis/client.h"

namespace omnicx::streams {

// Entries removed: at most kTrimStep per XTRIM and kMaxTrimSteps XTRIMs per
// call (the rest goes in the next call), so no single command blocks Redis
// for long.
inline constexpr int kTrimStep = 200;
inline constexpr int kMaxTrimSteps = 5000;
absl::StatusOr<int64_t> TrimAcknowledged(redis::Client& redis,
                                         const std::string& stream);

// XINFO replies are flat [name, value, ...] arrays; this maps them.
std::map<std::string, redis::Reply> InfoFields(const redis::Reply& reply);

// Stream ids ("ms-seq") compared numerically, and the next id.
bool StreamIdLess(absl::string_view a, absl::string_view b);
std::string NextStreamId(absl::string_view id);

}  // namespace omnicx::streams

#endif  // OMNICX_LIBS_STREAMS_RETENTION_H_
