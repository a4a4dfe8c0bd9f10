// Request validation, pure: every rule with its field path.
#include "services/recommendation/request_validation.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"

namespace omnicx::recommendation {
namespace {

TEST(ValidateRecommendTest, Rules) {
  omnicx::v1::RecommendRequest r;
  EXPECT_THAT(status::ViolatedFields(ValidateRecommend(r)),
              ::testing::ElementsAre("customer"));
  r.mutable_customer()->set_customer_id("c1");
  EXPECT_TRUE(ValidateRecommend(r).empty());
  r.set_max_actions(20);
  EXPECT_TRUE(ValidateRecommend(r).empty());
  r.set_max_actions(21);
  r.set_intent(std::string(65, 'x'));
  r.set_channel(static_cast<omnicx::v1::Channel>(13));
  EXPECT_THAT(status::ViolatedFields(ValidateRecommend(r)),
              ::testing::ElementsAre("channel", "max_actions", "intent"));
  r = {};
  r.mutable_customer()->mutable_identity()->set_type("email");
  EXPECT_THAT(status::ViolatedFields(ValidateRecommend(r)),
              ::testing::ElementsAre("customer.identity.value"));
  r.mutable_customer()->set_customer_id("");
  EXPECT_THAT(status::ViolatedFields(ValidateRecommend(r)),
              ::testing::ElementsAre("customer.customer_id"));
}

TEST(ValidateDecideForContextTest, Rules) {
  omnicx::v1::DecideForContextRequest r;
  EXPECT_THAT(status::ViolatedFields(ValidateDecideForContext(r)),
              ::testing::ElementsAre("request.customer", "profile.customer_id",
                                     "request.customer.customer_id"));
  r.mutable_request()->mutable_customer()->set_customer_id("c1");
  r.mutable_profile()->set_customer_id("c1");
  EXPECT_TRUE(ValidateDecideForContext(r).empty());
  // The decision is for the customer whose profile was handed in.
  r.mutable_profile()->set_customer_id("c2");
  EXPECT_THAT(status::ViolatedFields(ValidateDecideForContext(r)),
              ::testing::ElementsAre("request.customer.customer_id"));
  r.mutable_profile()->set_customer_id("c1");
  r.mutable_request()->set_max_actions(21);
  for (int i = 0; i < 65; ++i) r.mutable_profile()->add_consented_purposes("p");
  EXPECT_THAT(status::ViolatedFields(ValidateDecideForContext(r)),
              ::testing::ElementsAre("request.max_actions",
                                     "profile.consented_purposes"));
  // Not by identity: the profile service resolved the customer already.
  r = {};
  r.mutable_request()->mutable_customer()->set_anonymous_id("a1");
  r.mutable_profile()->set_customer_id("a1");
  EXPECT_THAT(status::ViolatedFields(ValidateDecideForContext(r)),
              ::testing::ElementsAre("request.customer.customer_id"));
}

TEST(ValidateOutcomeTest, Rules) {
  omnicx::v1::RecordOutcomeRequest r;
  EXPECT_THAT(status::ViolatedFields(ValidateOutcome(r)),
              ::testing::ElementsAre("decision_id", "action_id", "customer",
                                     "response"));
  r.set_decision_id("d_1");
  r.set_action_id("recovery_apology_credit");
  r.mutable_customer()->set_anonymous_id("a1");
  r.set_response(omnicx::v1::ACTION_RESPONSE_CONVERTED);
  EXPECT_TRUE(ValidateOutcome(r).empty());
  r.set_action_id("Not An Id");
  r.mutable_occurred_at()->set_nanos(-1);
  r.set_response(static_cast<omnicx::v1::ActionResponse>(9));
  EXPECT_THAT(status::ViolatedFields(ValidateOutcome(r)),
              ::testing::ElementsAre("action_id", "response", "occurred_at"));
}

TEST(ValidateUpsertTest, ActionRequiredAndValidated) {
  omnicx::v1::UpsertActionRequest r;
  EXPECT_THAT(status::ViolatedFields(ValidateUpsert(r)),
              ::testing::ElementsAre("action"));
  r.mutable_action()->set_action_id("x");
  r.mutable_action()->set_kind(omnicx::v1::ACTION_KIND_SURVEY);
  r.mutable_action()->set_value(-3);
  EXPECT_THAT(status::ViolatedFields(ValidateUpsert(r)),
              ::testing::ElementsAre("action.value"));
}

}  // namespace
}  // namespace omnicx::recommendation
