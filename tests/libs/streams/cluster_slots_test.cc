// StreamConsumer, DeadLetterQueue and TrimAcknowledged against Redis
// Cluster's rules: a real redis-server in cluster mode owning every slot
// refuses (CROSSSLOT) any command naming keys of two slots, so a consumer of
// shards in different slots must read, claim, acknowledge and dead-letter
// each shard with commands of its own.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/keys/key_builder.h"
#include "libs/redis/client.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/consumer.h"
#include "libs/streams/dead_letters.h"
#include "libs/streams/retention.h"
#include "libs/testing/redis_test.h"
#include "libs/testing/wait.h"

namespace omnicx::streams {
namespace {

using ::absl::StatusCode;
using ::omnicx::status::StatusIs;
using ::testing::ElementsAre;
using ::testing::Pair;

constexpr int kShards = 4;

class StreamsClusterTest : public testing::RedisTest {
 protected:
  StreamsClusterTest() : RedisTest({.cluster = true}) {}

  void SetUp() override {
    RedisTest::SetUp();
    if (HasFatalFailure()) return;
    OwnEverySlot();
    if (HasFatalFailure()) return;
    blocking_ = NewClient();
    std::set<int64_t> slots;
    for (int s = 0; s < kShards; ++s) {
      shards_.push_back(keys_.EventShard(s));
      ASSERT_OK_AND_ASSIGN(redis::Reply slot,
                           redis_->Command({"CLUSTER", "KEYSLOT", shards_[s]}));
      slots.insert(slot.integer());
    }
    dead_ = keys_.DeadLetter("test");
    ASSERT_EQ(slots.size(), static_cast<size_t>(kShards))
        << "the shards must be in different slots";
  }

  // A consumer of every shard whose handler fails while broken_ (with
  // `failure`), else counts the payload as applied.
  std::unique_ptr<StreamConsumer> Consumer(
      const std::string& name,
      absl::Status failure = absl::InternalError("broken")) {
    ConsumerOptions options;
    options.group = "test";
    options.consumer = name;
    options.streams = shards_;
    options.dead_letter = dead_;
    options.block = absl::Milliseconds(20);
    options.block_slice = absl::Milliseconds(5);
    options.claim_idle = absl::ZeroDuration();
    options.retry_backoff = absl::Milliseconds(5);
    options.blocking_reads = blocking_.get();
    auto consumer = std::make_unique<StreamConsumer>(
        *redis_, options, [this, failure](const StreamEntry& e) {
          ++calls_;
          if (broken_) return failure;
          applied_[e.payload]++;
          return absl::OkStatus();
        });
    EXPECT_OK(consumer->EnsureGroups());
    return consumer;
  }

  void Append(int shard, const std::string& payload) {
    ASSERT_OK(
        redis_->Command({"XADD", shards_[shard], "*", "e", payload}).status());
  }

  int64_t Pending() {
    int64_t total = 0;
    for (const std::string& s : shards_) {
      absl::StatusOr<redis::Reply> p = redis_->Command({"XPENDING", s, "test"});
      EXPECT_TRUE(p.ok()) << p.status();
      if (p.ok()) total += p->elements()[0].integer();
    }
    return total;
  }

