// The outbox delta records: what a commit encodes is what the aggregator
// sums, opposite deltas cancel, and a corrupt record is refused.
#include "services/journey/aggregate_delta.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"

namespace omnicx::journey {
namespace {

using ::omnicx::status::StatusIs;

TEST(AggregateDeltaTest, RecordsSumAndOppositesCancel) {
  const std::string a =
      EncodeDelta({{"3\x1fk\x1ft", 1},
                   {"3\x1f*\x1f"
                    "a",
                    1}},
                  {{"2026-12-05", "0>3"}, {"2026-12-05", "0>3"}});
  const std::string b =
      EncodeDelta({{"3\x1fk\x1ft", 2}}, {{"2026-12-06", "3>4"}});
  const std::string erase = EncodeDelta({{"3\x1fk\x1ft", -3}}, {});
  FoldedDeltas sum;
  ASSERT_OK(AddDelta(a, &sum));
  ASSERT_OK(AddDelta(b, &sum));
  EXPECT_EQ(sum.pain, (AggregateFields{{"3\x1fk\x1ft", 3},
                                       {"3\x1f*\x1f"
                                        "a",
                                        1}}));
  EXPECT_EQ(sum.funnel["2026-12-05"], (AggregateFields{{"0>3", 2}}));
  EXPECT_EQ(sum.funnel["2026-12-06"], (AggregateFields{{"3>4", 1}}));
  ASSERT_OK(AddDelta(erase, &sum));
  EXPECT_EQ(sum.pain, (AggregateFields{{"3\x1f*\x1f"
                                        "a",
                                        1}}));
}

TEST(AggregateDeltaTest, ARetractedMoveCountsMinusOneAndCancelsItsRedo) {
  // A move taken back and redone on the same day: no record.
  EXPECT_EQ(EncodeDelta({}, {{"2026-12-06", "6>9"}}, {{"2026-12-06", "6>9"}}),
            "");
  // Taken back on one day, redone on another.
  FoldedDeltas sum;
  ASSERT_TRUE(AddDelta(EncodeDelta({}, {{"2026-12-09", "6>9"}},
                                   {{"2026-12-06", "6>9"}}),
                       &sum)
                  .ok());
  EXPECT_EQ(sum.funnel["2026-12-06"]["6>9"], -1);
  EXPECT_EQ(sum.funnel["2026-12-09"]["6>9"], 1);
}

TEST(AggregateDeltaTest, NoChangeIsNoRecordAndCorruptIsRefused) {
  EXPECT_EQ(EncodeDelta({{"f", 0}}, {}), "");
  FoldedDeltas sum;
  ASSERT_OK(AddDelta("", &sum));
  EXPECT_TRUE(sum.empty());
  EXPECT_THAT(AddDelta("\xff\xff\xff", &sum),
              StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace omnicx::journey
