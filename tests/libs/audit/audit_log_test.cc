#include "libs/audit/audit_log.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/keys/digest.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/redis_test.h"

namespace omnicx::audit {
namespace {

using ::omnicx::status::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::string_view kSecret = "0123456789abcdef-audit-test";
constexpr absl::string_view kCustomer = "cust-jane.doe@example.com";

auth::Principal Admin(std::string tenant = "default") {
  return {.tenant = std::move(tenant),
          .role = auth::Role::kAdmin,
          .name = "ops-anna"};
}

class AuditLogTest : public testing::RedisTest {
 protected:
  // Small stream nodes so that approximate trimming lands close to N.
  AuditLogTest()
      : RedisTest({.extra_args = {"--stream-node-max-entries", "10"}}) {}

  std::unique_ptr<AuditLog> Log(absl::string_view tenant,
                                int64_t max_entries = 1000,
                                std::string secret = std::string(kSecret)) {
    absl::StatusOr<keys::KeyBuilder> keys = keys::KeyBuilder::Create(tenant);
    EXPECT_OK(keys);
    absl::StatusOr<std::unique_ptr<AuditLog>> log =
        AuditLog::Create(redis_.get(), *keys,
                         {.max_entries = max_entries,
                          .customer_secret = std::move(secret),
                          .clock = [this] { return now_; }});
    EXPECT_OK(log);
    return std::move(*log);
  }

  // Every field of every entry of `key`, oldest first.
  std::vector<std::map<std::string, std::string>> Entries(
      const std::string& key) {
    std::vector<std::map<std::string, std::string>> out;
    absl::StatusOr<redis::Reply> r = redis_->Command({"XRANGE", key, "-", "+"});
    EXPECT_OK(r);
    for (const redis::Reply& e : r->elements()) {
      std::map<std::string, std::string> fields;
      const auto& kv = e.elements()[1].elements();
      for (size_t i = 0; i + 1 < kv.size(); i += 2) {
        fields[kv[i].str()] = kv[i + 1].str();
      }
      out.push_back(std::move(fields));
    }
    return out;
  }

  // Every byte Redis holds, as the AOF-independent DUMP of every key plus
  // the stream's fields, to look for a raw id anywhere.
  std::string EverythingStored() {
    std::string all;
    absl::StatusOr<redis::Reply> keys = redis_->Command({"KEYS", "*"});
    EXPECT_OK(keys);
    for (const redis::Reply& k : keys->elements()) {
      absl::StrAppend(&all, k.str(), "\n");
      absl::StatusOr<redis::Reply> dump = redis_->Command({"DUMP", k.str()});
      EXPECT_OK(dump);
      absl::StrAppend(&all, dump->str(), "\n");
      for (const auto& entry : Entries(k.str())) {
        for (const auto& [name, value] : entry) {
          absl::StrAppend(&all, name, "=", value, "\n");
        }
      }
    }
    return all;
  }

  absl::Time now_ = absl::FromUnixMillis(1796428800123);  // 2026-12-05
};

TEST_F(AuditLogTest, WritesTheExactFields) {
  std::unique_ptr<AuditLog> log = Log("default");
  ASSERT_OK(log->Record(Admin(), "erase", kCustomer));
  now_ += absl::Seconds(1);
  auth::Principal internal{.tenant = "default",
                           .role = auth::Role::kInternal,
                           .name = "profile",
                           .on_behalf_of = "agent-7"};
  ASSERT_OK(log->Record(internal, "consent", kCustomer,
                        "purpose=marketing granted=false"));
  ASSERT_OK(log->Record(Admin(), "catalog_upsert", "", "action_id=winback"));

  const std::string hash = keys::HmacSha256Hex(
      kSecret, absl::StrCat("omnicx-audit-customer:", kCustomer));
  EXPECT_EQ(log->CustomerHash(kCustomer), hash);
  EXPECT_EQ(log->stream_key(), "cx:default:{audit}:stream");
  const auto entries = Entries("cx:default:{audit}:stream");
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0], (std::map<std::string, std::string>{
                            {"ts", "2026-12-05T00:00:00.123Z"},
                            {"tenant", "default"},
                            {"actor", "ops-anna"},
                            {"role", "admin"},
                            {"action", "erase"},
                            {"customer", hash},
                            {"detail", ""}}));
  EXPECT_EQ(entries[1], (std::map<std::string, std::string>{
                            {"ts", "2026-12-05T00:00:01.123Z"},
                            {"tenant", "default"},
                            {"actor", "profile (for agent-7)"},
                            {"role", "internal"},
                            {"action", "consent"},
                            {"customer", hash},
                            {"detail", "purpose=marketing granted=false"}}));
  EXPECT_EQ(entries[2].at("action"), "catalog_upsert");
  EXPECT_EQ(entries[2].at("customer"), "");
  EXPECT_EQ(entries[2].at("detail"), "action_id=winback");
}

