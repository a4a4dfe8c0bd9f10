#include "libs/status/error_details.h"

#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"

namespace omnicx::status {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(ErrorDetailsTest, OkMapsToOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_OK(FromGrpcStatus(grpc::Status::OK));
}

TEST(ErrorDetailsTest, CodesKeepTheirCanonicalNumbers) {
  const absl::StatusCode codes[] = {
      absl::StatusCode::kInvalidArgument,    absl::StatusCode::kNotFound,
      absl::StatusCode::kResourceExhausted,  absl::StatusCode::kUnavailable,
      absl::StatusCode::kDeadlineExceeded,   absl::StatusCode::kUnimplemented,
      absl::StatusCode::kFailedPrecondition, absl::StatusCode::kInternal};
  for (absl::StatusCode code : codes) {
    grpc::Status g = ToGrpcStatus(absl::Status(code, "why"));
    EXPECT_EQ(static_cast<int>(g.error_code()), static_cast<int>(code));
    EXPECT_TRUE(g.error_details().empty());
    EXPECT_THAT(FromGrpcStatus(g), StatusIs(code));
  }
}

// Messages written for callers pass unchanged.
TEST(ErrorDetailsTest, CallerMessagesPassUnchanged) {
  const absl::StatusCode codes[] = {absl::StatusCode::kInvalidArgument,
                                    absl::StatusCode::kNotFound,
                                    absl::StatusCode::kResourceExhausted,
                                    absl::StatusCode::kUnimplemented,
                                    absl::StatusCode::kFailedPrecondition,
                                    absl::StatusCode::kAborted,
                                    absl::StatusCode::kAlreadyExists,
                                    absl::StatusCode::kPermissionDenied,
                                    absl::StatusCode::kUnauthenticated,
                                    absl::StatusCode::kOutOfRange,
                                    absl::StatusCode::kCancelled};
  for (absl::StatusCode code : codes) {
    EXPECT_EQ(ToGrpcStatus(absl::Status(code, "why")).error_message(), "why")
        << StatusCodeName(static_cast<int>(code));
  }
}

// What the Redis client and the services put in internal errors.
constexpr const char* kServerDetails[] = {
    "redis 127.0.0.1:6390: Connection refused",
    "redis: ERR Error running script (call to f_0123abcd): @user_script:3: "
    "WRONGTYPE Operation against a key holding the wrong kind of value",
    "redis 10.0.0.7:6379: timeout after 250ms",
    "reserve script: unexpected reply",
};

TEST(ErrorDetailsTest, InternalErrorsAnswerAGenericMessageAndNoDetails) {
  for (absl::StatusCode code :
       {absl::StatusCode::kInternal, absl::StatusCode::kUnknown,
        absl::StatusCode::kDataLoss}) {
    for (const char* detail : kServerDetails) {
      absl::Status s(code, detail);
      s.SetPayload("type.googleapis.com/google.rpc.DebugInfo",
                   absl::Cord("stack"));
      grpc::Status g = ToGrpcStatus(s);
      EXPECT_EQ(static_cast<int>(g.error_code()), static_cast<int>(code));
      EXPECT_EQ(g.error_message(), "internal error");
      EXPECT_TRUE(g.error_details().empty()) << "only known details travel";
    }
  }
}

TEST(ErrorDetailsTest, UnavailableKeepsRetryInfoButNoAddressOrRedisText) {
  for (absl::StatusCode code :
       {absl::StatusCode::kUnavailable, absl::StatusCode::kDeadlineExceeded}) {
    for (const char* detail : kServerDetails) {
      grpc::Status g = ToGrpcStatus(
          WithRetryDelay(absl::Status(code, detail), absl::Seconds(1)));
      EXPECT_EQ(static_cast<int>(g.error_code()), static_cast<int>(code));
      EXPECT_EQ(g.error_message(), "temporarily unavailable; retry");
      google::rpc::Status rpc;
      ASSERT_TRUE(rpc.ParseFromString(g.error_details()));
      EXPECT_EQ(rpc.message(), "temporarily unavailable; retry");
      for (const char* leak : {"6390", "127.0.0.1", "10.0.0.7", "redis", "ERR",
                               "script", "f_0123abcd"}) {
        EXPECT_EQ(g.error_details().find(leak), std::string::npos) << leak;
      }
      EXPECT_EQ(GetRetryDelay(FromGrpcStatus(g)), absl::Seconds(1));
    }
  }
}

TEST(ErrorDetailsTest, MarkedServerDetailIsHiddenWhateverTheCode) {
  // Redis' OOM maps to RESOURCE_EXHAUSTED, whose own messages are for
  // callers; the mark hides the Redis text.
  absl::Status oom = WithServerDetail(absl::ResourceExhaustedError(
      "redis: OOM command not allowed when used memory > 'maxmemory'"));
  EXPECT_EQ(ToGrpcStatus(oom).error_message(),
            "temporarily unavailable; retry");
  EXPECT_EQ(CallerMessage(oom), "temporarily unavailable; retry");
  absl::Status odd = WithServerDetail(
      absl::FailedPreconditionError("redis reply is not an integer (type 4)"));
  EXPECT_EQ(ToGrpcStatus(odd).error_message(), "internal error");
  EXPECT_EQ(CallerMessage(absl::FailedPreconditionError("erased")), "erased");
  EXPECT_OK(WithServerDetail(absl::OkStatus()));
}

TEST(ErrorDetailsTest, FieldViolationsTravelAsBadRequest) {
  absl::Status s = InvalidArgumentError(
      "2 invalid fields", {{"interactions[3].feedback.nps", "must be 0-10"},
                           {"interactions[0].channel", "must be specified"}});
  grpc::Status g = ToGrpcStatus(s);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Decode exactly as an independent client would.
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(g.error_details()));
  EXPECT_EQ(rpc.code(), 3);
  EXPECT_EQ(rpc.message(), "2 invalid fields");
  ASSERT_EQ(rpc.details_size(), 1);
  EXPECT_EQ(rpc.details(0).type_url(),
            "type.googleapis.com/google.rpc.BadRequest");
  google::rpc::BadRequest br;
  ASSERT_TRUE(rpc.details(0).UnpackTo(&br));
  ASSERT_EQ(br.field_violations_size(), 2);
  EXPECT_EQ(br.field_violations(0).field(), "interactions[3].feedback.nps");
  EXPECT_EQ(br.field_violations(0).description(), "must be 0-10");

