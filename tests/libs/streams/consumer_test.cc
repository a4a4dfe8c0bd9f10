// StreamConsumer's own thread against a real redis-server: an entry whose
// handler failed for a reason that may pass is applied again by the same
// consumer soon after, not after claim_idle; one that failed for good waits.
#include "libs/streams/consumer.h"

#include <atomic>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/redis_test.h"
#include "libs/testing/wait.h"

namespace omnicx::streams {
namespace {

constexpr char kStream[] = "cx:t:{ev:0}:stream";

class ConsumerRetryTest : public testing::RedisTest {
 protected:
  // A consumer whose handler fails its first `failures` calls with
  // `failure`, then applies.
  std::unique_ptr<StreamConsumer> Consumer(absl::Status failure, int failures) {
    ConsumerOptions options;
    options.group = "test";
    options.consumer = "c-1";
    options.streams = {kStream};
    options.dead_letter = "cx:t:dlq:test";
    options.block = absl::Milliseconds(20);
    options.claim_idle = absl::Hours(1);  // never, within the test
    options.retry_backoff = absl::Milliseconds(10);
    auto consumer = std::make_unique<StreamConsumer>(
        *redis_, options, [this, failure, failures](const StreamEntry&) {
          if (calls_++ < failures) return failure;
          ++applied_;
          return absl::OkStatus();
        });
    EXPECT_OK(consumer->EnsureGroups());
    EXPECT_OK(redis_->Command({"XADD", kStream, "*", "e", "x"}).status());
    return consumer;
  }

  std::atomic<int> calls_{0};
  std::atomic<int> applied_{0};
};

TEST_F(ConsumerRetryTest, AnUnavailableEntryIsRetriedByItsOwnConsumerSoon) {
  auto consumer = Consumer(absl::UnavailableError("redis: connection reset"),
                           /*failures=*/2);
  consumer->Start();
  EXPECT_TRUE(testing::WaitUntil([&] { return applied_.load() == 1; }));
  consumer->Stop();
  EXPECT_EQ(calls_.load(), 3);
  EXPECT_EQ(consumer->stats().applied.load(), 1);
  auto pending = redis_->Command({"XPENDING", kStream, "test"});
  ASSERT_OK(pending.status());
  EXPECT_EQ(pending->elements()[0].integer(), 0);
}

TEST_F(ConsumerRetryTest, APermanentFailureWaitsForTheClaim) {
  auto consumer =
      Consumer(absl::InvalidArgumentError("not an event"), /*failures=*/1);
  consumer->Start();
  // More reads come and go (each blocks 20 ms) without the entry.
  EXPECT_TRUE(
      testing::WaitUntil([&] { return consumer->stats().failed.load() == 1; }));
  ASSERT_OK(redis_->Command({"XADD", kStream, "*", "e", "y"}).status());
  EXPECT_TRUE(testing::WaitUntil([&] { return applied_.load() == 1; }));
  consumer->Stop();
  EXPECT_EQ(calls_.load(), 2);  // the failed one once, the new one once
  auto pending = redis_->Command({"XPENDING", kStream, "test"});
  ASSERT_OK(pending.status());
  EXPECT_EQ(pending->elements()[0].integer(), 1);
}

}  // namespace
}  // namespace omnicx::streams
