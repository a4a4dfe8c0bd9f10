// The client in cluster mode against a real three-primary Redis Cluster
// (libs/testing/redis_cluster.h): routing, per-node pipelines, scripts,
// MOVED/ASK/TRYAGAIN during a migration, failover, WAIT, readiness.
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/redis/client.h"
#include "libs/redis/slot.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/redis_cluster.h"
#include "libs/testing/redis_test.h"
#include "libs/testing/wait.h"

namespace omnicx::redis {
namespace {

using ::omnicx::status::StatusIs;
using ::omnicx::testing::RedisCluster;
using ::omnicx::testing::WaitUntil;
using ::testing::HasSubstr;

class ClusterClientTest : public ::testing::Test {
 protected:
  void Start(int replicas = 0) {
    auto cluster = RedisCluster::Start({.primaries = 3, .replicas = replicas});
    ASSERT_OK(cluster.status());
    cluster_ = std::move(*cluster);
    client_ = Client::Create(Options());
  }

  ClientOptions Options() const {
    ClientOptions o = cluster_->ClientOptions();
    o.command_timeout = absl::Seconds(2);
    o.reconnect_backoff_max = absl::Milliseconds(100);
    return o;
  }

  // The node index serving `key`, as the cluster itself says.
  int Owner(const std::string& key) {
    auto c = cluster_->NodeClient(0);
    absl::StatusOr<Reply> slots = c->Command({"CLUSTER", "SLOTS"});
    const int slot = KeySlot(key);
    for (const Reply& range : slots->elements()) {
      if (slot >= range.elements()[0].integer() &&
          slot <= range.elements()[1].integer()) {
        const Reply& node = range.elements()[2];
        return cluster_->IndexOf(absl::StrCat(node.elements()[0].str(), ":",
                                              node.elements()[1].integer()));
      }
    }
    return -1;
  }

  // A key of `tag`'s slot owned by primary `node`.
  std::string KeyOn(int node, const std::string& prefix) {
    for (int i = 0;; ++i) {
      std::string key = absl::StrCat(prefix, "{", i, "}");
      if (Owner(key) == node) return key;
    }
  }

  int64_t DbSize(int node) {
    return cluster_->NodeClient(node)->Command({"DBSIZE"})->integer();
  }

