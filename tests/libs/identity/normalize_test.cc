#include "libs/identity/normalize.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"

namespace omnicx::identity {
namespace {

using ::omnicx::status::StatusIs;

TEST(NormalizeTest, Emails) {
  EXPECT_EQ(*NormalizeIdentity("email", " Jane@Example.COM "),
            "jane@example.com");
  EXPECT_EQ(*NormalizeIdentity("email", "a.b+tag@sub.example.co.uk"),
            "a.b+tag@sub.example.co.uk");
  for (const char* bad :
       {"", "jane", "jane@", "@example.com", "a@b@c.com", "jane@example",
        "ja ne@example.com", "jane@exa_mple.com", "jane@-example.com",
        "jane@example..com"}) {
    EXPECT_THAT(NormalizeIdentity("email", bad),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
}

TEST(NormalizeTest, PhonesBecomeE164) {
  EXPECT_EQ(*NormalizeIdentity("phone", "+1 (555) 123-4567"), "+15551234567");
  EXPECT_EQ(*NormalizeIdentity("phone", "0044 20 7946 0958"), "+442079460958");
  EXPECT_EQ(*NormalizeIdentity("phone", " +49.30.1234567 "), "+49301234567");
  EXPECT_THAT(NormalizeIdentity("phone", "555-1234"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "must be in international format, starting with + and "
                       "the country code"));
  EXPECT_THAT(NormalizeIdentity("phone", "+1234"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "must be an E.164 number: + then 8-15 digits"));
  EXPECT_THAT(NormalizeIdentity("phone", "+1234567890123456"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(NormalizeIdentity("phone", "+1555abc4567"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(NormalizeTest, OpaqueIds) {
  EXPECT_EQ(*NormalizeIdentity("crm_id", "  CRM-42 "), "CRM-42");
  EXPECT_THAT(NormalizeIdentity("device_id", "has space"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(NormalizeIdentity("loyalty_id", std::string(129, 'a')),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(NormalizeIdentity("passport", "X1"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(NormalizeTest, Masking) {
  EXPECT_EQ(MaskIdentity("email", "jane@example.com"), "j***@example.com");
  EXPECT_EQ(MaskIdentity("phone", "+15551234567"), "+1******4567");
  EXPECT_EQ(MaskIdentity("crm_id", "CRM-000042"), "******0042");
  EXPECT_EQ(MaskIdentity("crm_id", "42"), "**");
}

}  // namespace
}  // namespace omnicx::identity
