// The Redis ACL users of helm/omnicx/files/redis-acl.conf against a real
// redis-server running the rendered file: each service user can run what its
// service sends (representative commands, and Lua scripts whose redis.calls
// are checked too), and nothing dangerous, nor any key outside cx:*.
// tests/services/* run the services' own Redis paths under these users.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/redis/client.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/redis_server.h"
#include "libs/testing/redis_test.h"

namespace omnicx::redis {
namespace {

using ::omnicx::status::StatusIs;
using ::omnicx::testing::RedisServer;
using ::omnicx::testing::TestAclPasswords;
using ::testing::HasSubstr;

constexpr const char* kServices[] = {"ingestion", "profile", "journey",
                                     "recommendation"};

// redis_ is the operator (`default`, with its ACL password).
class AclTest : public omnicx::testing::RedisTest {
 protected:
  // DEBUG enabled, so that the ACL is what refuses it.
  AclTest()
      : RedisTest({.acl_passwords = TestAclPasswords(),
                   .extra_args = {"--enable-debug-command", "yes"}},
                  Operator()) {}

  static ClientOptions Operator() {
    ClientOptions o;
    o.password = TestAclPasswords().at("default");
    return o;
  }

  std::unique_ptr<Client> As(const std::string& user) {
    ClientOptions o;
    o.port = redis_server_->port();
    o.user = user;
    o.password = TestAclPasswords().at(user);
    return Client::Create(o);
  }