  std::unique_ptr<RedisCluster> cluster_;
  std::unique_ptr<Client> client_;
};

TEST_F(ClusterClientTest, CommandsLandOnTheOwningNode) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_OK(client_->Ping());
  for (int i = 0; i < 90; ++i) {
    const std::string key = absl::StrCat("k:{", i, "}");
    ASSERT_OK(client_->Command({"SET", key, absl::StrCat(i)}).status());
    const int owner = Owner(key);
    ASSERT_GE(owner, 0);
    EXPECT_EQ(*client_->NodeOf(key), cluster_->node(owner).address());
    EXPECT_EQ(cluster_->NodeClient(owner)->Command({"GET", key})->str(),
              absl::StrCat(i));
    EXPECT_EQ(*client_->Command({"GET", key})->AsString(), absl::StrCat(i));
  }
  EXPECT_EQ(DbSize(0) + DbSize(1) + DbSize(2), 90);
  for (int n = 0; n < 3; ++n) EXPECT_GT(DbSize(n), 10) << n;
  // Hash tags keep multi-key commands on one node.
  ASSERT_OK(client_->Command({"MSET", "{t}:a", "1", "{t}:b", "2"}).status());
  EXPECT_EQ(client_->Command({"MGET", "{t}:a", "{t}:b"})->elements().size(),
            2u);
  EXPECT_THAT(client_->Command({"MGET", "a", "b"}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("CROSSSLOT")));
  // SCAN by the hash tag of its pattern only.
  std::string cursor = "0";
  size_t found = 0;
  do {
    ASSERT_OK_AND_ASSIGN(Reply scan,
                         client_->Command({"SCAN", cursor, "MATCH", "{t}:*"}));
    cursor = scan.elements()[0].str();
    found += scan.elements()[1].elements().size();
  } while (cursor != "0");
  EXPECT_EQ(found, 2u);
  EXPECT_THAT(client_->Command({"SCAN", "0", "MATCH", "k:*"}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // Sent alone, FLUSHALL runs on every primary.
  ASSERT_OK(client_->Command({"FLUSHALL"}).status());
  EXPECT_EQ(DbSize(0) + DbSize(1) + DbSize(2), 0);
}

TEST_F(ClusterClientTest, PipelineOverManySlotsIsOneRoundTripPerNode) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_OK(client_->Ping());
  std::atomic<int> round_trips{0};
  ClientOptions o = Options();
  o.observer = [&](absl::string_view, absl::Duration, bool) { ++round_trips; };
  auto client = Client::Create(o);
  ASSERT_OK(client->Ping());
  round_trips = 0;
  std::vector<Command> commands;
  for (int i = 0; i < 300; ++i) {
    commands.push_back({"INCRBY", absl::StrCat("c:", i), absl::StrCat(i)});
  }
  commands.push_back({"PING"});
  commands.push_back({"HSET"});  // wrong arity: an error for this one only
  for (int i = 0; i < 300; ++i)
    commands.push_back({"GET", absl::StrCat("c:", i)});
  ASSERT_OK_AND_ASSIGN(PipelineReplies replies, client->Pipeline(commands));
  ASSERT_EQ(replies.size(), 602u);
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(replies[i]->integer(), i);
    EXPECT_EQ(*replies[302 + i]->AsString(), absl::StrCat(i));
  }
  EXPECT_EQ(replies[300]->str(), "PONG");
  EXPECT_THAT(replies[301], StatusIs(absl::StatusCode::kInternal));
  EXPECT_EQ(round_trips.load(), 3);
  // MULTI ... EXEC stays on the node of the keys inside.
  ASSERT_OK_AND_ASSIGN(replies, client->Pipeline({{"SET", "x", "1"},
                                                  {"MULTI"},
                                                  {"INCR", "m{q}"},
                                                  {"INCR", "n{q}"},
                                                  {"EXEC"},
                                                  {"GET", "x"}}));
  ASSERT_OK(replies[4].status());
  EXPECT_EQ(replies[4]->elements().size(), 2u);
  EXPECT_EQ(replies[5]->str(), "1");
}

TEST_F(ClusterClientTest, ScriptsAreLoadedOnEachNodeThatLacksThem) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const Script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  std::vector<Command> commands;
  for (int i = 0; i < 30; ++i) {
    commands.push_back(EvalShaCommand(script, {absl::StrCat("s:", i)}, {"2"}));
  }
  ASSERT_OK_AND_ASSIGN(PipelineReplies r,
                       client_->PipelineScripts(commands, {&script}));
  for (const auto& reply : r) EXPECT_EQ(reply->integer(), 2);
  for (int n = 0; n < 3; ++n) {
    ASSERT_OK_AND_ASSIGN(
        Reply exists,
        cluster_->NodeClient(n)->Command({"SCRIPT", "EXISTS", script.sha1()}));
    EXPECT_EQ(exists.elements()[0].integer(), 1) << n;
  }
  // Flushed on one node only: only that node's commands reload and re-run.
  ASSERT_OK(cluster_->NodeClient(1)->Command({"SCRIPT", "FLUSH"}).status());
  ASSERT_OK_AND_ASSIGN(r, client_->PipelineScripts(commands, {&script}));
  for (const auto& reply : r) EXPECT_EQ(reply->integer(), 4);
  ASSERT_OK_AND_ASSIGN(Reply one, client_->Eval(script, {"s:0"}, {"1"}));
  EXPECT_EQ(one.integer(), 5);
}

TEST_F(ClusterClientTest, MovedAfterASlotMigrates) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string key = KeyOn(0, "moved");
  ASSERT_OK(client_->Command({"SET", key, "v"}).status());
  EXPECT_EQ(*client_->NodeOf(key), cluster_->node(0).address());
  ASSERT_OK(cluster_->MigrateSlot(KeySlot(key), 0, 2));
  ASSERT_OK_AND_ASSIGN(Reply get, client_->Command({"GET", key}));
  EXPECT_EQ(get.str(), "v");
  EXPECT_EQ(*client_->NodeOf(key), cluster_->node(2).address());
  // Pipelines follow too.
  ASSERT_OK(cluster_->MigrateSlot(KeySlot(key), 2, 1));
  ASSERT_OK_AND_ASSIGN(PipelineReplies r,
                       client_->Pipeline({{"GET", key}, {"APPEND", key, "w"}}));
  EXPECT_EQ(r[0]->str(), "v");
  EXPECT_EQ(r[1]->integer(), 2);
  EXPECT_EQ(cluster_->NodeClient(1)->Command({"GET", key})->str(), "vw");
}

