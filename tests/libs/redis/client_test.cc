#include "libs/redis/client.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/redis_server.h"
#include "libs/testing/redis_test.h"
#include "libs/testing/wait.h"

namespace omnicx::redis {
namespace {

using ::omnicx::status::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

// Commands time out after 300 ms and reconnects back off at most 100 ms,
// so a stopped or paused server is noticed fast.
class ClientTest : public omnicx::testing::RedisTest {
 protected:
  ClientTest()
      : RedisTest({.appendonly = true,
                   .extra_args = {"--enable-debug-command", "yes"}},
                  FailFast()) {}
};

TEST_F(ClientTest, CommandsAndTypedReplies) {
  ASSERT_OK(redis_->Ping());
  ASSERT_OK_AND_ASSIGN(Reply set, redis_->Command({"SET", "k", "v"}));
  EXPECT_EQ(set.type(), Reply::Type::kStatus);
  EXPECT_EQ(set.str(), "OK");
  ASSERT_OK_AND_ASSIGN(Reply get, redis_->Command({"GET", "k"}));
  EXPECT_EQ(*get.AsString(), "v");
  ASSERT_OK_AND_ASSIGN(Reply missing, redis_->Command({"GET", "nope"}));
  EXPECT_TRUE(missing.is_nil());
  EXPECT_THAT(missing.AsString(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_OK_AND_ASSIGN(Reply n, redis_->Command({"INCRBY", "n", "41"}));
  EXPECT_EQ(*n.AsInteger(), 41);
  ASSERT_OK_AND_ASSIGN(Reply list, redis_->Command({"RPUSH", "l", "a", "b"}));
  ASSERT_OK_AND_ASSIGN(Reply range,
                       redis_->Command({"LRANGE", "l", "0", "-1"}));
  ASSERT_EQ(range.elements().size(), 2u);
  EXPECT_EQ(range.elements()[1].str(), "b");
  EXPECT_THAT(redis_->Command({"NOSUCHCOMMAND"}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("redis: ERR")));
  EXPECT_THAT(redis_->Command({"INCR", "k"}),
              StatusIs(absl::StatusCode::kInternal));
}

TEST_F(ClientTest, AReplicaWaitScopeWaitsBehindWritesOnly) {
  // No replica: WAIT 1 answers 0, a shortfall.
  ReplicaWaitScope wait({.replicas = 1, .timeout = absl::Milliseconds(10)});
  ASSERT_OK(redis_->Command({"GET", "k"}).status());
  ASSERT_OK(redis_->Pipeline({{"EXISTS", "k"}, {"XLEN", "s"}}).status());
  EXPECT_OK(wait.status());
  EXPECT_EQ(wait.waits(), 0);
  ASSERT_OK_AND_ASSIGN(PipelineReplies r,
                       redis_->Pipeline({{"SET", "k", "v"}, {"GET", "k"}}));
  ASSERT_EQ(r.size(), 2u);  // the WAIT's reply is the scope's
  EXPECT_EQ(r[1]->str(), "v");
  EXPECT_EQ(wait.waits(), 1);
  EXPECT_THAT(wait.status(), StatusIs(absl::StatusCode::kUnavailable,
                                      HasSubstr("0 of 1 acknowledged")));
}

TEST_F(ClientTest, PipelineOnEveryPrimaryIsTheOneNode) {
  ASSERT_OK_AND_ASSIGN(auto nodes, redis_->PipelineOnEveryPrimary(
                                       {{"CONFIG", "GET", "appendonly"}}));
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].first, redis_->address());
  EXPECT_EQ(nodes[0].second[0]->elements()[1].str(), "yes");
}

TEST_F(ClientTest, BinarySafeValues) {
  std::string value("a\0b\r\n\xff", 6);
  std::string big(1 << 20, 'x');
  big[12345] = '\0';
  ASSERT_OK(redis_->Command({"SET", std::string("key\0x", 5), value}).status());
  ASSERT_OK(redis_->Command({"SET", "big", big}).status());
  EXPECT_EQ(redis_->Command({"GET", std::string("key\0x", 5)})->str(), value);
  EXPECT_EQ(redis_->Command({"GET", "big"})->str(), big);
}

TEST_F(ClientTest, PipelineIsOneRoundTripWithPerCommandErrors) {
  std::vector<Command> commands;
  for (int i = 0; i < 1000; ++i) commands.push_back({"INCR", "counter"});
  commands.push_back({"HSET"});  // wrong arity: an error for this one only
  commands.push_back({"GET", "counter"});
  int round_trips = 0;
  ClientOptions o = FailFast();
  o.observer = [&](absl::string_view, absl::Duration, bool) { ++round_trips; };
  auto client = NewClient(o);
  ASSERT_OK_AND_ASSIGN(PipelineReplies replies, client->Pipeline(commands));
  ASSERT_EQ(replies.size(), 1002u);
  EXPECT_EQ(*replies[999]->AsInteger(), 1000);
  EXPECT_THAT(replies[1000], StatusIs(absl::StatusCode::kInternal));
  EXPECT_EQ(*replies[1001]->AsInteger(), 1000);
  EXPECT_EQ(round_trips, 1);
}

TEST_F(ClientTest, ScriptsReloadAfterFlush) {
  const Script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  ASSERT_OK_AND_ASSIGN(Reply first, redis_->Eval(script, {"s"}, {"2"}));
  EXPECT_EQ(first.integer(), 2);
  ASSERT_OK(redis_->Command({"SCRIPT", "FLUSH"}).status());
  ASSERT_OK_AND_ASSIGN(Reply second, redis_->Eval(script, {"s"}, {"3"}));
  EXPECT_EQ(second.integer(), 5);
  // In a pipeline only the NOSCRIPT commands are re-run.
  ASSERT_OK(redis_->Command({"SCRIPT", "FLUSH"}).status());
  ASSERT_OK_AND_ASSIGN(
      PipelineReplies r,
      redis_->PipelineScripts({{"INCR", "plain"},
                               EvalShaCommand(script, {"s"}, {"10"}),
                               {"INCR", "plain"}},
                              {&script}));
  EXPECT_EQ(r[0]->integer(), 1);
  EXPECT_EQ(r[1]->integer(), 15);
  EXPECT_EQ(r[2]->integer(), 2);
  EXPECT_EQ(script.sha1(),
            redis_->Command({"SCRIPT", "LOAD", script.source()})->str());
}

// A trailing WAIT must follow the writes of a re-run too (strict
// ingestion): after a reload it is sent again behind the re-run.
TEST_F(ClientTest, TrailingWaitsRunAgainBehindAReRun) {
  const Script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  ASSERT_OK(redis_->Command({"SCRIPT", "FLUSH"}).status());
  ASSERT_OK(redis_->Command({"CONFIG", "RESETSTAT"}).status());
  ASSERT_OK_AND_ASSIGN(
      PipelineReplies r,
      redis_->PipelineScripts(
          {EvalShaCommand(script, {"w"}, {"4"}), {"WAIT", "0", "0"}}, {&script},
          1));
  EXPECT_EQ(r[0]->integer(), 4);
  EXPECT_EQ(r[1]->integer(), 0);  // no replicas here
  ASSERT_OK_AND_ASSIGN(Reply stats, redis_->Command({"INFO", "commandstats"}));
  EXPECT_THAT(stats.str(), HasSubstr("cmdstat_wait:calls=2,"));
  // Without a reload it runs once.
  ASSERT_OK(redis_->Command({"CONFIG", "RESETSTAT"}).status());
  ASSERT_OK(redis_
                ->PipelineScripts(
                    {EvalShaCommand(script, {"w"}, {"1"}), {"WAIT", "0", "0"}},
                    {&script}, 1)
                .status());
  ASSERT_OK_AND_ASSIGN(stats, redis_->Command({"INFO", "commandstats"}));
  EXPECT_THAT(stats.str(), HasSubstr("cmdstat_wait:calls=1,"));
}

// A write that reaches a replica (the primary failed over) is retryable.
TEST_F(ClientTest, AWriteOnAReplicaIsUnavailable) {
  ASSERT_OK(redis_->Command({"REPLICAOF", "127.0.0.1", "1"}).status());
  EXPECT_THAT(redis_->Command({"SET", "k", "v"}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("READONLY")));
  ASSERT_OK(redis_->Command({"REPLICAOF", "NO", "ONE"}).status());
  EXPECT_OK(redis_->Command({"SET", "k", "v"}).status());
}

TEST_F(ClientTest, TimeoutIsUnavailableAndThePoolRecovers) {
  auto other = NewClient();
  // The server holds every client's commands for 1 s.
  ASSERT_OK(other->Command({"CLIENT", "PAUSE", "1000", "ALL"}).status());
  const absl::Time start = absl::Now();
  EXPECT_THAT(redis_->Command({"PING"}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("timeout")));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(800));
  EXPECT_TRUE(testing::WaitUntil([&] { return redis_->Ping().ok(); }));
}

// A connection's socket timeout is set when a call needs another one than
// it has, not on every call: a call with a longer timeout waits that long
// on the one connection of the pool, and the next call at the usual timeout
// on that same connection times out at the usual one again.
TEST_F(ClientTest, APerCallTimeoutAppliesToThatCallOnly) {
  ClientOptions o = FailFast();
  o.pool_size = 1;
  auto client = NewClient(o);
  ASSERT_OK(client->Command({"PING"}).status());
  // BLPOP blocks 0.6 s, longer than the usual 0.3 s timeout.
  const absl::Time start = absl::Now();
  ASSERT_OK_AND_ASSIGN(
      Reply r, client->Command({"BLPOP", "nothing", "0.6"}, absl::Seconds(2)));
  EXPECT_TRUE(r.is_nil());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(550));
  auto other = NewClient();
  ASSERT_OK(other->Command({"CLIENT", "PAUSE", "1500", "ALL"}).status());
  const absl::Time paused = absl::Now();
  EXPECT_THAT(client->Command({"PING"}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("timeout")));
  EXPECT_LT(absl::Now() - paused, absl::Milliseconds(1000));
}