  keys::KeyBuilder keys_ = *keys::KeyBuilder::Create("t");
  std::unique_ptr<redis::Client> blocking_;
  std::vector<std::string> shards_;
  std::string dead_;
  std::atomic<bool> broken_{false};
  std::atomic<int> calls_{0};
  std::map<std::string, int> applied_;
};

TEST_F(StreamsClusterTest, OnePollReadsEveryShardAndAcksEach) {
  auto consumer = Consumer("c-1");
  for (int s = 0; s < kShards; ++s) {
    Append(s, absl::StrCat("a", s));
    Append(s, absl::StrCat("b", s));
  }
  ASSERT_OK_AND_ASSIGN(int n, consumer->PollOnce(absl::Milliseconds(10)));
  EXPECT_EQ(n, 2 * kShards);
  EXPECT_EQ(applied_.size(), 2u * kShards);
  EXPECT_EQ(Pending(), 0);
  // Nothing left: the poll ends in a short blocking read of one shard.
  ASSERT_OK_AND_ASSIGN(n, consumer->PollOnce(absl::Milliseconds(10)));
  EXPECT_EQ(n, 0);
}

TEST_F(StreamsClusterTest, TheThreadPicksUpEntriesOnEveryShard) {
  auto consumer = Consumer("c-1");
  consumer->Start();
  // One at a time, each on the next shard: the blocking read waits on some
  // other shard most of the time.
  for (int i = 0; i < 2 * kShards; ++i) {
    std::string payload = absl::StrCat("e", i);
    Append(i % kShards, payload);
    ASSERT_TRUE(testing::WaitUntil([&] {
      return consumer->stats().applied.load() == i + 1;
    })) << payload;
  }
  consumer->Stop();
  EXPECT_EQ(applied_.size(), 2u * kShards);
  EXPECT_EQ(Pending(), 0);
}

TEST_F(StreamsClusterTest, BlockingReadsNeverHoldTheCommandPool) {
  // A command pool of one connection, and reads that block for 1 s: were
  // they on the pool, every other command would wait past its 300 ms
  // timeout (pool exhausted).
  redis::ClientOptions o;
  o.port = redis_server_->port();
  o.pool_size = 1;
  o.command_timeout = absl::Milliseconds(300);
  std::unique_ptr<redis::Client> commands = redis::Client::Create(o);
  ConsumerOptions options;
  options.group = "test";
  options.consumer = "c-1";
  options.streams = shards_;
  options.dead_letter = dead_;
  options.block = absl::Seconds(1);
  options.block_slice = absl::Seconds(1);
  options.blocking_reads = blocking_.get();
  StreamConsumer consumer(*commands, options,
                          [](const StreamEntry&) { return absl::OkStatus(); });
  ASSERT_OK(consumer.EnsureGroups());
  consumer.Start();
  // The consumer is soon blocked on one shard (its first sweep found nothing).
  ASSERT_TRUE(testing::WaitUntil([&] {
    absl::StatusOr<redis::Reply> clients =
        redis_->Command({"CLIENT", "LIST", "TYPE", "normal"});
    return clients.ok() &&
           clients->str().find("cmd=xreadgroup") != std::string::npos &&
           clients->str().find("flags=b") != std::string::npos;
  }));
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK(commands->Command({"XLEN", shards_[i % kShards]}).status()) << i;
  }
  Append(1, "late");
  EXPECT_TRUE(
      testing::WaitUntil([&] { return consumer.stats().applied.load() == 1; }));
  consumer.Stop();
}

TEST_F(StreamsClusterTest, ARestartedConsumerAppliesItsOwnPendingEntries) {
  broken_ = true;
  {
    auto crashed = Consumer("c-1", absl::UnavailableError("connection reset"));
    for (int s = 0; s < kShards; ++s) Append(s, absl::StrCat("p", s));
    ASSERT_OK(crashed->PollOnce(absl::Milliseconds(10)).status());
    EXPECT_EQ(Pending(), kShards);
  }
  broken_ = false;
  auto restarted = Consumer("c-1");
  ASSERT_OK_AND_ASSIGN(int n, restarted->RecoverPending());
  EXPECT_EQ(n, kShards);
  EXPECT_EQ(Pending(), 0);
}

TEST_F(StreamsClusterTest, ADeadConsumersEntriesAreClaimedByAnother) {
  broken_ = true;
  auto dead = Consumer("dead");
  for (int s = 0; s < kShards; ++s) Append(s, absl::StrCat("d", s));
  ASSERT_OK(dead->PollOnce(absl::Milliseconds(10)).status());
  EXPECT_EQ(Pending(), kShards);
  broken_ = false;
  auto alive = Consumer("alive");
  ASSERT_OK_AND_ASSIGN(int n, alive->ClaimIdle());
  EXPECT_EQ(n, kShards);
  EXPECT_EQ(alive->stats().claimed.load(), kShards);
  EXPECT_EQ(Pending(), 0);
  EXPECT_EQ(applied_.size(), static_cast<size_t>(kShards));
}

TEST_F(StreamsClusterTest, PoisonEntriesAreDeadLetteredAndReplayedOrDropped) {
  broken_ = true;
  auto consumer = Consumer("c-1");
  for (int s = 0; s < kShards; ++s) Append(s, absl::StrCat("x", s));
  ASSERT_OK(consumer->PollOnce(absl::Milliseconds(10)).status());
  for (int i = 0; i < 4; ++i) ASSERT_OK(consumer->ClaimIdle().status());
  EXPECT_EQ(consumer->stats().dead_lettered.load(), kShards);
  EXPECT_EQ(Pending(), 0);

  DeadLetterQueue queue(*redis_, dead_, {consumer.get()});
  ASSERT_OK_AND_ASSIGN(int64_t depth, queue.Depth());
  EXPECT_EQ(depth, kShards);
  ASSERT_OK_AND_ASSIGN(std::vector<DeadLetterEntry> all, queue.List("", 10));
  ASSERT_EQ(all.size(), static_cast<size_t>(kShards));
  std::set<std::string> sources;
  for (const DeadLetterEntry& e : all) {
    sources.insert(e.source_stream);
    EXPECT_EQ(e.deliveries, 5);
    EXPECT_EQ(e.error, "broken");
  }
  EXPECT_EQ(sources, std::set<std::string>(shards_.begin(), shards_.end()));
  ASSERT_OK_AND_ASSIGN(std::vector<DeadLetterEntry> rest,
                       queue.List(all[0].id, 10));
  EXPECT_EQ(rest.size(), static_cast<size_t>(kShards - 1));
  ASSERT_OK_AND_ASSIGN(DeadLetterEntry shown, queue.Get(all[1].id));
  EXPECT_EQ(shown.fields.size(), 1u);
  EXPECT_EQ(shown.fields[0].first, "e");

  EXPECT_THAT(queue.Replay(all[0].id),
              StatusIs(StatusCode::kFailedPrecondition));
  broken_ = false;
  for (size_t i = 0; i + 1 < all.size(); ++i)
    ASSERT_OK(queue.Replay(all[i].id));
  ASSERT_OK(queue.Drop(all.back().id));
  ASSERT_OK_AND_ASSIGN(depth, queue.Depth());
  EXPECT_EQ(depth, 0);
  EXPECT_EQ(applied_.size(), static_cast<size_t>(kShards - 1));
}

TEST_F(StreamsClusterTest, EachShardIsTrimmedBelowWhatItsGroupAcknowledged) {
  auto consumer = Consumer("c-1");
  for (int s = 0; s < kShards; ++s) {
    for (int i = 0; i < 300; ++i) Append(s, absl::StrCat(s, "-", i));
  }
  while (true) {
    ASSERT_OK_AND_ASSIGN(int n, consumer->PollOnce(absl::ZeroDuration()));
    if (n == 0) break;
  }
  for (const std::string& s : shards_) {
    ASSERT_OK_AND_ASSIGN(int64_t trimmed, TrimAcknowledged(*redis_, s));
    EXPECT_GT(trimmed, 0) << s;
  }
}

}  // namespace
}  // namespace omnicx::streams
