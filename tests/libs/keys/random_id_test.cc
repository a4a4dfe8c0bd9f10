#include "libs/keys/random_id.h"

#include <set>
#include <string>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace omnicx::keys {
namespace {

using ::testing::MatchesRegex;

TEST(RandomIdTest, PrefixThenLowerCaseHexOfTheBytesAsked) {
  EXPECT_THAT(RandomId("c_"), MatchesRegex("c_[0-9a-f]{32}"));
  EXPECT_THAT(RandomId("d_", 8), MatchesRegex("d_[0-9a-f]{16}"));
  EXPECT_THAT(RandomId(""), MatchesRegex("[0-9a-f]{32}"));
}

TEST(RandomIdTest, HundredThousandIdsAreDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 100000; ++i) seen.insert(RandomId("c_"));
  EXPECT_EQ(seen.size(), 100000u);
}

TEST(RandomIdTest, EveryHexDigitAppearsInEveryPosition) {
  // A broken generator (constant bytes, a stuck nibble) fails this at once;
  // a uniform one misses a digit in one of 32 positions after 1,000 draws
  // with probability below 1e-25.
  std::set<char> at[32];
  for (int i = 0; i < 1000; ++i) {
    const std::string id = RandomId("");
    for (int p = 0; p < 32; ++p) at[p].insert(id[p]);
  }
  for (int p = 0; p < 32; ++p) EXPECT_EQ(at[p].size(), 16u) << p;
}

TEST(RandomIdDeathTest, OutOfRangeLengthAborts) {
  EXPECT_DEATH(RandomId("x", 0), "1-64 allowed");
  EXPECT_DEATH(RandomId("x", 65), "1-64 allowed");
}

}  // namespace
}  // namespace omnicx::keys