TEST_F(ClusterClientTest, AskDuringAMigration) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string key = KeyOn(0, "ask");
  const int slot = KeySlot(key);
  ASSERT_OK(client_->Command({"SET", key, "v"}).status());
  ASSERT_OK(cluster_->BeginMigration(slot, 0, 1));
  ASSERT_OK(cluster_->MigrateKeys(slot, 0, 1));
  // The key has moved but the slot is still node 0's: ASK, then ASKING.
  ASSERT_OK_AND_ASSIGN(Reply get, client_->Command({"GET", key}));
  EXPECT_EQ(get.str(), "v");
  // A new key of the slot is created on the importing node.
  const std::string fresh = absl::StrCat(key.substr(0, key.find('{')), "2",
                                         key.substr(key.find('{')));
  ASSERT_EQ(KeySlot(fresh), slot);
  ASSERT_OK(client_->Command({"SET", fresh, "new"}).status());
  ASSERT_OK_AND_ASSIGN(
      PipelineReplies direct,
      cluster_->NodeClient(1)->Pipeline({{"ASKING"}, {"GET", fresh}}));
  EXPECT_EQ(direct[1]->str(), "new");
  EXPECT_EQ(*client_->NodeOf(key), cluster_->node(0).address());  // no MOVED
  ASSERT_OK(cluster_->FinishMigration(slot, 1));
  EXPECT_EQ(client_->Command({"GET", fresh})->str(), "new");
}

TEST_F(ClusterClientTest, TryAgainIsRetriedUntilTheMigrationEnds) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string a = KeyOn(0, "a");
  const std::string tag = a.substr(a.find('{'));
  const std::string b = absl::StrCat("b", tag);
  ASSERT_OK(client_->Command({"MSET", a, "1", b, "2"}).status());
  const int slot = KeySlot(a);
  ASSERT_OK(cluster_->BeginMigration(slot, 0, 1));
  ASSERT_OK(cluster_->MigrateKeys(slot, 0, 1, 1));  // one of the two
  // A multi-key command over a half-moved slot gets TRYAGAIN until the
  // migration ends.
  absl::StatusOr<Reply> mget;
  std::thread reader([&] {
    mget = client_->Command({"MGET", a, b}, absl::Seconds(10));
  });
  auto source = cluster_->NodeClient(0);
  ASSERT_TRUE(WaitUntil([&] {
    absl::StatusOr<Reply> stats = source->Command({"INFO", "errorstats"});
    return stats.ok() && absl::StrContains(stats->str(), "errorstat_TRYAGAIN");
  }));
  ASSERT_OK(cluster_->MigrateKeys(slot, 0, 1));
  ASSERT_OK(cluster_->FinishMigration(slot, 1));
  reader.join();
  ASSERT_OK(mget.status());
  ASSERT_EQ(mget->elements().size(), 2u);
  EXPECT_EQ(mget->elements()[0].str(), "1");
  EXPECT_EQ(mget->elements()[1].str(), "2");
  // Within a short timeout it gives up: Unavailable (retryable).
  ASSERT_OK(cluster_->BeginMigration(slot, 1, 2));
  ASSERT_OK(cluster_->MigrateKeys(slot, 1, 2, 1));
  EXPECT_THAT(client_->Command({"MGET", a, b}, absl::Milliseconds(50)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("TRYAGAIN")));
}

TEST_F(ClusterClientTest, APromotedReplicaTakesOver) {
  ASSERT_NO_FATAL_FAILURE(Start(/*replicas=*/1));
  const std::string key = KeyOn(0, "failover");
  ASSERT_OK(client_->Command({"SET", key, "kept"}).status());
  // Replicated before the primary dies.
  ASSERT_OK_AND_ASSIGN(Reply acked,
                       cluster_->NodeClient(0)->Command({"WAIT", "1", "2000"}));
  ASSERT_EQ(acked.integer(), 1);
  ASSERT_OK(cluster_->KillNode(0));
  const int replica = cluster_->ReplicaIndex(0, 0);
  ASSERT_OK(cluster_->Failover(replica));
  absl::StatusOr<Reply> get;
  ASSERT_TRUE(WaitUntil([&] {
    get = client_->Command({"GET", key});
    return get.ok();
  })) << get.status();
  EXPECT_EQ(get->str(), "kept");
  EXPECT_EQ(*client_->NodeOf(key), cluster_->node(replica).address());
  ASSERT_OK(client_->Command({"SET", key, "after"}).status());
  EXPECT_OK(client_->Ping());
}

