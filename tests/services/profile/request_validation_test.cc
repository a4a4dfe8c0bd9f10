// Request validation, pure: every rule with its field path.
#include "services/profile/request_validation.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"
#include "libs/time/proto_time.h"

namespace omnicx::profile {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kNow = absl::FromUnixSeconds(1795000000);

TEST(ValidateTraitsTest, Rules) {
  google::protobuf::Struct traits;
  (*traits.mutable_fields())["tier.level-1_x"].set_string_value("gold");
  EXPECT_THAT(ValidateTraits(traits), IsEmpty());
  (*traits.mutable_fields())["bad name"].set_string_value("x");
  EXPECT_THAT(status::ViolatedFields(ValidateTraits(traits)),
              ElementsAre("traits.bad name"));
  traits.Clear();
  for (int i = 0; i < 101; ++i) {
    (*traits.mutable_fields())[absl::StrCat("t", i)].set_number_value(i);
  }
  EXPECT_THAT(ValidateTraits(traits),
              ElementsAre(status::FieldViolation{
                  "traits", "must have at most 100 traits"}));
}

TEST(ValidateConsentTest, Rules) {
  omnicx::v1::SetConsentRequest r;
  r.set_purpose("marketing");
  EXPECT_THAT(ValidateConsent(r, kNow), IsEmpty());
  *r.mutable_occurred_at() = time::ToProto(kNow + kMaxConsentSkew);
  EXPECT_THAT(ValidateConsent(r, kNow), IsEmpty());
  *r.mutable_occurred_at() =
      time::ToProto(kNow + kMaxConsentSkew + absl::Nanoseconds(1));
  EXPECT_THAT(
      ValidateConsent(r, kNow),
      ElementsAre(status::FieldViolation{
          "occurred_at", "must not be more than 5 minutes in the future"}));
  r.mutable_occurred_at()->set_nanos(-1);
  r.set_purpose("Marketing");
  r.set_source(std::string(65, 's'));
  EXPECT_THAT(status::ViolatedFields(ValidateConsent(r, kNow)),
              ElementsAre("purpose", "source", "occurred_at"));
}

TEST(ValidateLinkIdentitiesTest, NormalisesOrNamesEachIdentity) {
  omnicx::v1::LinkIdentitiesRequest r;
  google::protobuf::RepeatedPtrField<omnicx::v1::Identity> normalized;
  EXPECT_THAT(ValidateLinkIdentities(r, &normalized),
              ElementsAre(status::FieldViolation{
                  "identities", "must name at least one identity"}));
  auto* email = r.add_identities();
  email->set_type("email");
  email->set_value(" Jane@Example.COM ");
  EXPECT_THAT(ValidateLinkIdentities(r, &normalized), IsEmpty());
  ASSERT_EQ(normalized.size(), 1);
  EXPECT_EQ(normalized[0].type(), "email");
  EXPECT_EQ(normalized[0].value(), "jane@example.com");
  auto* bad_value = r.add_identities();
  bad_value->set_type("email");
  bad_value->set_value("not an email");
  auto* bad_type = r.add_identities();
  bad_type->set_type("shoe_size");
  bad_type->set_value("42");
  normalized.Clear();
  EXPECT_THAT(status::ViolatedFields(ValidateLinkIdentities(r, &normalized)),
              ElementsAre("identities[1].value", "identities[2].type"));
  EXPECT_EQ(normalized.size(), 1);
}

TEST(ValidateTimelineTest, PageSize) {
  omnicx::v1::GetTimelineRequest r;
  EXPECT_THAT(ValidateTimeline(r), IsEmpty());
  r.set_page_size(kMaxTimelinePageSize);
  EXPECT_THAT(ValidateTimeline(r), IsEmpty());
  r.set_page_size(kMaxTimelinePageSize + 1);
  EXPECT_THAT(ValidateTimeline(r),
              ElementsAre(status::FieldViolation{"page_size",
                                                 "must be between 0 and 500"}));
  r.set_page_size(-1);
  EXPECT_THAT(status::ViolatedFields(ValidateTimeline(r)),
              ElementsAre("page_size"));
}

}  // namespace
}  // namespace omnicx::profile
