// The slot function and command routing against Redis's own: CRC16 known
// values, and CLUSTER KEYSLOT of a real cluster-mode redis-server.
#include "libs/redis/slot.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/redis/client.h"
#include "libs/redis/cluster_routing.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/redis_test.h"

namespace omnicx::redis {
namespace {

using ::omnicx::status::StatusIs;

TEST(SlotTest, Crc16KnownValues) {
  EXPECT_EQ(Crc16("123456789"), 0x31C3);  // the XMODEM check value
  EXPECT_EQ(Crc16(""), 0);
  EXPECT_EQ(KeySlot("foo"), 12182);
  EXPECT_EQ(KeySlot("bar"), 5061);
  EXPECT_EQ(KeySlot("hello"), 866);
}

TEST(SlotTest, HashTags) {
  EXPECT_EQ(*HashTag("{user1000}.following"), "user1000");
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("{user1000}.followers"));
  EXPECT_EQ(KeySlot("a{b}c"), KeySlot("b"));
  EXPECT_FALSE(HashTag("a{}b").has_value());  // empty tag: whole key
  EXPECT_EQ(KeySlot("a{}b"), Crc16("a{}b") % 16384);
  EXPECT_EQ(*HashTag("{a}{b}"), "a");
  EXPECT_FALSE(HashTag("no-brace}").has_value());
  EXPECT_EQ(*PatternSlot("cx:t:{p:42}:*"), KeySlot("{p:42}"));
  EXPECT_FALSE(PatternSlot("cx:*:{p:42}:*").has_value());  // glob before tag
  EXPECT_FALSE(PatternSlot("cx:{p:*}").has_value());
  EXPECT_FALSE(PatternSlot("cx:*").has_value());
}

// A redis-server in cluster mode answers CLUSTER KEYSLOT.
class ClusterKeyslotTest : public testing::RedisTest {
 protected:
  ClusterKeyslotTest() : RedisTest({.cluster = true}) {}
};

TEST_F(ClusterKeyslotTest, MatchesClusterKeyslot) {
  std::vector<std::string> keys = {"",
                                   "a",
                                   "{",
                                   "}",
                                   "{}",
                                   "{x",
                                   "x}",
                                   "cx:default:{p:7}:profile",
                                   std::string("bin\0\xff{\x01}", 8)};
  for (int i = 0; i < 500; ++i) keys.push_back(absl::StrCat("key:", i * 7919));
  for (const std::string& key : keys) {
    ASSERT_OK_AND_ASSIGN(Reply r, redis_->Command({"CLUSTER", "KEYSLOT", key}));
    EXPECT_EQ(r.integer(), KeySlot(key)) << key;
  }
}

int SlotOf(const Command& c) {
  absl::StatusOr<CommandRoute> r = RouteOf(c);
  if (!r.ok() || r->kind != CommandRoute::Kind::kSlot) return -1;
  return r->slot;
}

TEST(RouteTest, KeysOfEachCommandShape) {
  EXPECT_EQ(SlotOf({"HSET", "k", "f", "v"}), KeySlot("k"));
  EXPECT_EQ(SlotOf({"evalsha", "sha", "2", "k1", "k2", "a"}), KeySlot("k1"));
  EXPECT_EQ(SlotOf({"EVALSHA", "sha", "0", "a"}), -1);
  EXPECT_EQ(SlotOf({"XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "BLOCK",
                    "100", "STREAMS", "s", ">"}),
            KeySlot("s"));
  EXPECT_EQ(SlotOf({"XINFO", "GROUPS", "s"}), KeySlot("s"));
  EXPECT_EQ(SlotOf({"XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"}),
            KeySlot("s"));
  EXPECT_EQ(SlotOf({"SCAN", "0", "MATCH", "cx:{p:1}:*", "COUNT", "10"}),
            KeySlot("p:1"));
  EXPECT_THAT(RouteOf({"SCAN", "0", "MATCH", "cx:*"}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(RouteOf({"KEYS", "*"}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  for (const Command& keyless : std::vector<Command>{{"PING"},
                                                     {"TIME"},
                                                     {"INFO", "memory"},
                                                     {"WAIT", "1", "10"},
                                                     {"CONFIG", "GET", "x"}}) {
    EXPECT_EQ(RouteOf(keyless)->kind, CommandRoute::Kind::kAnyNode);
  }
  EXPECT_EQ(RouteOf({"SCRIPT", "LOAD", "return 1"})->kind,
            CommandRoute::Kind::kEveryPrimary);
  EXPECT_TRUE(IsBlocking({"XREAD", "BLOCK", "0", "STREAMS", "s", "$"}));
  EXPECT_FALSE(IsBlocking({"XREAD", "STREAMS", "BLOCK", "0"}));  // a key
  EXPECT_TRUE(IsBlocking({"WAIT", "1", "0"}));
  EXPECT_FALSE(IsBlocking({"BLPOP", "l", "1"}));
}

TEST(RouteTest, Redirects) {
  std::optional<Redirect> moved =
      ParseRedirect("redis: MOVED 3999 1.2.3.4:7002");
  ASSERT_TRUE(moved.has_value());
  EXPECT_FALSE(moved->ask);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->address, "1.2.3.4:7002");
  std::optional<Redirect> ask = ParseRedirect("ASK 12 127.0.0.1:1");
  ASSERT_TRUE(ask.has_value());
  EXPECT_TRUE(ask->ask);
  EXPECT_FALSE(ParseRedirect("redis: ERR MOVED").has_value());
  EXPECT_FALSE(ParseRedirect("MOVED 99999 h:1").has_value());
}

}  // namespace
}  // namespace omnicx::redis
