// GoogleMock matchers for absl::Status and absl::StatusOr (Debian's Abseil
// ships none). For tests only.
//
//   EXPECT_THAT(client.Ping(), IsOk());
//   EXPECT_THAT(result, StatusIs(absl::StatusCode::kNotFound));
//   ASSERT_OK_AND_ASSIGN(Reply reply, client.Command({"GET", "k"}));
//   EXPECT_THAT(ViolatedFields(ValidateX(request)), ElementsAre("limit"));
#ifndef OMNICX_LIBS_STATUS_STATUS_MATCHERS_H_
#define OMNICX_LIBS_STATUS_STATUS_MATCHERS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "libs/status/error_details.h"
#include "libs/status/status_macros.h"

namespace omnicx::status {

inline const absl::Status& GetStatus(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = ::omnicx::status::GetStatus(arg);
  if (!s.ok()) *result_listener << "status is " << s;
  return s.ok();
}

MATCHER_P(StatusIs, code, "has status code " + ::testing::PrintToString(code)) {
  const absl::Status& s = ::omnicx::status::GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher, "") {
  const absl::Status& s = ::omnicx::status::GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code &&
         ::testing::ExplainMatchResult(
             message_matcher, std::string(s.message()), result_listener);
}

// An OK StatusOr whose value matches `value_matcher`.
MATCHER_P(IsOkAndHolds, value_matcher, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

// The fields a validation named, in order: for tests that check which rules
// fired without restating each description.
inline std::vector<std::string> ViolatedFields(
    const std::vector<FieldViolation>& violations) {
  std::vector<std::string> out;
  for (const FieldViolation& v : violations) out.push_back(v.field);
  return out;
}

}  // namespace omnicx::status

#define OMNICX_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                      \
  ASSERT_TRUE(statusor.ok()) << statusor.status();             \
  lhs = std::move(statusor).value()

#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  OMNICX_ASSERT_OK_AND_ASSIGN_IMPL_(    \
      OMNICX_STATUS_CONCAT_(omnicx_assert_statusor_, __LINE__), lhs, expr)

#define ASSERT_OK(expr) ASSERT_THAT((expr), ::omnicx::status::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT((expr), ::omnicx::status::IsOk())

#endif  // OMNICX_LIBS_STATUS_STATUS_MATCHERS_H_
