// The action catalog: the default catalog's promises, YAML loading with
// errors that name the file, line and setting, and the validation table
// shared by YAML catalogs and UpsertAction.
#include "services/recommendation/catalog.h"

#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"

namespace omnicx::recommendation {
namespace {

using ::omnicx::status::FieldViolation;
using ::omnicx::status::StatusIs;
using ::testing::HasSubstr;

TEST(DefaultCatalogTest, CoversEveryKindWithMarketingAndFallbackActions) {
  const ActionCatalog& catalog = DefaultCatalog();
  EXPECT_GE(catalog.actions_size(), 10);
  std::set<int> kinds;
  int marketing = 0;
  int fallback = 0;
  for (const Action& a : catalog.actions()) {
    kinds.insert(a.kind());
    if (a.required_consent() == "marketing") ++marketing;
    if (a.fallback()) {
      ++fallback;
      EXPECT_EQ(a.required_consent(), "") << a.action_id();
    }
    EXPECT_FALSE(a.talking_points().empty()) << a.action_id();
  }
  EXPECT_EQ(kinds.size(), 7u);
  EXPECT_GE(marketing, 3);
  EXPECT_GE(fallback, 1);
  EXPECT_OK(ValidateCatalog(catalog, "default"));
}

TEST(CatalogYamlTest, LoadsActionsWithTheirFields) {
  ASSERT_OK_AND_ASSIGN(ActionCatalog c, ParseCatalogYaml(R"(
actions:
  - action_id: offer_a
    kind: ACTION_KIND_CROSS_SELL
    channels: [CHANNEL_WEB, CHANNEL_EMAIL]
    eligibility: {min_health: 60, stages: [STAGE_LOYAL], segments_none: [detractor]}
    required_consent: marketing
    value: 25.5
    prior_accept_rate: 0.1
    policy: {max_per_window: 2, window_seconds: 86400, cooldown_seconds: 3600}
)",
                                                         "c.yaml"));
  ASSERT_EQ(c.actions_size(), 1);
  const Action& a = c.actions(0);
  EXPECT_EQ(a.action_id(), "offer_a");
  EXPECT_EQ(a.kind(), omnicx::v1::ACTION_KIND_CROSS_SELL);
  EXPECT_EQ(a.channels_size(), 2);
  EXPECT_TRUE(a.eligibility().has_min_health());
  EXPECT_EQ(a.eligibility().min_health(), 60);
  EXPECT_FALSE(a.eligibility().has_max_health());
  EXPECT_EQ(a.eligibility().segments_none(0), "detractor");
  EXPECT_EQ(a.value(), 25.5);
  EXPECT_EQ(a.policy().max_per_window(), 2);
  EXPECT_EQ(EffectiveLever(a), 1.0);
  EXPECT_EQ(EffectiveWindowSeconds(a), 86400);
}

TEST(CatalogYamlTest, BadEnumNamesFileLineAndSetting) {
  auto c = ParseCatalogYaml(
      "actions:\n  - action_id: a\n    kind: ACTION_KIND_NOPE\n    value: 1\n",
      "catalog.yaml");
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kInvalidArgument,
                          AllOf(HasSubstr("catalog.yaml:3"),
                                HasSubstr("actions[0].kind"))));
}

TEST(CatalogYamlTest, UnknownSettingIsAnError) {
  auto c = ParseCatalogYaml(
      "actions:\n  - action_id: a\n    kind: ACTION_KIND_SURVEY\n    valu: 1\n",
      "catalog.yaml");
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kInvalidArgument,
                          AllOf(HasSubstr("catalog.yaml:4"),
                                HasSubstr("actions[0].valu"),
                                HasSubstr("not a known setting"))));
}

TEST(CatalogYamlTest, SemanticErrorsNameTheFieldPath) {
  auto c = ParseCatalogYaml(
      "actions:\n  - {action_id: a, kind: ACTION_KIND_SURVEY, value: 1}\n"
      "  - {action_id: a, kind: ACTION_KIND_SURVEY, value: 0}\n",
      "catalog.yaml");
  ASSERT_THAT(c, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("catalog.yaml: invalid action catalog: "
                                    "actions[1].value")));
  EXPECT_THAT(
      status::GetFieldViolations(c.status()),
      ::testing::ElementsAre(
          FieldViolation{"actions[1].value", "must be > 0 and at most 1e9"},
          FieldViolation{"actions[1].action_id",
                         "\"a\" is used by an earlier action"}));
}

TEST(CatalogYamlTest, EmptyCatalogIsRejected) {
  EXPECT_THAT(ParseCatalogYaml("actions: []\n", "c.yaml"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("at least one action")));
}

TEST(CatalogFileTest, MissingFileIsNotFound) {
  EXPECT_THAT(LoadCatalogFile("/nonexistent/catalog.yaml"),
              StatusIs(absl::StatusCode::kNotFound));
}

Action Valid() {
  Action a;
  a.set_action_id("valid_action");
  a.set_kind(omnicx::v1::ACTION_KIND_EDUCATION);
  a.set_value(10);
  a.set_prior_accept_rate(0.2);
  return a;
}

