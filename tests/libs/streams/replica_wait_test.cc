// StreamConsumer with replica_wait (strict durability on a Redis Cluster
// with one replica per primary, libs/testing/redis_cluster.h): the
// handler's commit on another node than the stream's is followed by WAIT
// there and reaches the replica before the entry is acknowledged; with that
// replica gone the entry is applied but stays pending, to be handled again.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/redis/client.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/consumer.h"
#include "libs/testing/redis_cluster.h"

namespace omnicx::streams {
namespace {

using ::omnicx::status::IsOkAndHolds;
using ::omnicx::testing::RedisCluster;

constexpr char kStream[] = "cx:t:{ev:0}:stream";

int64_t WaitCalls(redis::Client& node) {
  absl::StatusOr<redis::Reply> stats = node.Command({"INFO", "commandstats"});
  if (!stats.ok()) return -1;
  const size_t at = stats->str().find("cmdstat_wait:calls=");
  if (at == std::string::npos) return 0;
  return std::stoll(stats->str().substr(at + 19));
}

int64_t Pending(redis::Client& redis) {
  absl::StatusOr<redis::Reply> p =
      redis.Command({"XPENDING", kStream, "profile"});
  return p.ok() ? p->elements()[0].integer() : -1;
}

TEST(ConsumerReplicaWaitTest, CommitsReachAReplicaBeforeTheAck) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisCluster> cluster,
                       RedisCluster::Start({.primaries = 3, .replicas = 1}));
  redis::ClientOptions client_options = cluster->ClientOptions();
  client_options.command_timeout = absl::Seconds(2);
  std::unique_ptr<redis::Client> redis = redis::Client::Create(client_options);
  ASSERT_OK_AND_ASSIGN(std::string stream_node, redis->NodeOf(kStream));
  // A state key on another primary than the stream's.
  std::string state;
  int state_node = -1;
  for (int i = 0; state_node < 0; ++i) {
    state = absl::StrCat("cx:t:{p:", i, "}:state");
    ASSERT_OK_AND_ASSIGN(std::string node, redis->NodeOf(state));
    if (node != stream_node) state_node = cluster->IndexOf(node);
  }
  ASSERT_GE(state_node, 0);

  ConsumerOptions options;
  options.group = "profile";
  options.consumer = "c-1";
  options.streams = {kStream};
  options.dead_letter = "cx:t:dlq:profile";
  options.replica_wait = {.replicas = 1, .timeout = absl::Milliseconds(200)};
  int calls = 0;
  StreamConsumer consumer(*redis, options, [&](const StreamEntry&) {
    ++calls;
    return redis->Command({"INCR", state}).status();
  });
  ASSERT_OK(consumer.EnsureGroups());
  ASSERT_OK(cluster->NodeClient(state_node)
                ->Command({"CONFIG", "RESETSTAT"})
                .status());

  ASSERT_OK(redis->Command({"XADD", kStream, "*", "e", "1"}).status());
  EXPECT_THAT(consumer.PollOnce(absl::ZeroDuration()), IsOkAndHolds(1));
  EXPECT_EQ(Pending(*redis), 0);
  EXPECT_EQ(WaitCalls(*cluster->NodeClient(state_node)), 1);
  // Acknowledged only after the replica had the commit.
  const int replica = cluster->ReplicaIndex(state_node, 0);
  ASSERT_OK_AND_ASSIGN(
      redis::PipelineReplies on_replica,
      cluster->NodeClient(replica)->Pipeline({{"READONLY"}, {"GET", state}}));
  ASSERT_OK(on_replica[1].status());
  EXPECT_EQ(on_replica[1]->str(), "1");

  // The replica dies: the commit lands on the primary, the WAIT sees 0
  // replicas, and the entry is not acknowledged.
  ASSERT_OK(cluster->KillNode(replica));
  ASSERT_OK(redis->Command({"XADD", kStream, "*", "e", "2"}).status());
  EXPECT_THAT(consumer.PollOnce(absl::ZeroDuration()), IsOkAndHolds(0));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(redis->Command({"GET", state})->str(), "2");
  EXPECT_EQ(Pending(*redis), 1);
  EXPECT_EQ(consumer.stats().failed.load(), 1);
  // Handled again on recovery, still not acknowledged while unreplicated.
  EXPECT_THAT(consumer.RecoverPending(), IsOkAndHolds(0));
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(Pending(*redis), 1);
}

}  // namespace
}  // namespace omnicx::streams
