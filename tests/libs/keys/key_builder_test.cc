#include "libs/keys/key_builder.h"

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/keys/digest.h"
#include "libs/status/status_matchers.h"

namespace omnicx::keys {
namespace {

using ::omnicx::status::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// What Redis Cluster hashes: the text between the first '{' and the next
// '}' (when non-empty), else the whole key.
std::string ClusterHashTag(const std::string& key) {
  const size_t open = key.find('{');
  if (open == std::string::npos) return key;
  const size_t close = key.find('}', open + 1);
  if (close == std::string::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

std::vector<std::string> HostileIds() {
  std::vector<std::string> ids = {
      "plain",
      "a:b",
      "a}b",
      "{a}",
      "}{",
      "x}:profile",
      "c:{x}",
      "line\nbreak",
      "tab\tid",
      " spaced ",
      "%41",
      "A",
      "a",
      "",
      "h",
      "r",
      std::string("nul\0byte", 8),
      "\xff\xfe",
      "../../etc",
      "*",
      "cx:default:{c:rplain}:profile",
  };
  ids.push_back(std::string(10 * 1024, 'x'));
  ids.push_back(std::string(10 * 1024, 'x') + "y");
  ids.push_back(std::string(10 * 1024, '}'));
  ids.push_back(std::string(96, 'q'));                   // longest raw form
  ids.push_back(std::string(97, 'q'));                   // shortest hashed form
  ids.push_back("h" + Sha256Hex(std::string(97, 'q')));  // looks hashed
  return ids;
}

TEST(KeyBuilderTest, RejectsBadTenants) {
  EXPECT_THAT(KeyBuilder::Create(""),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(KeyBuilder::Create("Acme"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("a-z")));
  EXPECT_THAT(KeyBuilder::Create("a:b"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(KeyBuilder::Create(std::string(33, 'a')),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(KeyBuilder::Create("default"));
}

TEST(KeyBuilderTest, ExactLayout) {
  ASSERT_OK_AND_ASSIGN(KeyBuilder keys, KeyBuilder::Create("default"));
  // Partition = first 8 bytes of SHA-256 of the id, big-endian, mod 1024.
  EXPECT_EQ(KeyBuilder::Partition("c_123"), 986);
  EXPECT_EQ(KeyBuilder::Partition("a:b"), 204);
  EXPECT_EQ(KeyBuilder::PartitionTag(986), "{p:986}");
  EXPECT_EQ(keys.Profile("c_123"), "cx:default:{p:986}:c:rc_123:profile");
  EXPECT_EQ(keys.Profile("a:b"), "cx:default:{p:204}:c:ra%3Ab:profile");
  EXPECT_EQ(keys.CustomerKeyPattern("c_123"), "cx:default:{p:986}:c:rc_123:*");
  EXPECT_EQ(keys.ErasedCustomer("c_123"),
            "cx:default:{p:986}:erased:"
            "4ad5f175f12fa7da7c135d03d4760dfc350dea1fa409d0c08dcdf022a89aed55");
  EXPECT_EQ(keys.EventShard(3), "cx:default:{ev:3}:stream");
  EXPECT_EQ(keys.ResolvedShard(3), "cx:default:{rv:3}:stream");
  EXPECT_EQ(keys.DedupBucket(3, 2863), "cx:default:{ev:3}:dd:2863");
  EXPECT_EQ(keys.Catalog(), "cx:default:catalog");
  EXPECT_EQ(keys.AuditStream(), "cx:default:{audit}:stream");
  EXPECT_EQ(EncodeId(std::string(97, 'q')),
            "h" + Sha256Hex(std::string(97, 'q')));
}

TEST(KeyBuilderTest, HostileIdsNeitherEscapeNorCollide) {
  ASSERT_OK_AND_ASSIGN(KeyBuilder keys, KeyBuilder::Create("default"));
  std::set<std::string> seen;
  const std::vector<std::string> ids = HostileIds();
  for (const std::string& id : ids) {
    const std::string enc = EncodeId(id);
    EXPECT_EQ(enc.find_first_of(":{}\r\n\t \0"), std::string::npos)
        << "encoding leaks a separator for id of size " << id.size();
    EXPECT_LE(enc.size(), 1 + 96 * 3u);
    const int partition = KeyBuilder::Partition(id);
    EXPECT_GE(partition, 0);
    EXPECT_LT(partition, kPartitions);
    const std::string stem = keys.CustomerKey(id, "");
    EXPECT_EQ(stem,
              absl::StrCat("cx:default:{p:", partition, "}:c:", enc, ":"));
    for (const std::string& key :
         {keys.Profile(id), keys.Timeline(id), keys.Journey(id),
          keys.Consents(id), keys.ConsentLog(id),
          keys.NbaDecisions(id)}) {
      EXPECT_THAT(key, StartsWith(stem));
      // Every key of the customer hashes to the same cluster slot.
      EXPECT_EQ(ClusterHashTag(key), absl::StrCat("p:", partition));
      EXPECT_TRUE(seen.insert(key).second) << "collision on " << key;
    }
    // The tombstone is in the slot, but outside the customer's keys.
    EXPECT_EQ(ClusterHashTag(keys.ErasedCustomer(id)),
              absl::StrCat("p:", partition));
    EXPECT_THAT(keys.ErasedCustomer(id), Not(StartsWith(stem)));
    EXPECT_TRUE(seen.insert(keys.IdentityIndex(id)).second);
  }
}

TEST(KeyBuilderTest, TenantsAreSeparated) {
  ASSERT_OK_AND_ASSIGN(KeyBuilder a, KeyBuilder::Create("a"));
  ASSERT_OK_AND_ASSIGN(KeyBuilder b, KeyBuilder::Create("b"));
  EXPECT_NE(a.Profile("x"), b.Profile("x"));
  EXPECT_EQ(a.AuditStream(), "cx:a:{audit}:stream");
  EXPECT_EQ(b.AuditStream(), "cx:b:{audit}:stream");
  EXPECT_THAT(a.Profile("x"), StartsWith(a.prefix()));
}

TEST(DigestTest, KnownVectors) {
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231 test case 2.
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(StableHash64("abc"), 0xba7816bf8f01cfeaULL);
}

// The HMAC context is kept per thread and keyed once; a call with another
// secret must re-key it, and a call with the first secret again must not
// see the second key.
TEST(DigestTest, HmacFollowsTheSecretFromCallToCall) {
  const std::string rfc4231_case1_key(20, '\x0b');
  const std::string case1 =
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
  const std::string case2 =
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(HmacSha256Hex(rfc4231_case1_key, "Hi There"), case1);
    EXPECT_EQ(HmacSha256Hex(rfc4231_case1_key, "Hi There"), case1);
    EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"), case2);
  }
  std::string from_other_thread;
  std::thread([&] {
    from_other_thread = HmacSha256Hex("Jefe", "what do ya want for nothing?");
  }).join();
  EXPECT_EQ(from_other_thread, case2);
}

}  // namespace
}  // namespace omnicx::keys