TEST_F(ClusterClientTest, TrailingWaitsRunOnEveryNodeWrittenTo) {
  ASSERT_NO_FATAL_FAILURE(Start(/*replicas=*/1));
  const Script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  std::vector<Command> commands;
  for (int n = 0; n < 3; ++n) {
    commands.push_back(EvalShaCommand(script, {KeyOn(n, "w")}, {"1"}));
  }
  commands.push_back({"WAIT", "1", "2000"});
  for (int n = 0; n < 3; ++n) {
    ASSERT_OK(
        cluster_->NodeClient(n)->Command({"CONFIG", "RESETSTAT"}).status());
  }
  // First run: NOSCRIPT everywhere, loaded and re-run, WAIT again behind.
  ASSERT_OK_AND_ASSIGN(PipelineReplies r,
                       client_->PipelineScripts(commands, {&script}, 1));
  for (int n = 0; n < 3; ++n) EXPECT_EQ(r[n]->integer(), 1);
  EXPECT_EQ(r[3]->integer(), 1);
  for (int n = 0; n < 3; ++n) {
    ASSERT_OK_AND_ASSIGN(Reply stats, cluster_->NodeClient(n)->Command(
                                          {"INFO", "commandstats"}));
    EXPECT_THAT(stats.str(), HasSubstr("cmdstat_wait:calls=2,")) << n;
  }
  // With one replica gone, the minimum is 0.
  ASSERT_OK(cluster_->KillNode(cluster_->ReplicaIndex(2, 0)));
  commands.back() = {"WAIT", "1", "100"};
  ASSERT_OK_AND_ASSIGN(r, client_->PipelineScripts(commands, {&script}, 1));
  EXPECT_EQ(r[2]->integer(), 2);
  EXPECT_EQ(r[3]->integer(), 0);
}

int64_t WaitCalls(Client& node) {
  absl::StatusOr<Reply> stats = node.Command({"INFO", "commandstats"});
  if (!stats.ok()) return -1;
  const size_t at = stats->str().find("cmdstat_wait:calls=");
  if (at == std::string::npos) return 0;
  return std::stoll(stats->str().substr(at + 19));
}

TEST_F(ClusterClientTest, AReplicaWaitScopeWaitsOnEveryNodeWritten) {
  ASSERT_NO_FATAL_FAILURE(Start(/*replicas=*/1));
  const std::string a = KeyOn(0, "a");
  const std::string c = KeyOn(2, "c");
  const std::string b = KeyOn(1, "b");
  ASSERT_OK(client_->Command({"SET", b, "read-only"}).status());
  const Script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  for (int n = 0; n < 3; ++n) {
    ASSERT_OK(
        cluster_->NodeClient(n)->Command({"CONFIG", "RESETSTAT"}).status());
  }
  {
    ReplicaWaitScope wait({.replicas = 1, .timeout = absl::Seconds(1)});
    ASSERT_OK(client_->Pipeline({{"SET", a, "1"}, {"GET", b}}).status());
    ASSERT_OK(client_->Eval(script, {c}, {"2"}).status());
    // Reads alone wait for nothing.
    ASSERT_OK(client_->Command({"GET", b}).status());
    ASSERT_OK(client_->Pipeline({{"GET", a}, {"HGETALL", c}}).status());
    EXPECT_OK(wait.status());
    EXPECT_EQ(wait.waits(), 2);
  }
  // The pipeline's WAIT went to both nodes it touched (b's node took a
  // read in it); the script's to c's node only, twice (NOSCRIPT, loaded,
  // re-run with its WAIT behind).
  EXPECT_EQ(WaitCalls(*cluster_->NodeClient(0)), 1);
  EXPECT_EQ(WaitCalls(*cluster_->NodeClient(1)), 1);
  EXPECT_EQ(WaitCalls(*cluster_->NodeClient(2)), 2);
  // The replica has the script's write (READONLY: it answers reads).
  ASSERT_OK_AND_ASSIGN(PipelineReplies on_replica,
                       cluster_->NodeClient(cluster_->ReplicaIndex(2, 0))
                           ->Pipeline({{"READONLY"}, {"GET", c}}));
  ASSERT_OK(on_replica[1].status());
  EXPECT_EQ(on_replica[1]->str(), "2");

  // Without a scope, or with replicas 0: no WAIT.
  ASSERT_OK(client_->Command({"SET", a, "2"}).status());
  {
    ReplicaWaitScope none({.replicas = 0});
    ASSERT_OK(client_->Command({"SET", a, "3"}).status());
    EXPECT_EQ(ReplicaWaitScope::Current(), nullptr);
  }
  EXPECT_EQ(WaitCalls(*cluster_->NodeClient(0)), 1);

  // A write whose node lost its replica: the scope reports the shortfall,
  // an outer scope too, and a later good WAIT does not clear it.
  ASSERT_OK(cluster_->KillNode(cluster_->ReplicaIndex(2, 0)));
  ReplicaWaitScope outer({.replicas = 1, .timeout = absl::Seconds(1)});
  {
    ReplicaWaitScope inner({.replicas = 1, .timeout = absl::Milliseconds(50)});
    ASSERT_OK(client_->Eval(script, {c}, {"1"}).status());
    ASSERT_OK(client_->Command({"SET", a, "4"}).status());
    EXPECT_THAT(inner.status(),
                StatusIs(absl::StatusCode::kUnavailable, HasSubstr("0 of 1")));
  }
  EXPECT_THAT(outer.status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(outer.waits(), 2);
}

TEST_F(ClusterClientTest, PipelineOnEveryPrimaryAsksEachPrimary) {
  ASSERT_NO_FATAL_FAILURE(Start(/*replicas=*/1));
  ASSERT_OK_AND_ASSIGN(
      auto nodes, client_->PipelineOnEveryPrimary(
                      {{"CONFIG", "GET", "appendonly"}, {"CLUSTER", "MYID"}}));
  ASSERT_EQ(nodes.size(), 3u);
  std::set<std::string> ids;
  for (const auto& [address, replies] : nodes) {
    const int node = cluster_->IndexOf(address);
    EXPECT_GE(node, 0);
    EXPECT_LT(node, 3) << "a replica answered";
    ASSERT_OK(replies[1].status());
    EXPECT_EQ(replies[1]->str(), cluster_->NodeId(node));
    ids.insert(replies[1]->str());
  }
  EXPECT_EQ(ids.size(), 3u);
}

TEST_F(ClusterClientTest, PingFailsWhileAPrimaryIsDown) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_OK(client_->Ping());
  ASSERT_OK(cluster_->KillNode(1));
  EXPECT_THAT(client_->Ping(), StatusIs(absl::StatusCode::kUnavailable));
  // Keys of the other primaries still work.
  EXPECT_OK(client_->Command({"SET", KeyOn(0, "up"), "1"}).status());
}

