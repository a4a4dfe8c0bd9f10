// The journey model: defaults compile, weights pick the most specific entry,
// YAML overrides replace lists whole, and every kind of bad entry stops
// start-up with the entry named.
#include "services/journey/journey_model.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"

namespace omnicx::journey {
namespace {

using ::omnicx::status::StatusIs;
using ::testing::HasSubstr;

TEST(JourneyModelTest, DefaultsCompileAndWeighMomentsOfTruth) {
  absl::StatusOr<CompiledModel> model = LoadJourneyModel("");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->positive_half_life(), absl::Hours(24 * 30));
  EXPECT_EQ(model->negative_half_life(), absl::Hours(24 * 120));
  EXPECT_DOUBLE_EQ(
      model->Weight(omnicx::v1::CHANNEL_WEB, "payment", "checkout"), 3);
  EXPECT_DOUBLE_EQ(model->Weight(omnicx::v1::CHANNEL_WEB, "payment", "app"),
                   2.5);
  EXPECT_DOUBLE_EQ(
      model->Weight(omnicx::v1::CHANNEL_VOICE, "support_contact", ""), 2.5);
  EXPECT_DOUBLE_EQ(
      model->Weight(omnicx::v1::CHANNEL_CHAT, "support_contact", ""), 2);
  EXPECT_DOUBLE_EQ(model->Weight(omnicx::v1::CHANNEL_WEB, "login", ""), 1);
  EXPECT_EQ(model->proto().segments_size(), 7);
}

TEST(JourneyModelTest, YamlOverridesScalarsAddsWeightsReplacesSegments) {
  absl::StatusOr<CompiledModel> model = LoadJourneyModelFromYaml(R"(
negative_half_life: 4000h
churn:
  open_case: 0
weights:
  - type: delivery
    touchpoint: last_mile
    weight: 7
  - type: complaint
    weight: 5
segments:
  - name: vip
    all:
      - feature: lifetime_value
        min: 5000
  - name: high_value
    all:
      - feature: lifetime_value
        min: 2500
)",
                                                                 "test.yaml");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->negative_half_life(), absl::Hours(4000));
  EXPECT_EQ(model->positive_half_life(), absl::Hours(720));  // default kept
  EXPECT_DOUBLE_EQ(model->proto().churn().open_case(), 0);
  EXPECT_DOUBLE_EQ(model->proto().churn().idle_month(), 0.25);
  EXPECT_DOUBLE_EQ(
      model->Weight(omnicx::v1::CHANNEL_WEB, "delivery", "last_mile"), 7);
  EXPECT_DOUBLE_EQ(model->Weight(omnicx::v1::CHANNEL_WEB, "delivery", ""), 3);
  // Same specificity as the default: the file's entry wins.
  EXPECT_DOUBLE_EQ(model->Weight(omnicx::v1::CHANNEL_WEB, "complaint", ""), 5);
  EXPECT_DOUBLE_EQ(
      model->Weight(omnicx::v1::CHANNEL_WEB, "payment", "checkout"), 3);
  std::vector<std::string> names;
  for (const auto& s : model->proto().segments()) names.push_back(s.name());
  EXPECT_THAT(names,
              ::testing::ElementsAre("digital_first", "branch_loyal",
                                     "detractor", "high_effort", "at_risk",
                                     "new_customer", "vip", "high_value"));
  EXPECT_DOUBLE_EQ(model->proto().segments(7).all(0).min(), 2500);
}

struct BadCase {
  const char* yaml;
  const char* message;
};

class JourneyModelErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(JourneyModelErrorTest, NamesTheEntry) {
  absl::StatusOr<CompiledModel> model =
      LoadJourneyModelFromYaml(GetParam().yaml, "weights.yaml");
  EXPECT_THAT(model.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr(GetParam().message)));
  EXPECT_THAT(std::string(model.status().message()),
              HasSubstr("journey model weights.yaml"));
}

INSTANTIATE_TEST_SUITE_P(
    Errors, JourneyModelErrorTest,
    ::testing::Values(
        BadCase{"weights:\n  - type: a\n    weight: 1\n  - type: b\n    "
                "weight: 0\n",
                "weights[1].weight: 0 must be in (0, 100]"},
        BadCase{"weights:\n  - type: a\n    weight: 101\n",
                "weights[0].weight: 101 must be in (0, 100]"},
        BadCase{"weights:\n  - channel: CHANNEL_TV\n    weight: 1\n",
                "weights[0].channel"},
        BadCase{"weights:\n  - kind: a\n", "weights[0].kind"},
        BadCase{"positive_half_life: soon\n",
                "positive_half_life: \"soon\" is not a positive duration"},
        BadCase{"negative_half_life: -5h\n", "negative_half_life"},
        BadCase{"churn:\n  recovery_cap: 1\n",
                "churn.recovery_cap: 1 must be in [0, 1)"},
        BadCase{"health:\n  effort:\n    negative: -1\n",
                "health.effort.negative: -1 must be a finite number >= 0"},
        BadCase{"stages:\n  at_risk_churn: 2\n", "stages.at_risk_churn"},
        BadCase{"segments:\n  - name: Big Spenders\n    all:\n      - "
                "feature: events\n        min: 1\n",
                "segments[0].name"},
        BadCase{"segments:\n  - name: a\n    all:\n      - feature: mood\n  "
                "      min: 1\n",
                "segments[0].all[0].feature: \"mood\" is not a feature"},
        BadCase{"segments:\n  - name: a\n    all:\n      - feature: events\n",
                "segments[0].all[0]: needs min or max"},
        BadCase{"segments:\n  - name: a\n    all:\n      - feature: events\n  "
                "      min: 5\n        max: 1\n",
                "min <= max"},
        BadCase{"segments:\n  - name: a\n    all:\n      - feature: events\n  "
                "      min: 1\n  - name: a\n    all:\n      - feature: "
                "events\n        min: 2\n",
                "segments[1].name: \"a\" is defined twice"},
        BadCase{"pain_points:\n  negative_rate: 0\n  repeat_contact: 0\n  "
                "wait: 0\n  churn_lift: 0\n",
                "pain_points: at least one severity weight"},
        BadCase{"max_drivers: 0\n", "max_drivers: 0 must be in [1, 1000]"}));

TEST(JourneyModelTest, UnreadableFileIsAnError) {
  EXPECT_THAT(LoadJourneyModel("/nonexistent/weights.yaml").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cannot be read")));
}

}  // namespace
}  // namespace omnicx::journey
