#include "libs/time/proto_time.h"

#include <limits>

namespace omnicx::time {
namespace {

constexpr int64_t kNanosPerSecond = 1000000000;
constexpr int64_t kNanosPerMilli = 1000000;

}  // namespace

bool IsValid(const google::protobuf::Timestamp& ts) {
  return ts.seconds() >= kMinTimestampSeconds &&
         ts.seconds() <= kMaxTimestampSeconds && ts.nanos() >= 0 &&
         ts.nanos() < kNanosPerSecond;
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp out;
  if (t == absl::InfiniteFuture()) {
    out.set_seconds(std::numeric_limits<int64_t>::max());
    out.set_nanos(kNanosPerSecond - 1);
    return out;
  }
  if (t == absl::InfinitePast()) {
    out.set_seconds(std::numeric_limits<int64_t>::min());
    return out;
  }
  const int64_t seconds = absl::ToUnixSeconds(t);  // rounds down
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
  return out;
}

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

google::protobuf::Duration ToProto(absl::Duration d) {
  google::protobuf::Duration out;
  const int64_t nanos = absl::ToInt64Nanoseconds(d);
  out.set_seconds(nanos / kNanosPerSecond);
  out.set_nanos(static_cast<int32_t>(nanos % kNanosPerSecond));
  return out;
}

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

int64_t ToUnixMillis(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1000 + ts.nanos() / kNanosPerMilli;
}

google::protobuf::Timestamp TimestampFromUnixMillis(int64_t unix_ms) {
  int64_t seconds = unix_ms / 1000;
  int64_t millis = unix_ms % 1000;
  if (millis < 0) {
    seconds -= 1;
    millis += 1000;
  }
  google::protobuf::Timestamp out;
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(millis * kNanosPerMilli));
  return out;
}

}  // namespace omnicx::time