TEST_F(ClusterClientTest, BlockingReadsDoNotPinTheCommandPool) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ClientOptions o = Options();
  o.pool_size = 1;
  o.blocking_pool_size = 1;
  auto client = Client::Create(o);
  const std::string stream = KeyOn(0, "stream");
  ASSERT_OK(client->Command({"XGROUP", "CREATE", stream, "g", "$", "MKSTREAM"})
                .status());
  absl::StatusOr<Reply> read;
  std::thread reader([&] {
    read = client->Command({"XREADGROUP", "GROUP", "g", "c", "BLOCK", "5000",
                            "STREAMS", stream, ">"},
                           absl::Seconds(6));
  });
  auto source = cluster_->NodeClient(0);
  ASSERT_TRUE(WaitUntil([&] {
    absl::StatusOr<Reply> info = source->Command({"INFO", "clients"});
    return info.ok() && absl::StrContains(info->str(), "blocked_clients:1");
  }));
  // The one command connection is free: this XADD wakes the reader.
  ASSERT_OK(client->Command({"XADD", stream, "*", "f", "v"}).status());
  reader.join();
  ASSERT_OK(read.status());
  EXPECT_EQ(read->elements().size(), 1u);
}

// One connection for commands and one for blocking reads.
class StandaloneBlockingPoolTest : public testing::RedisTest {
 protected:
  StandaloneBlockingPoolTest() : RedisTest({}, OneOfEach()) {}
  static ClientOptions OneOfEach() {
    ClientOptions o;
    o.pool_size = 1;
    o.blocking_pool_size = 1;
    return o;
  }
};

TEST_F(StandaloneBlockingPoolTest, BlockingReadsDoNotPinTheCommandPool) {
  Client* client = redis_.get();
  absl::StatusOr<Reply> read;
  std::thread reader([&] {
    read = client->Command({"XREAD", "BLOCK", "5000", "STREAMS", "s", "$"},
                           absl::Seconds(6));
  });
  auto observer = NewClient();
  ASSERT_TRUE(WaitUntil([&] {
    absl::StatusOr<Reply> info = observer->Command({"INFO", "clients"});
    return info.ok() && absl::StrContains(info->str(), "blocked_clients:1");
  }));
  ASSERT_OK(client->Command({"XADD", "s", "*", "f", "v"}).status());
  reader.join();
  ASSERT_OK(read.status());
  EXPECT_EQ(read->elements().size(), 1u);
}

}  // namespace
}  // namespace omnicx::redis
