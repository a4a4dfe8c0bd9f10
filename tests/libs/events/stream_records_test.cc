#include "libs/events/stream_records.h"

#include "gtest/gtest.h"

namespace omnicx::events {
namespace {

TEST(StreamRecordsTest, DecodesAnEventAndRequiresTheCustomerWhenResolved) {
  omnicx::v1::Interaction event;
  event.set_event_id("evt-1");
  const std::string payload = event.SerializeAsString();
  ASSERT_TRUE(DecodeEventPayload(payload, /*resolved=*/false).has_value());
  EXPECT_EQ(DecodeEventPayload(payload, false)->event_id(), "evt-1");
  EXPECT_FALSE(DecodeEventPayload(payload, /*resolved=*/true).has_value());
  event.set_resolved_customer_id("c-1");
  EXPECT_EQ(DecodeEventPayload(event.SerializeAsString(), true)
                ->resolved_customer_id(),
            "c-1");
  EXPECT_FALSE(DecodeEventPayload("\xff\xff\xff", false).has_value());
}

TEST(StreamRecordsTest, AMergeRecordNeedsTwoDistinctCustomers) {
  std::optional<MergeRecord> r =
      DecodeMergeRecord({{"survivor", "s"}, {"merged", "m"}, {"at", "1"}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->survivor, "s");
  EXPECT_EQ(r->merged, "m");
  EXPECT_FALSE(DecodeMergeRecord({{"survivor", "s"}}).has_value());
  EXPECT_FALSE(DecodeMergeRecord({{"survivor", ""}, {"merged", "m"}}));
  // A self-merge would fold a customer into themselves: refused.
  EXPECT_FALSE(DecodeMergeRecord({{"survivor", "s"}, {"merged", "s"}}));
}

}  // namespace
}  // namespace omnicx::events
