// Request validation, pure: every rule with its field path.
#include "services/journey/request_validation.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"
#include "libs/time/proto_time.h"

namespace omnicx::journey {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kNow = absl::FromUnixSeconds(1795000000);

TEST(ValidateChurnModelTest, Limit) {
  omnicx::v1::GetChurnModelRequest r;
  EXPECT_THAT(ValidateChurnModel(r), IsEmpty());
  r.set_limit(kMaxImportances);
  EXPECT_THAT(ValidateChurnModel(r), IsEmpty());
  r.set_limit(kMaxImportances + 1);
  EXPECT_THAT(ValidateChurnModel(r),
              ElementsAre(status::FieldViolation{
                  "limit", "must be between 0 and 500 (0 = 50)"}));
  r.set_limit(-1);
  EXPECT_THAT(status::ViolatedFields(ValidateChurnModel(r)),
              ElementsAre("limit"));
}

TEST(ValidatePainPointsTest, Rules) {
  omnicx::v1::ListPainPointsRequest r;
  EXPECT_THAT(ValidatePainPoints(r), IsEmpty());
  r.set_limit(kMaxPainPoints);
  r.set_channel(omnicx::v1::CHANNEL_WEB);
  r.set_stage(omnicx::v1::STAGE_ENGAGED);
  r.set_owner(std::string(64, 'o'));
  EXPECT_THAT(ValidatePainPoints(r), IsEmpty());
  r.set_limit(kMaxPainPoints + 1);
  r.set_channel(static_cast<omnicx::v1::Channel>(999));
  r.set_stage(static_cast<omnicx::v1::Stage>(999));
  r.set_owner(std::string(65, 'o'));
  EXPECT_THAT(
      ValidatePainPoints(r),
      ElementsAre(status::FieldViolation{"limit",
                                         "must be between 0 and 100 "
                                         "(0 = 10)"},
                  status::FieldViolation{"channel", "unknown channel"},
                  status::FieldViolation{"stage", "unknown stage"},
                  status::FieldViolation{"owner", "at most 64 characters"}));
}

TEST(ValidateFunnelTest, DefaultsToThirtyDaysEndingNow) {
  omnicx::v1::GetFunnelRequest r;
  FunnelWindow window;
  EXPECT_THAT(ValidateFunnel(r, kNow, &window), IsEmpty());
  EXPECT_EQ(window.end, kNow);
  EXPECT_EQ(window.start, kNow - absl::Hours(24 * 30));
  // An explicit end moves the default start with it.
  *r.mutable_end_time() = time::ToProto(kNow - absl::Hours(24));
  EXPECT_THAT(ValidateFunnel(r, kNow, &window), IsEmpty());
  EXPECT_EQ(window.end, kNow - absl::Hours(24));
  EXPECT_EQ(window.start, kNow - absl::Hours(24 * 31));
}

TEST(ValidateFunnelTest, WindowRules) {
  omnicx::v1::GetFunnelRequest r;
  FunnelWindow window{absl::UnixEpoch(), absl::UnixEpoch()};
  *r.mutable_start_time() = time::ToProto(kNow);
  *r.mutable_end_time() = time::ToProto(kNow - absl::Seconds(1));
  EXPECT_THAT(ValidateFunnel(r, kNow, &window),
              ElementsAre(status::FieldViolation{
                  "start_time", "must not be after end_time"}));
  *r.mutable_start_time() = time::ToProto(kNow - absl::Hours(24 * 400));
  *r.mutable_end_time() = time::ToProto(kNow);
  EXPECT_THAT(ValidateFunnel(r, kNow, &window), IsEmpty());
  EXPECT_EQ(window.start, kNow - absl::Hours(24 * 400));
  *r.mutable_start_time() =
      time::ToProto(kNow - absl::Hours(24 * 400) - absl::Nanoseconds(1));
  window = {};
  EXPECT_THAT(ValidateFunnel(r, kNow, &window),
              ElementsAre(status::FieldViolation{
                  "start_time", "the window is at most 400 days"}));
  EXPECT_EQ(window.end, absl::Time());  // untouched when invalid
}

TEST(ValidateFunnelTest, TimestampsMustBeValid) {
  omnicx::v1::GetFunnelRequest r;
  FunnelWindow window;
  r.mutable_start_time()->set_nanos(-1);
  r.mutable_end_time()->set_seconds(time::kMaxTimestampSeconds + 1);
  EXPECT_THAT(
      ValidateFunnel(r, kNow, &window),
      ElementsAre(status::FieldViolation{"start_time", "not a valid timestamp"},
                  status::FieldViolation{"end_time", "not a valid timestamp"}));
  r.mutable_start_time()->set_nanos(1000000000);
  r.mutable_end_time()->set_seconds(time::kMinTimestampSeconds - 1);
  EXPECT_THAT(status::ViolatedFields(ValidateFunnel(r, kNow, &window)),
              ElementsAre("start_time", "end_time"));
}

TEST(ValidateForgetTest, CustomerId) {
  omnicx::v1::ForgetCustomerRequest r;
  EXPECT_THAT(ValidateForget(r),
              ElementsAre(status::FieldViolation{
                  "customer_id", "must be 1-128 visible ASCII characters"}));
  r.set_customer_id("c_123");
  EXPECT_THAT(ValidateForget(r), IsEmpty());
  r.set_customer_id(std::string(129, 'c'));
  EXPECT_THAT(status::ViolatedFields(ValidateForget(r)),
              ElementsAre("customer_id"));
  r.set_customer_id("c 1");
  EXPECT_THAT(status::ViolatedFields(ValidateForget(r)),
              ElementsAre("customer_id"));
}

}  // namespace
}  // namespace omnicx::journey
