// The in-process held-out protocol: deterministic for a seed, learns from
// the training half only, and its churn risk ranks churners above the
// configured model's on a small population.
#include "tools/journeysim/offline_quality.h"

#include "gtest/gtest.h"

namespace omnicx::journeysim {
namespace {

TEST(OfflineQualityTest, DeterministicAndMeasuredOnTheHeldOutHalf) {
  SimulationConfig config;
  config.customers = 1500;
  config.events = 60000;
  config.now = absl::FromUnixSeconds(1790000000);
  config.label_share = 0.5;
  config.planted.push_back({"delivery", 0.25});
  RedrawTouchpoints(3, &config);
  auto model =
      omnicx::journey::CompileModel(omnicx::journey::DefaultJourneyModel());
  ASSERT_TRUE(model.ok());
  absl::StatusOr<OfflineQuality> a = RunOfflineQuality(config, 3, *model);
  absl::StatusOr<OfflineQuality> b = RunOfflineQuality(config, 3, *model);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->auc, b->auc);
  EXPECT_EQ(a->examples, b->examples);
  // About half of the customers are held out; some of them churn.
  EXPECT_GT(a->scored, 500);
  EXPECT_LT(a->scored, 750);
  EXPECT_GT(a->churned, 0);
  EXPECT_GT(a->positives, 0);
  EXPECT_GT(a->auc, 0.6);
  EXPECT_LE(a->calibration_error, 0.05);
  EXPECT_DOUBLE_EQ(a->gap_closed,
                   (a->auc - a->naive_auc) / (a->hazard_auc - a->naive_auc));
}

}  // namespace
}  // namespace omnicx::journeysim
