#include "services/profile/timeline_page_token.h"

#include "gtest/gtest.h"

namespace omnicx::profile {
namespace {

TEST(TimelinePageTokenTest, RoundTripsScoreAndAnIdWithColons) {
  const std::string token = EncodeTimelinePageToken(1794999000000, "web:e:1");
  absl::StatusOr<TimelineCursor> back = DecodeTimelinePageToken(token);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->score, 1794999000000);
  EXPECT_EQ(back->after_id, "web:e:1");
}

TEST(TimelinePageTokenTest, MalformedTokensAreInvalidArgument) {
  for (const char* token : {"!!", "bm8tY29sb24", /* "no-colon" */
                            "eDpldnQ" /* "x:evt": score not a number */}) {
    absl::StatusOr<TimelineCursor> c = DecodeTimelinePageToken(token);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << token;
    EXPECT_EQ(c.status().message(), "page_token is not valid");
  }
}

}  // namespace
}  // namespace omnicx::profile