TEST_F(AuditLogTest, TheCustomerIdIsNeverStoredRaw) {
  std::unique_ptr<AuditLog> log = Log("default");
  for (absl::string_view action : {"export", "erase", "merge", "link"}) {
    ASSERT_OK(log->Record(Admin(), action, kCustomer));
  }
  const std::string stored = EverythingStored();
  EXPECT_THAT(stored, HasSubstr(log->CustomerHash(kCustomer)));
  EXPECT_THAT(stored, Not(HasSubstr("jane")));
  EXPECT_THAT(stored, Not(HasSubstr(std::string(kCustomer))));
  // Not the unkeyed digests either (those could be matched against a list
  // of customer ids without the secret).
  EXPECT_THAT(stored, Not(HasSubstr(keys::Sha256Hex(kCustomer))));
  EXPECT_THAT(stored, Not(HasSubstr(keys::HmacSha256Hex(kSecret, kCustomer))));
}

TEST_F(AuditLogTest, ValuesStayOneLineOfPrintableText) {
  std::unique_ptr<AuditLog> log = Log("default");
  auth::Principal odd = Admin();
  odd.name = "ops\nrole admin\\x";
  ASSERT_OK(log->Record(odd, "consent", "", "purpose=a\r\nb\tc\xc3\xa9"));
  ASSERT_OK(log->Record(Admin(), "consent", "", std::string(2000, 'p')));
  const auto entries = Entries(log->stream_key());
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].at("actor"), "ops\\x0arole admin\\x5cx");
  EXPECT_EQ(entries[0].at("detail"), "purpose=a\\x0d\\x0ab\\x09c\\xc3\\xa9");
  EXPECT_EQ(entries[1].at("detail"), std::string(512, 'p'));
}

TEST_F(AuditLogTest, RetentionTrimsToAboutMaxEntries) {
  std::unique_ptr<AuditLog> log = Log("default", /*max_entries=*/50);
  for (int i = 0; i < 500; ++i) {
    ASSERT_OK(log->Record(Admin(), "export", absl::StrCat("c", i)));
  }
  absl::StatusOr<redis::Reply> len =
      redis_->Command({"XLEN", log->stream_key()});
  ASSERT_OK(len);
  // MAXLEN ~ keeps at least 50 and trims whole nodes (10 entries here).
  EXPECT_GE(len->integer(), 50);
  EXPECT_LE(len->integer(), 60);
  // The newest survive.
  ASSERT_OK_AND_ASSIGN(std::vector<AuditRecord> newest,
                       log->Read({.count = 1}));
  ASSERT_EQ(newest.size(), 1u);
  EXPECT_EQ(newest[0].customer, log->CustomerHash("c499"));
}

TEST_F(AuditLogTest, EachTenantHasItsOwnStream) {
  std::unique_ptr<AuditLog> acme = Log("acme");
  std::unique_ptr<AuditLog> globex = Log("globex");
  ASSERT_OK(acme->Record(Admin("acme"), "erase", kCustomer));
  ASSERT_OK(globex->Record(Admin("globex"), "export", kCustomer));
  ASSERT_OK(globex->Record(Admin("globex"), "link", kCustomer));
  EXPECT_EQ(acme->stream_key(), "cx:acme:{audit}:stream");
  EXPECT_EQ(globex->stream_key(), "cx:globex:{audit}:stream");
  const auto a = Entries("cx:acme:{audit}:stream");
  const auto g = Entries("cx:globex:{audit}:stream");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(a[0].at("tenant"), "acme");
  EXPECT_EQ(a[0].at("action"), "erase");
  EXPECT_EQ(g[0].at("tenant"), "globex");
  EXPECT_EQ(g[1].at("action"), "link");
  // A caller of one tenant never lands in another's log.
  EXPECT_THAT(acme->Record(Admin("globex"), "erase", kCustomer),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("tenant")));
  EXPECT_EQ(Entries("cx:acme:{audit}:stream").size(), 1u);
}