  // Every command must succeed; names the failing one.
  void ExpectAllowed(Client& client, const std::vector<Command>& commands) {
    for (const Command& c : commands) {
      absl::StatusOr<Reply> r = client.Command(c);
      EXPECT_TRUE(r.ok()) << c[0] << " " << (c.size() > 1 ? c[1] : "") << ": "
                          << r.status();
    }
  }
};

TEST_F(AclTest, EveryServiceUserRunsStreamsScriptsAndPingOnCxKeys) {
  // The script's own redis.calls are checked against the caller's ACL.
  static const Script kTouch(R"lua(
    return redis.call('HSET', KEYS[1], 'f', ARGV[1])
  )lua");
  for (const char* user : kServices) {
    SCOPED_TRACE(user);
    auto c = As(user);
    EXPECT_OK(c->Ping());
    const std::string stream = absl::StrCat("cx:default:{rv:0}:", user);
    ExpectAllowed(*c, {{"XGROUP", "CREATE", stream, "g", "0", "MKSTREAM"},
                       {"XADD", stream, "*", "e", "x"},
                       {"XPENDING", stream, "g"}});
    // First run: NOSCRIPT, SCRIPT LOAD, EVALSHA again.
    ASSERT_OK_AND_ASSIGN(
        Reply r, c->Eval(kTouch, {absl::StrCat("cx:default:h:", user)}, {"v"}));
    EXPECT_EQ(r.integer(), 1);
  }
}

TEST_F(AclTest, EachServiceUserRunsWhatItsServiceSends) {
  auto ingestion = As("ingestion");
  ExpectAllowed(
      *ingestion,
      {{"XADD", "cx:default:{ev:0}:stream", "*", "e", "x"},
       {"XLEN", "cx:default:{ev:0}:stream"},
       {"XGROUP", "CREATE", "cx:default:{ev:0}:stream", "profile", "0"},
       {"XINFO", "GROUPS", "cx:default:{ev:0}:stream"},
       {"XTRIM", "cx:default:{ev:0}:stream", "MINID", "~", "0"},
       {"CONFIG", "GET", "appendfsync"},
       {"WAIT", "0", "10"}});
  static const Script kAppend(R"lua(
    local t = redis.call('TIME')
    redis.call('HMGET', KEYS[1], 'a')
    redis.call('HSET', KEYS[1], 'a', '1')
    redis.call('PEXPIREAT', KEYS[1], (t[1] + 60) * 1000, 'NX')
    return redis.call('XADD', KEYS[2], '*', 'e', ARGV[1])
  )lua");
  EXPECT_OK(ingestion
                ->Eval(kAppend,
                       {"cx:default:{ev:1}:dd:1", "cx:default:{ev:1}:stream"},
                       {"x"})
                .status());

  auto profile = As("profile");
  ExpectAllowed(
      *profile,
      {{"HINCRBYFLOAT", "cx:default:{p:1}:c:r1:profile", "ltv", "1.5"},
       {"RPUSH", "cx:default:{p:1}:c:r1:tl", "x"},
       {"ZADD", "cx:default:{p:1}:c:r1:z", "1", "m"},
       {"SCAN", "0", "MATCH", "cx:default:{p:1}:c:r1:*", "COUNT", "100"},
       {"XRANGE", "cx:default:{ev:0}:stream", "-", "+"},
       {"UNLINK", "cx:default:{p:1}:c:r1:tl"},
       {"WAIT", "0", "10"}});

  auto journey = As("journey");
  ExpectAllowed(*journey,
                {{"HINCRBY", "cx:default:pain", "t", "1"},
                 {"SCARD", "cx:default:merged"},
                 {"EXPIRE", "cx:default:pain", "60"},
                 {"XINFO", "GROUPS", "cx:default:{ev:0}:stream"},
                 {"XTRIM", "cx:default:{ev:0}:stream", "MINID", "~", "0"},
                 {"ZADD", "cx:default:{p:1}:due", "1", "c"},
                 {"ZRANGEBYSCORE", "cx:default:{p:1}:due", "-inf", "2"},
                 {"ZSCORE", "cx:default:{p:1}:due", "c"},
                 {"ZREM", "cx:default:{p:1}:due", "c"},
                 {"WAIT", "0", "10"}});

  auto recommendation = As("recommendation");
  ExpectAllowed(*recommendation, {{"HSET", "cx:default:catalog", "a", "1"},
                                  {"HEXISTS", "cx:default:catalog", "a"},
                                  {"HDEL", "cx:default:catalog", "a"},
                                  {"SADD", "cx:default:hold", "a"},
                                  {"PEXPIRE", "cx:default:hold", "60000"},
                                  {"PTTL", "cx:default:hold"},
                                  {"HLEN", "cx:default:catalog"},
                                  {"ZCOUNT", "cx:default:held", "0", "+inf"},
                                  {"ZRANGEBYSCORE", "cx:default:held", "0",
                                   "+inf", "WITHSCORES"},
                                  {"WAIT", "0", "10"}});
}

TEST_F(AclTest, DangerousCommandsAndKeysOutsideCxAreRefused) {
  static const Script kOutside(R"lua(
    return redis.call('GET', KEYS[1])
  )lua");
  static const Script kFlush(R"lua(
    return redis.call('FLUSHALL')
  )lua");
  const std::vector<Command> dangerous = {
      {"FLUSHALL"},
      {"FLUSHDB"},
      {"CONFIG", "SET", "appendfsync", "no"},
      {"CONFIG", "REWRITE"},
      {"KEYS", "*"},
      {"DEBUG", "SLEEP", "0"},
      {"SHUTDOWN", "NOSAVE"},
      {"ACL", "LIST"},
      {"ACL", "SETUSER", "x", "on", "+@all"},
      {"MODULE", "LIST"},
      {"CLIENT", "LIST"},
      {"REPLICAOF", "NO", "ONE"},
      {"SCRIPT", "FLUSH"},
      {"EVAL", "return 1", "0"},
      {"SORT", "cx:default:l"},
      {"PUBLISH", "c", "m"},
      {"GET", "outside"},
      {"SET", "other:key", "v"}};
  for (const char* user : kServices) {
    SCOPED_TRACE(user);
    auto c = As(user);
    for (const Command& command : dangerous) {
      EXPECT_THAT(c->Command(command),
                  StatusIs(absl::StatusCode::kInternal, HasSubstr("NOPERM")))
          << command[0];
    }
    // Inside a script too: its keys, and each command it calls.
    EXPECT_THAT(c->Eval(kOutside, {"outside"}, {}),
                StatusIs(absl::StatusCode::kInternal, HasSubstr("NOPERM")));
    EXPECT_THAT(c->Eval(kFlush, {"cx:default:x"}, {}),
                StatusIs(absl::StatusCode::kInternal,
                         HasSubstr("can't run this command")));
  }
  // The server survived all of it, and the operator sees every refusal.
  ASSERT_OK_AND_ASSIGN(Reply log, redis_->Command({"ACL", "LOG"}));
  EXPECT_FALSE(log.elements().empty());
}

TEST_F(AclTest, CommandsOfOtherServicesAreNotGranted) {
  // Least privilege per service, not one shared list: a sample of commands
  // only one service sends.
  EXPECT_THAT(As("journey")->Command({"CONFIG", "GET", "appendfsync"}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("NOPERM")));
  // Its applied ids live in its state: no lists.
  EXPECT_THAT(As("journey")->Command({"LPUSH", "cx:default:x", "a"}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("NOPERM")));
  EXPECT_THAT(As("recommendation")->Command({"SCAN", "0"}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("NOPERM")));
  EXPECT_THAT(As("ingestion")->Command({"DEL", "cx:default:x"}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("NOPERM")));
  EXPECT_THAT(As("profile")->Command({"CONFIG", "GET", "appendfsync"}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("NOPERM")));
}

TEST(RenderRedisAclTest, HashesPasswordsAndDropsComments) {
  ASSERT_OK_AND_ASSIGN(std::string acl,
                       testing::RenderRedisAcl(
                           "# how to render\n\nuser a on #@a_password_sha256@"
                           " ~cx:* -@all +get\n",
                           {{"a", "abc"}}));
  // SHA-256("abc").
  EXPECT_EQ(acl,
            "user a on "
            "#ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            " ~cx:* -@all +get\n");
  EXPECT_THAT(testing::RenderRedisAcl("user b on #@b_password_sha256@\n",
                                      {{"a", "abc"}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace omnicx::redis