TEST_F(ClientTest, RedisDownIsUnavailableFastAndReconnectsAfterRestart) {
  ASSERT_OK(redis_->Command({"SET", "persisted", "1"}).status());
  ASSERT_OK(redis_server_->Stop());
  const absl::Time start = absl::Now();
  EXPECT_THAT(redis_->Ping(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(redis_->Ping(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  ASSERT_OK(redis_server_->Restart());
  // Same Client object: reconnects within the backoff bound.
  absl::Status s;
  ASSERT_TRUE(omnicx::testing::WaitUntil(
      [&] {
        s = redis_->Ping();
        return s.ok();
      },
      absl::Seconds(3)))
      << s;
  EXPECT_EQ(redis_->Command({"GET", "persisted"})->str(), "1");  // AOF
}

TEST_F(ClientTest, ConcurrentCallersShareThePool) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i)
        ASSERT_OK(redis_->Command({"INCR", "c"}).status());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(*redis_->Command({"GET", "c"})->AsInteger(), 8000);
}

TEST_F(ClientTest, PoolExhaustionIsUnavailableWithinTheTimeout) {
  ClientOptions o = FailFast();
  o.pool_size = 1;
  o.command_timeout = absl::Milliseconds(200);
  auto client = NewClient(o);
  std::thread blocker([&] {
    (void)client->Command({"BLPOP", "never", "1"}, absl::Seconds(2));
  });
  // Until the BLPOP holds the pool's one connection.
  auto observer = NewClient();
  ASSERT_TRUE(testing::WaitUntil([&] {
    absl::StatusOr<Reply> info = observer->Command({"INFO", "clients"});
    return info.ok() &&
           info->str().find("blocked_clients:1") != std::string::npos;
  }));
  EXPECT_THAT(client->Ping(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("busy")));
  blocker.join();
  EXPECT_OK(client->Ping());
}

class ClientPasswordTest : public omnicx::testing::RedisTest {
 protected:
  ClientPasswordTest() : RedisTest({.password = "s3cret"}) {}
};

TEST_F(ClientPasswordTest, PasswordIsSentOnConnect) {
  ClientOptions o;
  o.port = redis_server_->port();
  EXPECT_THAT(Client::Create(o)->Ping(),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("NOAUTH")));
  o.password = "s3cret";
  EXPECT_OK(Client::Create(o)->Ping());
  o.password = "wrong";
  EXPECT_THAT(Client::Create(o)->Ping(),
              StatusIs(absl::StatusCode::kUnavailable));
}

// The suite's ACL users; redis_ is the operator (`default`).
class ClientAuthTest : public omnicx::testing::RedisTest {
 protected:
  ClientAuthTest()
      : RedisTest({.acl_passwords = testing::TestAclPasswords()},
                  AclUser("default")) {}
};

TEST_F(ClientAuthTest, AclUserIsSentWithItsPassword) {
  const auto passwords = testing::TestAclPasswords();
  ClientOptions o;
  o.port = redis_server_->port();
  // No anonymous access: the default user has a password.
  EXPECT_THAT(Client::Create(o)->Ping(),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("NOAUTH")));

  o.user = "journey";
  o.password = passwords.at("journey");
  auto journey = Client::Create(o);
  EXPECT_OK(journey->Ping());
  EXPECT_OK(journey->Command({"SET", "cx:t:k", "v"}).status());
  EXPECT_THAT(journey->Command({"FLUSHALL"}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("NOPERM")));

  // Password only: AUTH password, as the default (operator) user.
  ClientOptions operator_options;
  operator_options.port = o.port;
  operator_options.password = passwords.at("default");
  ASSERT_OK_AND_ASSIGN(
      Reply whoami,
      Client::Create(operator_options)->Command({"ACL", "WHOAMI"}));
  EXPECT_EQ(whoami.str(), "default");
}

