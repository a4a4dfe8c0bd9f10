// Write keys file: parsing, lookup by hash, origins.
#include "services/ingestion/write_keys.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/keys/digest.h"
#include "libs/status/status_matchers.h"

namespace omnicx::ingestion {
namespace {

using ::testing::HasSubstr;

std::string Entry(const std::string& key, const std::string& extra = "") {
  return "  - name: n-" + key + "\n    sha256: " + keys::Sha256Hex(key) +
         "\n    tenant: default\n    source: web\n" + extra;
}

TEST(WriteKeysTest, ParsesAndFindsByHash) {
  ASSERT_OK_AND_ASSIGN(
      WriteKeySet set,
      WriteKeySet::Parse(
          "write_keys:\n" +
              Entry("k1",
                    "    default_channel: mobile_app\n"
                    "    allowed_origins: [\"https://a.example\"]\n"
                    "    trusted_identities: true\n") +
              Entry("k2", "    allowed_origins: [\"*\"]\n"),
          "keys.yaml"));
  EXPECT_EQ(set.size(), 2u);
  const WriteKeyGrant* g = set.Find("k1");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->name, "n-k1");
  EXPECT_EQ(g->source, "web");
  EXPECT_EQ(g->default_channel, omnicx::v1::CHANNEL_MOBILE_APP);
  EXPECT_TRUE(g->trusted_identities);
  EXPECT_TRUE(OriginAllowed(*g, "https://a.example"));
  EXPECT_FALSE(OriginAllowed(*g, "https://b.example"));
  EXPECT_EQ(set.Find("k2")->default_channel, omnicx::v1::CHANNEL_WEB);
  EXPECT_FALSE(set.Find("k2")->trusted_identities);
  EXPECT_TRUE(set.AnyAllows("https://anything.example"));
  EXPECT_EQ(set.Find("k3"), nullptr);
  EXPECT_EQ(set.Find(""), nullptr);
}

TEST(WriteKeysTest, ErrorsNameTheEntry) {
  auto error = [](const std::string& yaml) {
    return WriteKeySet::Parse(yaml, "keys.yaml").status();
  };
  EXPECT_THAT(
      error("write_keys:\n" + Entry("k", "    colour: red\n")),
      status::StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("write_keys[0]: unknown field `colour`")));
  EXPECT_THAT(error("write_keys:\n  - name: x\n    sha256: abc\n"),
              status::StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("`sha256` must be 64")));
  EXPECT_THAT(error("write_keys:\n" + Entry("k", "    default_channel: fax\n")),
              status::StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("default_channel")));
  EXPECT_THAT(error("write_keys:\n" + Entry("k") + Entry("k")),
              status::StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("write_keys[1]")));
  EXPECT_THAT(
      error("write_keys:\n  - name: x\n    sha256: " + keys::Sha256Hex("k") +
            "\n    tenant: default\n    source: Bad Source\n"),
      status::StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("`source`")));
  EXPECT_THAT(error("keys: []"),
              status::StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("unknown field `keys`")));
  EXPECT_THAT(WriteKeySet::Load("/nonexistent/keys.yaml").status(),
              status::StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("write_keys_file")));
}

}  // namespace
}  // namespace omnicx::ingestion
