#include "libs/identity/read_mask.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace omnicx::identity {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MaskTextTest, WholeValuesAndTokens) {
  EXPECT_EQ(MaskText("Jane@Example.com"), "j***@example.com");
  EXPECT_EQ(MaskText("+1 (555) 123-4567"), "+1******4567");
  // Colons are legal in an email's local part: the whole is one address.
  EXPECT_EQ(MaskText("agent:jane@example.com"), "a***@example.com");
  EXPECT_EQ(MaskText("agent jane@example.com"), "agent j***@example.com");
  EXPECT_EQ(MaskText("call back on +15551234567, or mail jane@example.com"),
            "call back on +1******4567, or mail j***@example.com");
  // Not identities: left alone.
  EXPECT_EQ(MaskText("web_form"), "web_form");
  EXPECT_EQ(MaskText("event:e-123"), "event:e-123");
  EXPECT_EQ(MaskText("order 12345678 late"), "order 12345678 late");
  EXPECT_EQ(MaskText(""), "");
}

TEST(MaskStructTest, NamedFieldsAndValuesThatLookLikeIdentities) {
  google::protobuf::Struct traits;
  auto& f = *traits.mutable_fields();
  f["email"].set_string_value("Jane@Example.com");
  f["work_email"].set_string_value("not-an-email");
  f["mobile"].set_number_value(15551234567);
  f["crm_id"].set_string_value("CRM-00012345");
  f["contact"].set_string_value("+44 20 7946 0958");
  f["tier"].set_string_value("gold");
  f["kids"].set_number_value(2);
  auto* nested = f["household"].mutable_struct_value()->mutable_fields();
  (*nested)["partner_phone"].set_string_value("+49 30 1234567");
  (*nested)["name"].set_string_value("Sam");
  auto* list = f["loyalty_id"].mutable_list_value();
  list->add_values()->set_string_value("LOY-987654");
  MaskStructForRead(&traits);
  EXPECT_EQ(f["email"].string_value(), "j***@example.com");
  EXPECT_EQ(f["work_email"].string_value(), "***");
  EXPECT_EQ(f["mobile"].string_value(), "15*****4567");
  EXPECT_EQ(f["crm_id"].string_value(), "********2345");
  EXPECT_EQ(f["contact"].string_value(), "+4*******0958");
  EXPECT_EQ(f["tier"].string_value(), "gold");
  EXPECT_EQ(f["kids"].number_value(), 2);
  EXPECT_EQ((*nested)["partner_phone"].string_value(), "+4******4567");
  EXPECT_EQ((*nested)["name"].string_value(), "Sam");
  EXPECT_EQ(list->values(0).string_value(), "******7654");
}

TEST(MaskProfileTest, EveryPlaceAnIdentityCanBe) {
  omnicx::v1::Profile p;
  p.set_customer_id("c_1");
  auto* id = p.add_identities();
  id->set_type("x-partner_ref");  // a custom type
  id->set_value("PARTNER-778899");
  auto* link = p.add_links();
  link->mutable_identity()->set_type("phone");
  link->mutable_identity()->set_value("+15551234567");
  link->set_source("call:LinkIdentities");
  auto* consent = p.add_consents();
  consent->set_purpose("marketing");
  consent->set_source("jane@example.com");
  MaskProfileForRead(&p);
  const std::string bytes = p.SerializeAsString();
  for (const char* raw : {"PARTNER-778899", "+15551234567", "jane@example"}) {
    EXPECT_THAT(bytes, Not(HasSubstr(raw))) << raw;
  }
  EXPECT_EQ(p.customer_id(), "c_1");
  EXPECT_EQ(p.links(0).identity().value(), "+1******4567");
  EXPECT_EQ(p.links(0).source(), "call:LinkIdentities");
  EXPECT_EQ(p.consents(0).source(), "j***@example.com");
}

TEST(MaskInteractionTest, CustomerIdentitiesPropertiesAndComment) {
  omnicx::v1::Interaction e;
  e.set_event_id("e1");
  e.mutable_customer()->set_anonymous_id("anon-12345678");
  auto* id = e.add_identities();
  id->set_type("device_id");
  id->set_value("device-abcdef");
  (*e.mutable_properties()->mutable_fields())["typed_email"].set_string_value(
      "jane@example.com");
  e.mutable_feedback()->set_comment("reach me at +15551234567");
  MaskInteractionForRead(&e);
  const std::string bytes = e.SerializeAsString();
  for (const char* raw :
       {"anon-12345678", "device-abcdef", "jane@example", "+15551234567"}) {
    EXPECT_THAT(bytes, Not(HasSubstr(raw))) << raw;
  }
  EXPECT_EQ(e.customer().anonymous_id(), "*********5678");
  EXPECT_EQ(e.feedback().comment(), "reach me at +1******4567");

  omnicx::v1::Interaction by_id;
  by_id.mutable_customer()->set_customer_id("c_1");
  MaskInteractionForRead(&by_id);
  EXPECT_EQ(by_id.customer().customer_id(), "c_1");
}

}  // namespace
}  // namespace omnicx::identity
