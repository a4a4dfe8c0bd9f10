#include "tools/journeysim/roc_auc.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"

namespace omnicx::journeysim {
namespace {

using ::omnicx::status::StatusIs;

TEST(RocAucTest, PerfectSeparationIsOne) {
  EXPECT_DOUBLE_EQ(*RocAuc({0.9, 0.1, 0.8, 0.2}, {true, false, true, false}),
                   1.0);
}

TEST(RocAucTest, ReversedSeparationIsZero) {
  EXPECT_DOUBLE_EQ(*RocAuc({0.1, 0.9, 0.2, 0.8}, {true, false, true, false}),
                   0.0);
}

TEST(RocAucTest, AllTiedIsOneHalf) {
  EXPECT_DOUBLE_EQ(*RocAuc({0.5, 0.5, 0.5, 0.5}, {true, false, false, true}),
                   0.5);
}

TEST(RocAucTest, TiesCountHalfByAverageRank) {
  // Positives 0.8 and 0.4; negatives 0.4 and 0.1. Pairs: (0.8>0.4) 1,
  // (0.8>0.1) 1, (0.4=0.4) 0.5, (0.4>0.1) 1 → 3.5 / 4.
  EXPECT_DOUBLE_EQ(*RocAuc({0.8, 0.4, 0.4, 0.1}, {true, true, false, false}),
                   0.875);
}

TEST(RocAucTest, MatchesPairCountingOnAnUnorderedExample) {
  // Positives 0.3, 0.7, 0.7; negatives 0.7, 0.2, 0.5.
  // 0.3: beats 0.2 → 1. 0.7 (twice): beats 0.2, 0.5, ties 0.7 → 2.5 each.
  // (1 + 2.5 + 2.5) / 9.
  EXPECT_DOUBLE_EQ(*RocAuc({0.3, 0.7, 0.7, 0.7, 0.2, 0.5},
                           {true, true, true, false, false, false}),
                   6.0 / 9.0);
}

TEST(RocAucTest, NeedsBothClassesAndEqualSizes) {
  EXPECT_THAT(RocAuc({0.1, 0.2}, {true, true}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RocAuc({0.1, 0.2}, {false, false}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RocAuc({0.1}, {true, false}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace omnicx::journeysim
