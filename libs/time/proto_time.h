// The one conversion between protobuf's well-known time types and Abseil's:
// google::protobuf::Timestamp <-> absl::Time (and unix milliseconds, the
// form the Redis state keeps), google::protobuf::Duration <-> absl::Duration.
//
//   *event.mutable_occurred_at() = time::ToProto(clock.Now());
//   if (!time::IsValid(request.end_time())) { ... reject ... }
//   const absl::Time end = time::FromProto(request.end_time());
//   *status.mutable_latency() = time::ToProto(absl::Milliseconds(3));
//   const int64_t at_ms = time::ToUnixMillis(event.occurred_at());
//
// Semantics (no clamping into the documented range; validators decide):
//   - ToProto(absl::Time) rounds down to the nanosecond; nanos is always in
//     [0, 1e9). InfinitePast/InfiniteFuture become int64 min/max seconds.
//   - FromProto(Timestamp) is seconds + nanos, exactly, whatever the values
//     (a Timestamp with nanos outside [0, 1e9) is not rejected here): check
//     IsValid first when the Timestamp comes from a caller.
//   - ToProto(absl::Duration) truncates toward zero to the nanosecond;
//     seconds and nanos share the sign; beyond +-292 years it saturates as
//     absl::ToInt64Nanoseconds does. FromProto(Duration) is seconds + nanos.
//   - ToUnixMillis(Timestamp) is seconds * 1000 + nanos / 1e6 (nanos
//     truncated), TimestampFromUnixMillis(ms) is normalised (nanos >= 0),
//     as protobuf's TimeUtil::{TimestampTo,}Milliseconds{,ToTimestamp}.
#ifndef OMNICX_LIBS_TIME_PROTO_TIME_H_
#define OMNICX_LIBS_TIME_PROTO_TIME_H_

#include <cstdint>

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace omnicx::time {

// The range google.protobuf.Timestamp documents:
// 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
inline constexpr int64_t kMinTimestampSeconds = -62135596800;
inline constexpr int64_t kMaxTimestampSeconds = 253402300799;

// True when `ts` is in the documented range with nanos in [0, 999999999].
bool IsValid(const google::protobuf::Timestamp& ts);

google::protobuf::Timestamp ToProto(absl::Time t);
absl::Time FromProto(const google::protobuf::Timestamp& ts);

google::protobuf::Duration ToProto(absl::Duration d);
absl::Duration FromProto(const google::protobuf::Duration& d);

int64_t ToUnixMillis(const google::protobuf::Timestamp& ts);
google::protobuf::Timestamp TimestampFromUnixMillis(int64_t unix_ms);

}  // namespace omnicx::time

#endif  // OMNICX_LIBS_TIME_PROTO_TIME_H_
