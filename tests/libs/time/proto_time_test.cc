#include "libs/time/proto_time.h"

#include <cstdint>
#include <limits>

#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace omnicx::time {
namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp Ts(int64_t seconds, int32_t nanos) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(seconds);
  ts.set_nanos(nanos);
  return ts;
}

TEST(ProtoTimeTest, TimestampRoundTripsToTheNanosecond) {
  const absl::Time t = absl::FromUnixSeconds(1795000000) + absl::Nanoseconds(7);
  const google::protobuf::Timestamp ts = ToProto(t);
  EXPECT_EQ(ts.seconds(), 1795000000);
  EXPECT_EQ(ts.nanos(), 7);
  EXPECT_EQ(FromProto(ts), t);
}

TEST(ProtoTimeTest, ToProtoRoundsDownAndKeepsNanosNonNegative) {
  // Before the epoch: -1.5 s is -2 s + 0.5 s.
  const google::protobuf::Timestamp before =
      ToProto(absl::UnixEpoch() - absl::Milliseconds(1500));
  EXPECT_EQ(before.seconds(), -2);
  EXPECT_EQ(before.nanos(), 500000000);
  // A quarter nanosecond (absl's resolution) rounds down.
  const google::protobuf::Timestamp quarter =
      ToProto(absl::FromUnixSeconds(10) + absl::Nanoseconds(1) / 4);
  EXPECT_EQ(quarter.seconds(), 10);
  EXPECT_EQ(quarter.nanos(), 0);
  // The same as protobuf's own conversion through nanoseconds.
  const absl::Time now = absl::FromUnixNanos(1795000000123456789);
  EXPECT_EQ(ToProto(now).SerializeAsString(),
            TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now))
                .SerializeAsString());
}

TEST(ProtoTimeTest, InfiniteTimesBecomeTheInt64Extremes) {
  const google::protobuf::Timestamp future = ToProto(absl::InfiniteFuture());
  EXPECT_EQ(future.seconds(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(future.nanos(), 999999999);
  EXPECT_FALSE(IsValid(future));
  const google::protobuf::Timestamp past = ToProto(absl::InfinitePast());
  EXPECT_EQ(past.seconds(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(past.nanos(), 0);
  EXPECT_FALSE(IsValid(past));
}

TEST(ProtoTimeTest, FromProtoIsExactArithmeticEvenWhenInvalid) {
  EXPECT_EQ(FromProto(Ts(0, 0)), absl::UnixEpoch());
  EXPECT_EQ(FromProto(Ts(5, -1)),
            absl::FromUnixSeconds(5) - absl::Nanoseconds(1));
  EXPECT_EQ(FromProto(Ts(5, 1500000000)), absl::FromUnixMillis(6500));
}

TEST(ProtoTimeTest, IsValidIsTheDocumentedRange) {
  EXPECT_EQ(kMinTimestampSeconds, TimeUtil::kTimestampMinSeconds);
  EXPECT_EQ(kMaxTimestampSeconds, TimeUtil::kTimestampMaxSeconds);
  EXPECT_TRUE(IsValid(Ts(0, 0)));
  EXPECT_TRUE(IsValid(Ts(kMinTimestampSeconds, 0)));
  EXPECT_TRUE(IsValid(Ts(kMaxTimestampSeconds, 999999999)));
  EXPECT_FALSE(IsValid(Ts(kMinTimestampSeconds - 1, 999999999)));
  EXPECT_FALSE(IsValid(Ts(kMaxTimestampSeconds + 1, 0)));
  EXPECT_FALSE(IsValid(Ts(0, -1)));
  EXPECT_FALSE(IsValid(Ts(0, 1000000000)));
}

TEST(ProtoTimeTest, DurationTruncatesTowardZeroWithOneSign) {
  google::protobuf::Duration d = ToProto(absl::Milliseconds(1500));
  EXPECT_EQ(d.seconds(), 1);
  EXPECT_EQ(d.nanos(), 500000000);
  d = ToProto(-absl::Milliseconds(1500));
  EXPECT_EQ(d.seconds(), -1);
  EXPECT_EQ(d.nanos(), -500000000);
  d = ToProto(absl::Nanoseconds(3) / 2);  // 1.5 ns
  EXPECT_EQ(d.seconds(), 0);
  EXPECT_EQ(d.nanos(), 1);
  EXPECT_EQ(FromProto(ToProto(absl::Microseconds(2500001))),
            absl::Microseconds(2500001));
  d = ToProto(absl::InfiniteDuration());  // saturates
  EXPECT_EQ(d.seconds(), std::numeric_limits<int64_t>::max() / 1000000000);
  EXPECT_EQ(d.nanos(), std::numeric_limits<int64_t>::max() % 1000000000);
}

TEST(ProtoTimeTest, MillisMatchProtobufTimeUtil) {
  for (int64_t ms :
       {int64_t{0}, int64_t{1}, int64_t{999}, int64_t{1000},
        int64_t{1795000000123}, int64_t{-1}, int64_t{-1500}, int64_t{-2000}}) {
    SCOPED_TRACE(ms);
    const google::protobuf::Timestamp ts = TimestampFromUnixMillis(ms);
    EXPECT_EQ(ts.SerializeAsString(),
              TimeUtil::MillisecondsToTimestamp(ms).SerializeAsString());
    EXPECT_EQ(ToUnixMillis(ts), ms);
    EXPECT_EQ(ToUnixMillis(ts), TimeUtil::TimestampToMilliseconds(ts));
  }
  // Sub-millisecond nanos are truncated.
  EXPECT_EQ(ToUnixMillis(Ts(2, 999999)), 2000);
  EXPECT_EQ(ToUnixMillis(Ts(2, 1999999)), 2001);
}

}  // namespace
}  // namespace omnicx::time
