// DeadLetterQueue against a real redis-server: entries a StreamConsumer gave
// up on are listed, shown, replayed once through the consumer that gave up
// (after the fix) and dropped.
#include "libs/streams/dead_letters.h"

#include <map>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/redis/client.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/consumer.h"
#include "libs/testing/redis_test.h"

namespace omnicx::streams {
namespace {

using ::absl::StatusCode;
using ::omnicx::status::StatusIs;
using ::testing::ElementsAre;
using ::testing::Pair;

constexpr char kStream[] = "cx:t:{ev:0}:stream";
constexpr char kDead[] = "cx:t:dlq:test";

class DeadLettersTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    if (HasFatalFailure()) return;
    ConsumerOptions options;
    options.group = "test";
    options.consumer = "c-1";
    options.streams = {kStream};
    options.dead_letter = kDead;
    options.claim_idle = absl::ZeroDuration();
    consumer_ = std::make_unique<StreamConsumer>(
        *redis_, options, [this](const StreamEntry& e) {
          if (broken_) return absl::InternalError("handler is broken");
          ++applied_[e.payload];
          return absl::OkStatus();
        });
    ASSERT_OK(consumer_->EnsureGroups());
    queue_ = std::make_unique<DeadLetterQueue>(
        *redis_, kDead, std::vector<StreamConsumer*>{consumer_.get()});
  }

  // Appends `payloads` and lets the broken handler fail each of them until
  // it is dead-lettered (max_deliveries, 5).
  void DeadLetter(const std::vector<std::string>& payloads) {
    for (const std::string& p : payloads) {
      ASSERT_OK(redis_->Command({"XADD", kStream, "*", "e", p}).status());
    }
    ASSERT_OK(consumer_->PollOnce(absl::Milliseconds(10)).status());
    for (int i = 0; i < 4; ++i) ASSERT_OK(consumer_->ClaimIdle().status());
    ASSERT_EQ(consumer_->stats().dead_lettered.load(),
              static_cast<int64_t>(payloads.size()));
  }

  int64_t Depth() {
    absl::StatusOr<int64_t> depth = queue_->Depth();
    EXPECT_TRUE(depth.ok()) << depth.status();
    return depth.ok() ? *depth : -1;
  }

  std::unique_ptr<StreamConsumer> consumer_;
  std::unique_ptr<DeadLetterQueue> queue_;
  bool broken_ = true;
  std::map<std::string, int> applied_;
};

TEST_F(DeadLettersTest, ListsEntriesWithTheirErrorAndDeliveries) {
  DeadLetter({"first", "second"});
  ASSERT_OK_AND_ASSIGN(std::vector<DeadLetterEntry> all, queue_->List("", 10));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].source_stream, kStream);
  EXPECT_EQ(all[0].group, "test");
  EXPECT_EQ(all[0].deliveries, 5);
  EXPECT_EQ(all[0].error, "handler is broken");
  EXPECT_EQ(all[0].payload_bytes, 1 + 5);  // "e" + "first"
  EXPECT_TRUE(all[0].fields.empty());      // List leaves payloads out
  EXPECT_TRUE(IsStreamEntryId(all[0].source_id));
  EXPECT_EQ(Depth(), 2);

  ASSERT_OK_AND_ASSIGN(std::vector<DeadLetterEntry> rest,
                       queue_->List(all[0].id, 10));
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].id, all[1].id);
  ASSERT_OK_AND_ASSIGN(DeadLetterEntry shown, queue_->Get(all[1].id));
  EXPECT_THAT(shown.fields, ElementsAre(Pair("e", "second")));
}

TEST_F(DeadLettersTest, ReplayAppliesOnceAfterTheFixAndRemovesTheEntry) {
  DeadLetter({"poison"});
  ASSERT_OK_AND_ASSIGN(std::vector<DeadLetterEntry> all, queue_->List("", 10));
  ASSERT_EQ(all.size(), 1u);
  const std::string id = all[0].id;

  // Still broken: the entry stays, with nothing applied.
  EXPECT_THAT(queue_->Replay(id), StatusIs(StatusCode::kFailedPrecondition,
                                           "replay failed again: handler is "
                                           "broken"));
  EXPECT_EQ(Depth(), 1);
  EXPECT_TRUE(applied_.empty());

  broken_ = false;  // the fix
  ASSERT_OK(queue_->Replay(id));
  EXPECT_EQ(applied_["poison"], 1);
  EXPECT_EQ(Depth(), 0);
  EXPECT_THAT(queue_->Replay(id), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(applied_["poison"], 1);
}

TEST_F(DeadLettersTest, DropRemovesWithoutApplying) {
  DeadLetter({"unwanted"});
  ASSERT_OK_AND_ASSIGN(std::vector<DeadLetterEntry> all, queue_->List("", 10));
  broken_ = false;
  ASSERT_OK(queue_->Drop(all[0].id));
  EXPECT_EQ(Depth(), 0);
  EXPECT_TRUE(applied_.empty());
  EXPECT_THAT(queue_->Drop(all[0].id), StatusIs(StatusCode::kNotFound));
}

TEST_F(DeadLettersTest, ReplayNeedsAConsumerOfTheSourceStream) {
  DeadLetter({"elsewhere"});
  ASSERT_OK_AND_ASSIGN(std::vector<DeadLetterEntry> all, queue_->List("", 10));
  DeadLetterQueue no_consumers(*redis_, kDead, {});
  broken_ = false;
  EXPECT_THAT(no_consumers.Replay(all[0].id),
              StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(Depth(), 1);
}

TEST_F(DeadLettersTest, BadIdsAndLimitsAreRefused) {
  EXPECT_THAT(queue_->Get("garbage"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(queue_->Replay("1-"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(queue_->Drop("-1"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(queue_->List("x-1", 10), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(queue_->List("", 0), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(queue_->List("", 1001), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(queue_->Get("1-0"), StatusIs(StatusCode::kNotFound));
  EXPECT_TRUE(IsStreamEntryId("1733370000000-12"));
  EXPECT_FALSE(IsStreamEntryId("1733370000000"));
}

}  // namespace
}  // namespace omnicx::streams
