#include "services/ingestion/validation.h"

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/time/proto_time.h"

namespace omnicx::ingestion {
namespace {

using ::omnicx::status::FieldViolation;
using ::omnicx::v1::Interaction;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kNow = absl::FromUnixSeconds(1795000000);  // 2026-11-18

Interaction Valid() {
  Interaction e;
  e.set_event_id("evt-0001");
  e.mutable_customer()->set_anonymous_id("anon-1");
  e.set_channel(omnicx::v1::CHANNEL_WEB);
  e.set_type("page_view");
  *e.mutable_occurred_at() = time::ToProto(kNow - absl::Seconds(60));
  return e;
}

struct Case {
  std::string name;
  std::function<void(Interaction&)> mutate;
  std::string field;
  std::string description;
};

class ValidationTableTest : public ::testing::TestWithParam<Case> {};

TEST_P(ValidationTableTest, ExactViolation) {
  Interaction e = Valid();
  GetParam().mutate(e);
  const Interaction before = e;
  std::vector<FieldViolation> v =
      ValidateInteraction(kNow, ValidationOptions(), "interactions[3]", &e);
  EXPECT_THAT(
      v, ElementsAre(FieldViolation{GetParam().field, GetParam().description}));
  // A rejected event is left as it came.
  EXPECT_EQ(e.SerializeAsString(), before.SerializeAsString());
}

const int64_t kNowSeconds = absl::ToUnixSeconds(kNow);

INSTANTIATE_TEST_SUITE_P(
    Rules, ValidationTableTest,
    ::testing::Values(
        Case{"EventIdMissing", [](Interaction& e) { e.clear_event_id(); },
             "interactions[3].event_id", "is required"},
        Case{"EventIdTooLong",
             [](Interaction& e) { e.set_event_id(std::string(129, 'a')); },
             "interactions[3].event_id",
             "must be 1-128 visible ASCII characters"},
        Case{"EventIdNotPrintable",
             [](Interaction& e) { e.set_event_id("a\nb"); },
             "interactions[3].event_id",
             "must be 1-128 visible ASCII characters"},
        Case{"CustomerMissing", [](Interaction& e) { e.clear_customer(); },
             "interactions[3].customer",
             "is required: set customer_id, anonymous_id or identity"},
        Case{"AnonymousIdEmpty",
             [](Interaction& e) { e.mutable_customer()->set_anonymous_id(""); },
             "interactions[3].customer.anonymous_id",
             "must be 1-128 visible ASCII characters"},
        Case{"CustomerIdBad",
             [](Interaction& e) {
               e.mutable_customer()->set_customer_id("c 1");
             },
             "interactions[3].customer.customer_id",
             "must be 1-128 visible ASCII characters"},
        Case{"CustomerEmailBad",
             [](Interaction& e) {
               auto* id = e.mutable_customer()->mutable_identity();
               id->set_type("email");
               id->set_value("not-an-email");
             },
             "interactions[3].customer.identity.value",
             "must be an email address with exactly one '@'"},
        Case{"IdentityTypeUnknown",
             [](Interaction& e) {
               auto* id = e.add_identities();
               id->set_type("ssn");
               id->set_value("1");
             },
             "interactions[3].identities[0].type",
             "must be one of email, phone, crm_id, device_id, loyalty_id, "
             "anonymous_id"},
        Case{"IdentityPhoneBad",
             [](Interaction& e) {
               e.add_identities()->set_type("email");
               e.mutable_identities(0)->set_value("a@b.co");
               e.add_identities()->set_type("phone");
               e.mutable_identities(1)->set_value("555-1234");
             },
             "interactions[3].identities[1].value",
             "must be in international format, starting with + and the "
             "country code"},
        Case{"TooManyIdentities",
             [](Interaction& e) {
               for (int i = 0; i < 21; ++i) {
                 auto* id = e.add_identities();
                 id->set_type("device_id");
                 id->set_value("d" + std::to_string(i));
               }
             },
             "interactions[3].identities", "must have at most 20 entries"},
        Case{"ChannelUnspecified",
             [](Interaction& e) {
               e.set_channel(omnicx::v1::CHANNEL_UNSPECIFIED);
             },
             "interactions[3].channel", "must be specified"},
        Case{"ChannelUnknownNumber",
             [](Interaction& e) {
               e.set_channel(static_cast<omnicx::v1::Channel>(99));
             },
             "interactions[3].channel", "must be a known channel"},
        Case{"TypeMissing", [](Interaction& e) { e.clear_type(); },
             "interactions[3].type", "is required"},
        Case{"TypeUnknown", [](Interaction& e) { e.set_type("teleport"); },
             "interactions[3].type",
             "must be a documented event type or a custom type x-<name> "
             "([a-z0-9_-], up to 64 characters)"},
        Case{"TypeCustomBadChars",
             [](Interaction& e) { e.set_type("x-Bad Type"); },
             "interactions[3].type",
             "must be a documented event type or a custom type x-<name> "
             "([a-z0-9_-], up to 64 characters)"},
        Case{"OccurredAtMissing", [](Interaction& e) { e.clear_occurred_at(); },
             "interactions[3].occurred_at", "is required"},
        Case{"OccurredAtFuture",
             [](Interaction& e) {
               e.mutable_occurred_at()->set_seconds(kNowSeconds + 301);
             },
             "interactions[3].occurred_at",
             "must not be more than 5m in the future"},
        Case{"OccurredAtTooOld",
             [](Interaction& e) {
               e.mutable_occurred_at()->set_seconds(kNowSeconds -
                                                    366LL * 24 * 3600);
             },
             "interactions[3].occurred_at", "must not be older than 8760h"},
        Case{"OccurredAtInvalidNanos",
             [](Interaction& e) { e.mutable_occurred_at()->set_nanos(-1); },
             "interactions[3].occurred_at", "must be a valid timestamp"},
        Case{"NpsHigh",
             [](Interaction& e) { e.mutable_feedback()->set_nps(11); },
             "interactions[3].feedback.nps", "must be between 0 and 10"},
        Case{"NpsNegative",
             [](Interaction& e) { e.mutable_feedback()->set_nps(-1); },
             "interactions[3].feedback.nps", "must be between 0 and 10"},
        Case{"CsatZero",
             [](Interaction& e) { e.mutable_feedback()->set_csat(0); },
             "interactions[3].feedback.csat", "must be between 1 and 5"},
        Case{"CesEight",
             [](Interaction& e) { e.mutable_feedback()->set_ces(8); },
             "interactions[3].feedback.ces", "must be between 1 and 7"},
        Case{"CommentHuge",
             [](Interaction& e) {
               e.mutable_feedback()->set_comment(std::string(4097, 'c'));
             },
             "interactions[3].feedback.comment", "must be at most 4096 bytes"},
        Case{"SentimentHigh", [](Interaction& e) { e.set_sentiment(1.5); },
             "interactions[3].sentiment", "must be between -1 and 1"},
        Case{"SentimentNaN",
             [](Interaction& e) { e.set_sentiment(std::nan("")); },
             "interactions[3].sentiment", "must be between -1 and 1"},
        Case{"ValueInfinite",
             [](Interaction& e) {
               e.set_value(std::numeric_limits<double>::infinity());
             },
             "interactions[3].value", "must be finite"},
        Case{"WaitNegative",
             [](Interaction& e) { e.mutable_wait()->set_seconds(-5); },
             "interactions[3].wait", "must be between 0 and 30 days"},
        Case{"TouchpointControlChars",
             [](Interaction& e) { e.set_touchpoint("check\x01out"); },
             "interactions[3].touchpoint",
             "must be at most 128 bytes without control characters"},
        Case{"CaseIdTooLong",
             [](Interaction& e) { e.set_case_id(std::string(129, 'k')); },
             "interactions[3].case_id",
             "must be at most 128 bytes without control characters"},
        Case{"OutcomeUnknown",
             [](Interaction& e) {
               e.set_outcome(static_cast<omnicx::v1::Outcome>(42));
             },
             "interactions[3].outcome", "must be a known outcome"},
        Case{"EventTooLarge",
             [](Interaction& e) {
               (*e.mutable_properties()->mutable_fields())["blob"]
                   .set_string_value(std::string(33 * 1024, 'x'));
             },
             "interactions[3]", "must be at most 32768 bytes serialised"}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(ValidationTest, ValidEventIsNormalised) {
  Interaction e = Valid();
  e.mutable_customer()->mutable_identity()->set_type("email");
  e.mutable_customer()->mutable_identity()->set_value(" Jane@Example.COM ");
  e.add_identities()->set_type("phone");
  e.mutable_identities(0)->set_value("+1 (555) 123-4567");
  e.set_resolved_customer_id("spoofed");
  e.mutable_feedback()->set_nps(0);
  e.set_sentiment(-1.0);
  e.set_type("x-loyalty_tier-change");
  EXPECT_THAT(ValidateInteraction(kNow, ValidationOptions(), "interaction", &e),
              IsEmpty());
  EXPECT_EQ(e.customer().identity().value(), "jane@example.com");
  EXPECT_EQ(e.identities(0).value(), "+15551234567");
  EXPECT_EQ(e.resolved_customer_id(), "");
  EXPECT_EQ(time::FromProto(e.received_at()), kNow);
}

// From an untrusted credential, identities are normalised like any and
// then kept only as claims; the subject by anonymous id or customer id is
// accepted as sent.
TEST(ValidationTest, UntrustedIdentitiesBecomeClaims) {
  Interaction e = Valid();
  e.add_identities()->set_type("email");
  e.mutable_identities(0)->set_value(" Jane@Example.COM ");
  e.add_identities()->set_type("phone");
  e.mutable_identities(1)->set_value("+1 (555) 123-4567");
  EXPECT_THAT(ValidateInteraction(kNow, ValidationOptions(), "interaction", &e,
                                  /*trusted_identities=*/false),
              IsEmpty());
  EXPECT_EQ(e.customer().anonymous_id(), "anon-1");
  EXPECT_THAT(e.identities(), IsEmpty());
  ASSERT_EQ(e.claimed_identities_size(), 2);
  EXPECT_EQ(e.claimed_identities(0).type(), "email");
  EXPECT_EQ(e.claimed_identities(0).value(), "jane@example.com");
  EXPECT_EQ(e.claimed_identities(1).type(), "phone");
  EXPECT_EQ(e.claimed_identities(1).value(), "+15551234567");

  Interaction by_id = Valid();
  by_id.mutable_customer()->set_customer_id("c_123");
  EXPECT_THAT(ValidateInteraction(kNow, ValidationOptions(), "interaction",
                                  &by_id, /*trusted_identities=*/false),
              IsEmpty());
}

TEST(ValidationTest, UntrustedSubjectByIdentityIsRefused) {
  Interaction e = Valid();
  e.mutable_customer()->mutable_identity()->set_type("phone");
  e.mutable_customer()->mutable_identity()->set_value("+15551234567");
  const Interaction before = e;
  EXPECT_THAT(
      ValidateInteraction(kNow, ValidationOptions(), "interactions[2]", &e,
                          /*trusted_identities=*/false),
      ElementsAre(FieldViolation{
          "interactions[2].customer.identity",
          "an untrusted credential may name the customer only by customer_id "
          "or anonymous_id"}));
  EXPECT_EQ(e.SerializeAsString(), before.SerializeAsString());
  // The same event from a trusted credential is a lookup, as before.
  EXPECT_THAT(ValidateInteraction(kNow, ValidationOptions(), "interactions[2]",
                                  &e, /*trusted_identities=*/true),
              IsEmpty());
}

// Claims sent as such are validated and normalised like identities, and
// count towards the same limit.
TEST(ValidationTest, SentClaimsAreValidatedLikeIdentities) {
  Interaction bad = Valid();
  bad.add_claimed_identities()->set_type("email");
  bad.mutable_claimed_identities(0)->set_value("not an email");
  std::vector<FieldViolation> v =
      ValidateInteraction(kNow, ValidationOptions(), "interaction", &bad);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].field, "interaction.claimed_identities[0].value");

  Interaction many = Valid();
  for (int i = 0; i < 11; ++i) {
    auto* id = many.add_identities();
    id->set_type("device_id");
    id->set_value(absl::StrCat("d", i));
    auto* claim = many.add_claimed_identities();
    claim->set_type("device_id");
    claim->set_value(absl::StrCat("c", i));
  }
  EXPECT_THAT(
      ValidateInteraction(kNow, ValidationOptions(), "interaction", &many),
      ElementsAre(FieldViolation{
          "interaction.claimed_identities",
          "must have at most 20 entries together with identities"}));

  Interaction ok = Valid();
  ok.add_claimed_identities()->set_type("email");
  ok.mutable_claimed_identities(0)->set_value("A@B.example");
  EXPECT_THAT(
      ValidateInteraction(kNow, ValidationOptions(), "interaction", &ok),
      IsEmpty());
  EXPECT_EQ(ok.claimed_identities(0).value(), "a@b.example");
}

TEST(ValidationTest, AllViolationsAreReportedAtOnce) {
  Interaction e;
  std::vector<FieldViolation> v =
      ValidateInteraction(kNow, ValidationOptions(), "interaction", &e);
  std::vector<std::string> fields;
  for (const auto& x : v) fields.push_back(x.field);
  EXPECT_THAT(fields,
              ElementsAre("interaction.event_id", "interaction.customer",
                          "interaction.channel", "interaction.type",
                          "interaction.occurred_at"));
}

TEST(ValidationTest, BatchLimits) {
  omnicx::v1::TrackBatchRequest request;
  for (int i = 0; i < 501; ++i) *request.add_interactions() = Valid();
  EXPECT_THAT(ValidateBatchLimits(ValidationOptions(), request),
              ElementsAre(FieldViolation{
                  "interactions", "must have at most 500 events (got 501)"}));
  omnicx::v1::TrackBatchRequest big;
  for (int i = 0; i < 40; ++i) {
    Interaction e = Valid();
    (*e.mutable_properties()->mutable_fields())["blob"].set_string_value(
        std::string(30 * 1024, 'x'));
    *big.add_interactions() = e;
  }
  EXPECT_THAT(ValidateBatchLimits(ValidationOptions(), big),
              ElementsAre(FieldViolation{"interactions",
                                         "must be at most 1048576 bytes in "
                                         "total"}));
  omnicx::v1::TrackBatchRequest ok;
  *ok.add_interactions() = Valid();
  EXPECT_THAT(ValidateBatchLimits(ValidationOptions(), ok), IsEmpty());
}

}  // namespace
}  // namespace omnicx::ingestion
