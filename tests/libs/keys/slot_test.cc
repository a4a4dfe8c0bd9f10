// The key layout against Redis Cluster's own slot function: a real
// redis-server in cluster mode answers CLUSTER KEYSLOT. Everything one commit
// for a customer touches (every per-customer key kind and the erased-customer
// tombstone) must be in one slot; each stream shard with its dedup buckets
// too. A plain redis-server checks that a customer's SCAN pattern matches
// their keys and nobody else's, even in the same partition.
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
#include "libs/testing/redis_server.h"
#include "libs/testing/redis_test.h"

namespace omnicx::keys {
namespace {

using ::testing::UnorderedElementsAreArray;

// Keys are checked against a Redis in cluster mode (CLUSTER KEYSLOT).
class SlotTest : public testing::RedisTest {
 protected:
  SlotTest() : RedisTest({.cluster = true}) {}

  static std::unique_ptr<redis::Client> Connect(int port) {
    redis::ClientOptions o;
    o.port = port;
    auto client = redis::Client::Create(o);
    EXPECT_NE(client, nullptr);
    return client;
  }

  int Slot(const std::string& key) {
    absl::StatusOr<redis::Reply> r =
        redis_->Command({"CLUSTER", "KEYSLOT", key});
    EXPECT_OK(r.status()) << key;
    return r.ok() ? static_cast<int>(r->integer()) : -1;
  }

  // Every per-customer key kind of `cid`, and its tombstone.
  static std::vector<std::string> CustomerKeys(const KeyBuilder& k,
                                               const std::string& cid) {
    return {k.Profile(cid),       k.Identities(cid), k.Claims(cid),
            k.Timeline(cid),      k.Traits(cid),     k.Consents(cid),
            k.ConsentLog(cid),    k.Journey(cid),    k.Recommendations(cid),
            k.NbaShown(cid),      k.NbaHeld(cid),    k.NbaCooldowns(cid),
            k.NbaDecisions(cid),  k.NbaMerged(cid),  k.MergedInto(cid),
            k.MergedIds(cid),     k.Links(cid),      k.Context(cid),
            k.ErasedCustomer(cid)};
  }

  KeyBuilder keys_ = *KeyBuilder::Create("default");
};

TEST_F(SlotTest, KnownSlotsFromRedis) {
  // Redis Cluster specification's CRC16 check value, and hash tags.
  EXPECT_EQ(Slot("123456789"), 12739);
  EXPECT_EQ(Slot("a{p:7}b"), Slot("{p:7}"));
}

TEST_F(SlotTest, EveryKeyOfACustomerAndItsTombstoneShareOneSlot) {
  for (const std::string& cid :
       {std::string("c_123"), std::string("a:b"), std::string("x}{p:1}"),
        std::string("line\nbreak"), std::string(200, 'z')}) {
    const int slot = Slot(absl::StrCat(
        "x", KeyBuilder::PartitionTag(KeyBuilder::Partition(cid))));
    for (const std::string& key : CustomerKeys(keys_, cid)) {
      EXPECT_EQ(Slot(key), slot) << key;
    }
  }
}

TEST_F(SlotTest, EachAggregateShardIsOneSlotOfItsOwn) {
  std::set<int> slots;
  for (int g = 0; g < kAggregateShards; ++g) {
    const int slot = Slot(keys_.AggregateShard(g, "ckpt"));
    EXPECT_EQ(Slot(keys_.AggregateShard(g, "pain")), slot);
    EXPECT_EQ(Slot(keys_.AggregateShard(g, "funnel:2026-12-05")), slot);
    slots.insert(slot);
  }
  EXPECT_EQ(slots.size(), static_cast<size_t>(kAggregateShards));
}

TEST_F(SlotTest, EveryPartitionHasItsOwnSlot) {
  std::set<int> slots;
  for (int p = 0; p < kPartitions; ++p) {
    slots.insert(Slot(KeyBuilder::PartitionTag(p)));
  }
  EXPECT_EQ(slots.size(), static_cast<size_t>(kPartitions));
  // So two customers in different partitions are in different slots.
  ASSERT_NE(KeyBuilder::Partition("c_123"), KeyBuilder::Partition("a:b"));
  EXPECT_NE(Slot(keys_.Profile("c_123")), Slot(keys_.Profile("a:b")));
  EXPECT_NE(Slot(keys_.ErasedCustomer("c_123")),
            Slot(keys_.ErasedCustomer("a:b")));
}

TEST_F(SlotTest, EachStreamShardSitsInOneSlotWithItsDedupBuckets) {
  std::set<int> event_slots;
  for (int shard = 0; shard < 64; ++shard) {
    const int slot = Slot(keys_.EventShard(shard));
    EXPECT_EQ(Slot(keys_.DedupBucket(shard, 0)), slot);
    EXPECT_EQ(Slot(keys_.DedupBucket(shard, 2863)), slot);
    EXPECT_EQ(Slot(keys_.DedupBucket(shard, 1LL << 40)), slot);
    event_slots.insert(slot);
  }
  EXPECT_EQ(event_slots.size(), 64u);  // shards spread over the cluster
  for (int shard = 0; shard < 64; ++shard) {
    EXPECT_EQ(Slot(keys_.ResolvedShard(shard)),
              Slot(absl::StrCat("{rv:", shard, "}")));
  }
}

// Ids chosen so that their encodings are prefixes of each other, all in one
// partition: a customer's pattern must match only that customer's keys.
TEST_F(SlotTest, ACustomersPatternMatchesOnlyTheirKeys) {
  auto plain_server = testing::RedisServer::Start();
  ASSERT_OK(plain_server.status());
  std::unique_ptr<redis::Client> plain = Connect((*plain_server)->port());
  // "a", then ids starting with "a" in the same partition as "a".
  const int partition = KeyBuilder::Partition("a");
  std::vector<std::string> ids = {"a"};
  for (int i = 0; ids.size() < 4 && i < 100000; ++i) {
    const std::string id = absl::StrCat("a", i);
    if (KeyBuilder::Partition(id) == partition) ids.push_back(id);
  }
  ASSERT_EQ(ids.size(), 4u);
  ids.push_back(ids[1] + ":x");  // encodes as <ids[1]>%3Ax
  for (int i = 0; i < 100000 && KeyBuilder::Partition(ids.back()) != partition;
       ++i) {
    ids.back() = absl::StrCat(ids[1], ":", i);
  }
  ASSERT_EQ(KeyBuilder::Partition(ids.back()), partition);
  std::map<std::string, std::vector<std::string>> written;
  for (const std::string& id : ids) {
    for (const std::string& key : CustomerKeys(keys_, id)) {
      ASSERT_OK(plain->Command({"SET", key, "1"}).status());
      if (key != keys_.ErasedCustomer(id)) written[id].push_back(key);
    }
  }
  for (const std::string& id : ids) {
    ASSERT_OK_AND_ASSIGN(
        redis::Reply found,
        plain->Command({"KEYS", keys_.CustomerKeyPattern(id)}));
    std::vector<std::string> names;
    for (const redis::Reply& k : found.elements()) names.push_back(k.str());
    EXPECT_THAT(names, UnorderedElementsAreArray(written[id])) << id;
  }
}

}  // namespace
}  // namespace omnicx::keys