  absl::Status back = FromGrpcStatus(g);
  EXPECT_THAT(back, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      GetFieldViolations(back),
      ElementsAre(
          FieldViolation{"interactions[3].feedback.nps", "must be 0-10"},
          FieldViolation{"interactions[0].channel", "must be specified"}));
}

TEST(ErrorDetailsTest, RetryInfoRoundTrips) {
  absl::Status s = WithRetryDelay(absl::ResourceExhaustedError("lag too high"),
                                  absl::Milliseconds(1500));
  grpc::Status g = ToGrpcStatus(s);
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(g.error_details()));
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(rpc.details(0).UnpackTo(&retry));
  EXPECT_EQ(retry.retry_delay().seconds(), 1);
  EXPECT_EQ(retry.retry_delay().nanos(), 500000000);
  EXPECT_EQ(GetRetryDelay(FromGrpcStatus(g)), absl::Milliseconds(1500));
  EXPECT_THAT(GetFieldViolations(s), IsEmpty());
}

TEST(ErrorDetailsTest, GarbageDetailsAreIgnoredNotFatal) {
  grpc::Status g(grpc::StatusCode::UNAVAILABLE, "down", "\xff\xfe garbage");
  absl::Status s = FromGrpcStatus(g);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable, "down"));
  EXPECT_THAT(GetFieldViolations(s), IsEmpty());
  EXPECT_EQ(GetRetryDelay(s), std::nullopt);
}

TEST(ErrorDetailsTest, RetryDelayOnOkIsStillOk) {
  EXPECT_OK(WithRetryDelay(absl::OkStatus(), absl::Seconds(1)));
}

}  // namespace
}  // namespace omnicx::status