struct ValidationCase {
  std::string name;
  std::function<void(Action*)> mutate;
  std::string field;  // "" = valid
};

TEST(ValidateActionTest, Table) {
  const std::vector<ValidationCase> cases = {
      {"valid", [](Action*) {}, ""},
      {"empty_id", [](Action* a) { a->set_action_id(""); }, "action.action_id"},
      {"upper_id", [](Action* a) { a->set_action_id("Bad"); },
       "action.action_id"},
      {"pipe_id", [](Action* a) { a->set_action_id("a|b"); },
       "action.action_id"},
      {"long_id", [](Action* a) { a->set_action_id(std::string(65, 'a')); },
       "action.action_id"},
      {"no_kind",
       [](Action* a) { a->set_kind(omnicx::v1::ACTION_KIND_UNSPECIFIED); },
       "action.kind"},
      {"unknown_kind",
       [](Action* a) { a->set_kind(static_cast<omnicx::v1::ActionKind>(99)); },
       "action.kind"},
      {"unspecified_channel",
       [](Action* a) { a->add_channels(omnicx::v1::CHANNEL_UNSPECIFIED); },
       "action.channels[0]"},
      {"repeated_channel",
       [](Action* a) {
         a->add_channels(omnicx::v1::CHANNEL_WEB);
         a->add_channels(omnicx::v1::CHANNEL_WEB);
       },
       "action.channels[1]"},
      {"unspecified_stage",
       [](Action* a) {
         a->mutable_eligibility()->add_stages(omnicx::v1::STAGE_UNSPECIFIED);
       },
       "action.eligibility.stages[0]"},
      {"empty_segment",
       [](Action* a) { a->mutable_eligibility()->add_segments_any(""); },
       "action.eligibility.segments_any[0]"},
      {"health_over_100",
       [](Action* a) { a->mutable_eligibility()->set_max_health(101); },
       "action.eligibility.max_health"},
      {"health_min_above_max",
       [](Action* a) {
         a->mutable_eligibility()->set_min_health(80);
         a->mutable_eligibility()->set_max_health(20);
       },
       "action.eligibility.min_health"},
      {"churn_over_1",
       [](Action* a) { a->mutable_eligibility()->set_min_churn_risk(1.5); },
       "action.eligibility.min_churn_risk"},
      {"bad_consent", [](Action* a) { a->set_required_consent("Mark eting"); },
       "action.required_consent"},
      {"zero_value", [](Action* a) { a->set_value(0); }, "action.value"},
      {"nan_value", [](Action* a) { a->set_value(std::nan("")); },
       "action.value"},
      {"negative_lever", [](Action* a) { a->set_lever(-1); }, "action.lever"},
      {"prior_over_1", [](Action* a) { a->set_prior_accept_rate(1.2); },
       "action.prior_accept_rate"},
      {"long_talking_points",
       [](Action* a) { a->set_talking_points(std::string(2001, 'x')); },
       "action.talking_points"},
      {"negative_cap",
       [](Action* a) { a->mutable_policy()->set_max_per_window(-1); },
       "action.policy.max_per_window"},
      {"huge_window",
       [](Action* a) {
         a->mutable_policy()->set_window_seconds(400LL * 24 * 3600);
       },
       "action.policy.window_seconds"},
      {"negative_cooldown",
       [](Action* a) { a->mutable_policy()->set_cooldown_seconds(-5); },
       "action.policy.cooldown_seconds"},
      {"fallback_needing_consent",
       [](Action* a) {
         a->set_fallback(true);
         a->set_required_consent("marketing");
       },
       "action.fallback"},
  };
  for (const ValidationCase& c : cases) {
    Action a = Valid();
    c.mutate(&a);
    std::vector<FieldViolation> v = ValidateAction(a, "action");
    if (c.field.empty()) {
      EXPECT_TRUE(v.empty()) << c.name << ": " << v[0].field;
    } else {
      ASSERT_EQ(v.size(), 1u) << c.name;
      EXPECT_EQ(v[0].field, c.field) << c.name;
    }
  }
}

TEST(KindTest, NamesAndClasses) {
  EXPECT_EQ(KindName(omnicx::v1::ACTION_KIND_SERVICE_RECOVERY),
            "service_recovery");
  EXPECT_EQ(KindName(omnicx::v1::ACTION_KIND_HUMAN_CALLBACK), "human_callback");
  EXPECT_TRUE(IsSalesKind(omnicx::v1::ACTION_KIND_CROSS_SELL));
  EXPECT_TRUE(IsSalesKind(omnicx::v1::ACTION_KIND_RETENTION_OFFER));
  EXPECT_FALSE(IsSalesKind(omnicx::v1::ACTION_KIND_SERVICE_RECOVERY));
  Action a;
  a.set_kind(omnicx::v1::ACTION_KIND_SERVICE_RECOVERY);
  EXPECT_FALSE(IsAgentLed(a));
  a.set_agent_led(true);
  EXPECT_TRUE(IsAgentLed(a));
  a.set_kind(omnicx::v1::ACTION_KIND_HUMAN_CALLBACK);
  a.set_agent_led(false);
  EXPECT_TRUE(IsAgentLed(a));
}

}  // namespace
}  // namespace omnicx::recommendation