TEST_F(ClientAuthTest, WrongPasswordIsAClearErrorWithoutThePassword) {
  ClientOptions o;
  o.port = redis_server_->port();
  o.user = "ingestion";
  o.password = "not-the-ingestion-password";
  absl::Status refused = Client::Create(o)->Ping();
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kUnavailable,
                                HasSubstr("AUTH as user \"ingestion\" "
                                          "refused: WRONGPASS")));
  EXPECT_THAT(std::string(refused.message()),
              Not(HasSubstr("not-the-ingestion-password")));
  // Another service's password is no key either.
  o.password = testing::TestAclPasswords().at("profile");
  EXPECT_THAT(Client::Create(o)->Ping(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("WRONGPASS")));
}

TEST(ErrorReplyStatusTest, Mapping) {
  EXPECT_THAT(ErrorReplyStatus("LOADING Redis is loading"),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(ErrorReplyStatus("BUSY Redis is busy running a script"),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(ErrorReplyStatus("OOM command not allowed"),
              StatusIs(absl::StatusCode::kResourceExhausted));
  for (const char* failover :
       {"READONLY You can't write against a read only replica.",
        "MISCONF Redis is configured to save RDB snapshots",
        "NOREPLICAS Not enough good replicas to write."}) {
    EXPECT_THAT(ErrorReplyStatus(failover),
                StatusIs(absl::StatusCode::kUnavailable));
  }
  EXPECT_THAT(
      ErrorReplyStatus("WRONGTYPE Operation"),
      StatusIs(absl::StatusCode::kInternal, "redis: WRONGTYPE Operation"));
}

// The fixture's server itself: AOF fsynced on every write, so a SIGKILL
// loses nothing, and a restart serves the same data on the same port.
class RedisServerTest : public omnicx::testing::RedisTest {
 protected:
  RedisServerTest()
      : RedisTest({.appendonly = true, .appendfsync = "always"}) {}
};

TEST_F(RedisServerTest, RestartKeepsAofDataAndKillStops) {
  ASSERT_OK(redis_->Command({"SET", "a", "1"}).status());
  ASSERT_OK(redis_server_->Kill());
  EXPECT_FALSE(redis_server_->running());
  ASSERT_OK(redis_server_->Restart());
  absl::StatusOr<Reply> r;
  ASSERT_TRUE(omnicx::testing::WaitUntil([&] {
    r = redis_->Command({"GET", "a"});
    return r.ok();
  })) << r.status();
  EXPECT_EQ(r->str(), "1");
}

}  // namespace
}  // namespace omnicx::redis