TEST_F(AuditLogTest, FailsClosedWhenTheRecordCannotBeWritten) {
  std::unique_ptr<AuditLog> log = Log("default");
  // A Redis error reply (here: the key holds another type) is UNAVAILABLE,
  // like a connection failure, so handlers return Record's status as it is.
  ASSERT_OK(redis_->Command({"SET", log->stream_key(), "x"}).status());
  EXPECT_THAT(log->Record(Admin(), "erase", kCustomer),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("audit: record not written")));
  ASSERT_OK(redis_->Command({"DEL", log->stream_key()}).status());
  ASSERT_OK(redis_server_->Stop());
  EXPECT_THAT(log->Record(Admin(), "erase", kCustomer),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("audit: record not written")));
}

TEST_F(AuditLogTest, WithoutASecretOnlyRecordsAboutNoCustomer) {
  std::unique_ptr<AuditLog> log = Log("default", 1000, /*secret=*/"");
  EXPECT_OK(log->Record(Admin(), "catalog_upsert", "", "action_id=a1"));
  EXPECT_THAT(
      log->Record(Admin(), "erase", kCustomer),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("identity_secret")));
  EXPECT_EQ(Entries(log->stream_key()).size(), 1u);
}

TEST_F(AuditLogTest, RefusesBadOptionsAndActions) {
  ASSERT_OK_AND_ASSIGN(keys::KeyBuilder keys,
                       keys::KeyBuilder::Create("default"));
  EXPECT_THAT(AuditLog::Create(redis_.get(), keys, {.max_entries = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("auth.audit_max_entries")));
  EXPECT_THAT(
      AuditLog::Create(redis_.get(), keys, {.customer_secret = "short"}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("identity_secret")));
  std::unique_ptr<AuditLog> log = Log("default");
  for (absl::string_view bad : {"", "Erase", "erase customer", "a:b"}) {
    EXPECT_THAT(log->Record(Admin(), bad, kCustomer),
                StatusIs(absl::StatusCode::kInternal));
  }
  EXPECT_THAT(log->Record(Admin(), std::string(65, 'a'), ""),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_TRUE(Entries(log->stream_key()).empty());
}

TEST_F(AuditLogTest, ReadsNewestLastWithCountSinceAndCustomer) {
  std::unique_ptr<AuditLog> log = Log("default");
  for (int i = 0; i < 30; ++i) {
    ASSERT_OK(log->Record(Admin(), "export", i % 3 == 0 ? "x" : "y",
                          absl::StrCat("n=", i)));
  }
  ASSERT_OK_AND_ASSIGN(std::vector<AuditRecord> last3, log->Read({.count = 3}));
  ASSERT_EQ(last3.size(), 3u);
  EXPECT_EQ(last3[0].detail, "n=27");
  EXPECT_EQ(last3[2].detail, "n=29");
  EXPECT_EQ(last3[2].actor, "ops-anna");
  EXPECT_EQ(last3[2].role, "admin");
  EXPECT_EQ(last3[2].tenant, "default");
  EXPECT_EQ(last3[2].ts, "2026-12-05T00:00:00.123Z");
  EXPECT_FALSE(last3[2].id.empty());

  ASSERT_OK_AND_ASSIGN(std::vector<AuditRecord> about_x,
                       log->Read({.count = 4, .customer_id = "x"}));
  ASSERT_EQ(about_x.size(), 4u);
  EXPECT_EQ(about_x[0].detail, "n=18");
  EXPECT_EQ(about_x[3].detail, "n=27");

  ASSERT_OK_AND_ASSIGN(std::vector<AuditRecord> all, log->Read({.count = 100}));
  EXPECT_EQ(all.size(), 30u);
  // `since` follows the time Redis stored the entries (their ids).
  ASSERT_OK_AND_ASSIGN(
      std::vector<AuditRecord> future,
      log->Read({.since = absl::Now() + absl::Hours(1), .count = 100}));
  EXPECT_TRUE(future.empty());
  ASSERT_OK_AND_ASSIGN(
      std::vector<AuditRecord> past,
      log->Read({.since = absl::Now() - absl::Hours(1), .count = 100}));
  EXPECT_EQ(past.size(), 30u);
  EXPECT_THAT(log->Read({.count = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace omnicx::audit
