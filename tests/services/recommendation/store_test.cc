// RecommendationStore against a real redis-server: the versioned catalog,
// caps, holds, cool-downs and the global cap (including 16 concurrent
// reservations for one customer), idempotent outcomes and their statistics,
// expired and unknown decisions, merges, and that every per-customer key
// sits under the customer's hash tag (so EraseCustomer removes it).
#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/redis_test.h"
#include "libs/testing/wait.h"
#include "services/recommendation/catalog.h"
#include "services/recommendation/merge_handler.h"
#include "services/recommendation/recommendation_store.h"

namespace omnicx::recommendation {
namespace {

using ::omnicx::status::IsOkAndHolds;
using ::omnicx::status::StatusIs;
using ::omnicx::v1::Action;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1795000000);

Action Make(const std::string& id, int cap, int64_t window_s,
            int64_t cooldown_s = 0) {
  Action a;
  a.set_action_id(id);
  a.set_kind(omnicx::v1::ACTION_KIND_EDUCATION);
  a.set_value(10);
  a.mutable_policy()->set_max_per_window(cap);
  a.mutable_policy()->set_window_seconds(window_s);
  a.mutable_policy()->set_cooldown_seconds(cooldown_s);
  return a;
}

// A client pool of 32: the concurrency tests run 16 callers at once.
redis::ClientOptions Pool32() {
  redis::ClientOptions o;
  o.pool_size = 32;
  return o;
}

class StoreTest : public testing::RedisTest {
 protected:
  StoreTest() : RedisTest({}, Pool32()) {}

  void SetUp() override {
    RedisTest::SetUp();
    if (HasFatalFailure()) return;
    options_.hold_ttl = absl::Minutes(10);
    options_.global_daily_cap = 0;
    store_ = std::make_unique<RecommendationStore>(*redis_, keys_, options_);
  }

  void Reopen() {
    store_ = std::make_unique<RecommendationStore>(*redis_, keys_, options_);
  }

  absl::StatusOr<Reservation> Reserve(const std::string& cid,
                                      const std::string& decision,
                                      std::vector<const Action*> ranked,
                                      absl::Time now, int max_actions = 3) {
    ReserveRequest r;
    r.customer_id = cid;
    r.decision_id = decision;
    r.segment = "detractor";
    r.catalog_version = 1;
    r.ranked = std::move(ranked);
    r.max_actions = max_actions;
    r.now = now;
    r.retention = absl::Hours(24 * 30);
    return store_->Reserve(r);
  }

  absl::StatusOr<OutcomeResult> Outcome(
      const std::string& cid, const std::string& decision,
      const std::string& action, omnicx::v1::ActionResponse response,
      absl::Time now, absl::Duration cooldown = absl::ZeroDuration()) {
    OutcomeRequest o;
    o.customer_id = cid;
    o.decision_customer_id = cid;
    o.decision_id = decision;
    o.action_id = action;
    o.response = response;
    o.occurred_at = now;
    o.now = now;
    o.cooldown = cooldown;
    o.retention = absl::Hours(24 * 30);
    return store_->RecordOutcome(o);
  }

  keys::KeyBuilder keys_ = *keys::KeyBuilder::Create("default");
  StoreOptions options_;
  std::unique_ptr<RecommendationStore> store_;
};

TEST_F(StoreTest, CatalogVersionsUpsertsAndReapplication) {
  ASSERT_OK_AND_ASSIGN(int64_t v0, store_->CatalogVersion());
  EXPECT_EQ(v0, 0);
  ASSERT_OK_AND_ASSIGN(int64_t v1, store_->ApplyCatalog(DefaultCatalog()));
  EXPECT_EQ(v1, 1);
  // The same catalog again (a restart) changes nothing.
  ASSERT_OK_AND_ASSIGN(int64_t again, store_->ApplyCatalog(DefaultCatalog()));
  EXPECT_EQ(again, 1);
  Action extra = Make("zz_extra", 1, 3600);
  ASSERT_OK_AND_ASSIGN(int64_t v2, store_->UpsertAction(extra));
  EXPECT_EQ(v2, 2);
  ASSERT_OK_AND_ASSIGN(CatalogSnapshot s, store_->LoadCatalog());
  EXPECT_EQ(s.version, 2);
  EXPECT_EQ(s.actions.size(),
            static_cast<size_t>(DefaultCatalog().actions_size()) + 1);
  EXPECT_EQ(s.actions.back().action_id(), "zz_extra");
  EXPECT_TRUE(std::is_sorted(s.actions.begin(), s.actions.end(),
                             [](const Action& a, const Action& b) {
                               return a.action_id() < b.action_id();
                             }));
  EXPECT_EQ(s.retention, absl::Hours(24 * 90));  // survey_nps_relationship

  // A changed YAML catalog is applied; run-time actions of other ids stay.
  ActionCatalog changed = DefaultCatalog();
  changed.mutable_actions(0)->set_value(41);
  ASSERT_OK_AND_ASSIGN(int64_t v3, store_->ApplyCatalog(changed));
  EXPECT_EQ(v3, 3);
  ASSERT_OK_AND_ASSIGN(s, store_->LoadCatalog());
  EXPECT_EQ(s.actions.back().action_id(), "zz_extra");
  for (const Action& a : s.actions) {
    if (a.action_id() == changed.actions(0).action_id()) {
      EXPECT_EQ(a.value(), 41);
    }
  }
}

TEST_F(StoreTest, PerActionCapCountsHoldsAndPresentationsInTheWindow) {
  Action a = Make("a", 2, 3600);
  Action b = Make("b", 0, 0);
  ASSERT_OK_AND_ASSIGN(Reservation r1, Reserve("c1", "d1", {&a, &b}, kNow));
  EXPECT_THAT(r1.chosen, ElementsAre("a", "b"));
  ASSERT_OK_AND_ASSIGN(Reservation r2,
                       Reserve("c1", "d2", {&a}, kNow + absl::Minutes(1)));
  EXPECT_THAT(r2.chosen, ElementsAre("a"));
  ASSERT_OK_AND_ASSIGN(Reservation r3,
                       Reserve("c1", "d3", {&a, &b}, kNow + absl::Minutes(2)));
  EXPECT_THAT(r3.chosen, ElementsAre("b"));
  ASSERT_EQ(r3.suppressed.size(), 1u);
  EXPECT_EQ(r3.suppressed[0].action_id, "a");
  EXPECT_EQ(r3.suppressed[0].reason, "cap:2 per 1h reached");
  // Another customer is not affected.
  ASSERT_OK_AND_ASSIGN(Reservation other, Reserve("c2", "d4", {&a}, kNow));
  EXPECT_THAT(other.chosen, ElementsAre("a"));

  // Confirm d1's presentation; d2's hold lapses after hold_ttl (10 min),
  // freeing one slot while d1's presentation still counts.
  ASSERT_OK(Outcome("c1", "d1", "a", omnicx::v1::ACTION_RESPONSE_PRESENTED,
                    kNow + absl::Minutes(3))
                .status());
  ASSERT_OK_AND_ASSIGN(Reservation r4,
                       Reserve("c1", "d5", {&a}, kNow + absl::Minutes(12)));
  EXPECT_THAT(r4.chosen, ElementsAre("a"));
  ASSERT_OK_AND_ASSIGN(Reservation r5,
                       Reserve("c1", "d6", {&a}, kNow + absl::Minutes(13)));
  EXPECT_TRUE(r5.chosen.empty());
  // After the window the confirmed presentation no longer counts (d5's
  // hold has lapsed too).
  ASSERT_OK_AND_ASSIGN(Reservation r6,
                       Reserve("c1", "d7", {&a}, kNow + absl::Minutes(61)));
  EXPECT_THAT(r6.chosen, ElementsAre("a"));
}

TEST_F(StoreTest, NothingIsReservedForAnErasedCustomer) {
  Action a = Make("a", 2, 3600);
  ASSERT_OK(redis_->Command({"SET", keys_.ErasedCustomer("c1"), "1"}).status());
  EXPECT_THAT(Reserve("c1", "d1", {&a}, kNow),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(
      redis::Reply left,
      redis_->Command({"KEYS", keys_.CustomerKeyPattern("c1")}));
  EXPECT_EQ(left.elements().size(), 0u);
}

// Consent is read inside the reservation from the customer's stored
// consents (the profile service's hash): an action whose purpose is not
// granted now is never reserved, whatever ranked it; a granted one is.
TEST_F(StoreTest, TheReservationTakesOnlyConsentedActions) {
  Action mail = Make("mail", 0, 0), plain = Make("plain", 0, 0),
         sms = Make("sms", 0, 0);
  mail.set_required_consent("marketing");
  sms.set_required_consent("sms");
  ASSERT_OK_AND_ASSIGN(Reservation none,
                       Reserve("c1", "d1", {&mail, &sms, &plain}, kNow));
  EXPECT_THAT(none.chosen, ElementsAre("plain"));
  ASSERT_EQ(none.suppressed.size(), 2u);
  EXPECT_EQ(none.suppressed[0].action_id, "mail");
  EXPECT_EQ(none.suppressed[0].reason, "consent:marketing missing");
  EXPECT_EQ(none.suppressed[1].reason, "consent:sms missing");

  ASSERT_OK(redis_
                ->Command({"HSET", keys_.Consents("c1"), "marketing:granted",
                           "1", "sms:granted", "0"})
                .status());
  ASSERT_OK_AND_ASSIGN(Reservation some,
                       Reserve("c1", "d2", {&mail, &sms, &plain}, kNow));
  EXPECT_THAT(some.chosen, ElementsAre("mail", "plain"));
  ASSERT_EQ(some.suppressed.size(), 1u);
  EXPECT_EQ(some.suppressed[0].reason, "consent:sms missing");
  // Another customer's consent is not this one's.
  ASSERT_OK_AND_ASSIGN(Reservation other, Reserve("c2", "d3", {&mail}, kNow));
  EXPECT_TRUE(other.chosen.empty());
}

TEST_F(StoreTest, MaxActionsStopsTheWalk) {
  Action a = Make("a", 0, 0), b = Make("b", 0, 0), c = Make("c", 0, 0);
  ASSERT_OK_AND_ASSIGN(Reservation r,
                       Reserve("c1", "d1", {&a, &b, &c}, kNow, 2));
  EXPECT_THAT(r.chosen, ElementsAre("a", "b"));
  EXPECT_TRUE(r.suppressed.empty());
}

TEST_F(StoreTest, GlobalDailyCapAcrossActions) {
  options_.global_daily_cap = 3;
  Reopen();
  Action a = Make("a", 0, 0), b = Make("b", 0, 0), c = Make("c", 0, 0),
         d = Make("d", 0, 0);
  ASSERT_OK_AND_ASSIGN(Reservation r1, Reserve("c1", "d1", {&a, &b}, kNow));
  EXPECT_THAT(r1.chosen, ElementsAre("a", "b"));
  ASSERT_OK_AND_ASSIGN(Reservation r2,
                       Reserve("c1", "d2", {&c, &d}, kNow + absl::Minutes(1)));
  EXPECT_THAT(r2.chosen, ElementsAre("c"));
  ASSERT_EQ(r2.suppressed.size(), 1u);
  EXPECT_EQ(r2.suppressed[0].reason, "global_cap:3 per day reached");
  for (const char* act : {"a", "b"}) {
    ASSERT_OK(Outcome("c1", "d1", act, omnicx::v1::ACTION_RESPONSE_PRESENTED,
                      kNow + absl::Minutes(2))
                  .status());
  }
  ASSERT_OK(Outcome("c1", "d2", "c", omnicx::v1::ACTION_RESPONSE_PRESENTED,
                    kNow + absl::Minutes(2))
                .status());
  ASSERT_OK_AND_ASSIGN(Reservation r3,
                       Reserve("c1", "d3", {&d}, kNow + absl::Hours(23)));
  EXPECT_TRUE(r3.chosen.empty());
  ASSERT_OK_AND_ASSIGN(Reservation r4,
                       Reserve("c1", "d4", {&d}, kNow + absl::Hours(25)));
  EXPECT_THAT(r4.chosen, ElementsAre("d"));
}

TEST_F(StoreTest, CooldownAfterRejection) {
  Action a = Make("a", 0, 0, 3600);
  ASSERT_OK_AND_ASSIGN(Reservation r1, Reserve("c1", "d1", {&a}, kNow));
  ASSERT_THAT(r1.chosen, ElementsAre("a"));
  ASSERT_OK(Outcome("c1", "d1", "a", omnicx::v1::ACTION_RESPONSE_REJECTED,
                    kNow + absl::Minutes(1), absl::Hours(1))
                .status());
  ASSERT_OK_AND_ASSIGN(Reservation r2,
                       Reserve("c1", "d2", {&a}, kNow + absl::Minutes(30)));
  EXPECT_TRUE(r2.chosen.empty());
  ASSERT_EQ(r2.suppressed.size(), 1u);
  EXPECT_EQ(r2.suppressed[0].reason,
            "cooldown:rejected, not before 2026-11-18T12:07:40Z");
  ASSERT_OK_AND_ASSIGN(Reservation r3,
                       Reserve("c1", "d3", {&a}, kNow + absl::Minutes(62)));
  EXPECT_THAT(r3.chosen, ElementsAre("a"));
}

TEST_F(StoreTest, SixteenConcurrentReservationsNeverExceedTheCap) {
  Action a = Make("a", 3, 86400);
  Action b = Make("b", 5, 86400);
  std::atomic<int> got_a{0}, got_b{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      auto r = Reserve("c1", absl::StrCat("d", i), {&a, &b}, kNow);
      ASSERT_TRUE(r.ok()) << r.status();
      for (const std::string& id : r->chosen) {
        (id == "a" ? got_a : got_b)++;
        ASSERT_OK(Outcome("c1", absl::StrCat("d", i), id,
                          omnicx::v1::ACTION_RESPONSE_PRESENTED, kNow)
                      .status());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(got_a.load(), 3);
  EXPECT_EQ(got_b.load(), 5);
  ASSERT_OK_AND_ASSIGN(redis::Reply shown,
                       redis_->Command({"ZCARD", keys_.NbaShown("c1")}));
  EXPECT_EQ(shown.integer(), 8);
}

TEST_F(StoreTest, OutcomesAreIdempotentAndFeedStatistics) {
  Action a = Make("a", 0, 0);
  ASSERT_OK(Reserve("c1", "d1", {&a}, kNow).status());
  ASSERT_OK_AND_ASSIGN(
      OutcomeResult p,
      Outcome("c1", "d1", "a", omnicx::v1::ACTION_RESPONSE_PRESENTED, kNow));
  EXPECT_TRUE(p.recorded);
  EXPECT_TRUE(p.impression);
  EXPECT_EQ(p.segment, "detractor");
  ASSERT_OK_AND_ASSIGN(
      OutcomeResult again,
      Outcome("c1", "d1", "a", omnicx::v1::ACTION_RESPONSE_PRESENTED, kNow));
  EXPECT_FALSE(again.recorded);
  ASSERT_OK_AND_ASSIGN(
      OutcomeResult acc,
      Outcome("c1", "d1", "a", omnicx::v1::ACTION_RESPONSE_ACCEPTED, kNow));
  EXPECT_TRUE(acc.recorded);
  EXPECT_FALSE(acc.impression);
  EXPECT_TRUE(acc.success);
  ASSERT_OK_AND_ASSIGN(
      OutcomeResult acc2,
      Outcome("c1", "d1", "a", omnicx::v1::ACTION_RESPONSE_ACCEPTED, kNow));
  EXPECT_FALSE(acc2.recorded);
  // Converted after accepted: counted as a conversion, not a second success.
  ASSERT_OK_AND_ASSIGN(
      OutcomeResult conv,
      Outcome("c1", "d1", "a", omnicx::v1::ACTION_RESPONSE_CONVERTED, kNow));
  EXPECT_TRUE(conv.recorded);
  EXPECT_FALSE(conv.success);
  // An accept without PRESENTED implies the impression.
  ASSERT_OK(Reserve("c1", "d2", {&a}, kNow).status());
  ASSERT_OK_AND_ASSIGN(
      OutcomeResult ign,
      Outcome("c1", "d2", "a", omnicx::v1::ACTION_RESPONSE_IGNORED, kNow));
  EXPECT_TRUE(ign.impression);
  EXPECT_TRUE(ign.failure);

  ASSERT_OK_AND_ASSIGN(StatsTable stats, store_->LoadStats());
  for (const char* seg : {"detractor", "all"}) {
    SegmentCounts c = stats.Find("a", seg);
    EXPECT_EQ(c.impressions, 2) << seg;
    EXPECT_EQ(c.accepts, 1) << seg;
    EXPECT_EQ(c.conversions, 1) << seg;
    EXPECT_EQ(c.ignores, 1) << seg;
    EXPECT_EQ(c.rejects, 0) << seg;
    EXPECT_EQ(c.successes, 1) << seg;
    EXPECT_EQ(c.failures, 1) << seg;
  }
}

TEST_F(StoreTest, UnknownExpiredOrForeignDecisionsAreNotFound) {
  options_.decision_ttl = absl::Milliseconds(200);
  Reopen();
  Action a = Make("a", 0, 0), b = Make("b", 0, 0);
  ASSERT_OK(Reserve("c1", "d1", {&a}, kNow).status());
  EXPECT_THAT(
      Outcome("c1", "nope", "a", omnicx::v1::ACTION_RESPONSE_ACCEPTED, kNow),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("unknown or expired")));
  EXPECT_THAT(
      Outcome("c1", "d1", "b", omnicx::v1::ACTION_RESPONSE_ACCEPTED, kNow),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("did not recommend")));
  // Another customer cannot report on c1's decision.
  EXPECT_THAT(
      Outcome("c2", "d1", "a", omnicx::v1::ACTION_RESPONSE_ACCEPTED, kNow),
      StatusIs(absl::StatusCode::kNotFound));
  // Redis expires the decision after decision_ttl (Redis time).
  ASSERT_TRUE(testing::WaitUntil([&] {
    return redis_->Command({"EXISTS", keys_.NbaDecisions("c1")})->integer() ==
           0;
  }));
  EXPECT_THAT(
      Outcome("c1", "d1", "a", omnicx::v1::ACTION_RESPONSE_ACCEPTED, kNow),
      StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(StatsTable stats, store_->LoadStats());
  EXPECT_EQ(stats.size(), 0u);
  (void)b;
}

TEST_F(StoreTest, MergeFoldsContactStateOnce) {
  Action a = Make("a", 3, 86400, 3600);
  ASSERT_OK(Reserve("s", "d1", {&a}, kNow).status());
  ASSERT_OK(Outcome("s", "d1", "a", omnicx::v1::ACTION_RESPONSE_PRESENTED, kNow)
                .status());
  ASSERT_OK(Reserve("m", "d2", {&a}, kNow).status());
  ASSERT_OK(Outcome("m", "d2", "a", omnicx::v1::ACTION_RESPONSE_PRESENTED, kNow)
                .status());
  ASSERT_OK(Reserve("m", "d3", {&a}, kNow).status());
  ASSERT_OK(Outcome("m", "d3", "a", omnicx::v1::ACTION_RESPONSE_REJECTED, kNow,
                    absl::Hours(1))
                .status());
  ASSERT_OK_AND_ASSIGN(bool merged, store_->MergeCustomers("s", "m"));
  EXPECT_TRUE(merged);
  ASSERT_OK_AND_ASSIGN(bool again, store_->MergeCustomers("s", "m"));
  EXPECT_FALSE(again);
  ASSERT_OK_AND_ASSIGN(redis::Reply shown,
                       redis_->Command({"ZCARD", keys_.NbaShown("s")}));
  EXPECT_EQ(shown.integer(), 3);  // 1 + 2, summed
  // The merged customer's cool-down now applies to the survivor, and the
  // cap (3) is reached either way.
  ASSERT_OK_AND_ASSIGN(Reservation r,
                       Reserve("s", "d4", {&a}, kNow + absl::Minutes(1)));
  EXPECT_TRUE(r.chosen.empty());
  ASSERT_EQ(r.suppressed.size(), 1u);
  EXPECT_THAT(r.suppressed[0].reason, HasSubstr("cooldown:"));
  ASSERT_OK_AND_ASSIGN(redis::Reply left,
                       redis_->Command({"EXISTS", keys_.NbaShown("m"),
                                        keys_.NbaCooldowns("m")}));
  EXPECT_EQ(left.integer(), 0);
}

// Merge records handled out of order: m -> s arrives after s -> x was
// folded (the profile service has redirected s to x), so m's state goes to
// x; a merge into an erased survivor leaves nothing behind.
TEST_F(StoreTest, AMergeIntoAMergedAwaySurvivorFoldsIntoItsSurvivor) {
  Action a = Make("a", 3, 86400, 3600);
  ASSERT_OK(Reserve("m", "d1", {&a}, kNow).status());
  ASSERT_OK(Outcome("m", "d1", "a", omnicx::v1::ACTION_RESPONSE_PRESENTED, kNow)
                .status());
  ASSERT_OK(redis_->Command({"SET", keys_.MergedInto("s"), "x"}).status());
  EXPECT_THAT(store_->MergeCustomers("s", "m"), IsOkAndHolds(true));
  EXPECT_THAT(store_->MergeCustomers("s", "m"), IsOkAndHolds(false));
  ASSERT_OK_AND_ASSIGN(redis::Reply shown,
                       redis_->Command({"ZCARD", keys_.NbaShown("x")}));
  EXPECT_EQ(shown.integer(), 1);
  ASSERT_OK_AND_ASSIGN(
      redis::Reply at_s,
      redis_->Command({"KEYS", keys_.CustomerKeyPattern("s")}));
  ASSERT_EQ(at_s.elements().size(), 1u);  // only the profile's redirect
  EXPECT_EQ(at_s.elements()[0].str(), keys_.MergedInto("s"));

  ASSERT_OK(Reserve("m2", "d2", {&a}, kNow).status());
  ASSERT_OK(
      Outcome("m2", "d2", "a", omnicx::v1::ACTION_RESPONSE_PRESENTED, kNow)
          .status());
  ASSERT_OK(redis_->Command({"SET", keys_.ErasedCustomer("e"), "1"}).status());
  EXPECT_THAT(store_->MergeCustomers("e", "m2"), IsOkAndHolds(false));
  for (const std::string& cid : {"e", "m2"}) {
    ASSERT_OK_AND_ASSIGN(
        redis::Reply left,
        redis_->Command({"KEYS", keys_.CustomerKeyPattern(cid)}));
    // Its contact state is gone; the decision record d2 is the erasure's to
    // delete (it scans every id merged into the customer), not the fold's.
    for (const redis::Reply& k : left.elements()) {
      EXPECT_THAT(k.str(), HasSubstr(":nba:decisions")) << k.str();
    }
  }
}

TEST_F(StoreTest, EveryCustomerKeyIsUnderTheCustomersStem) {
  Action a = Make("a", 2, 3600, 60);
  ASSERT_OK(store_->ApplyCatalog(DefaultCatalog()).status());
  const std::string cid = "cust:with{odd}|chars";
  ASSERT_OK(Reserve(cid, "d1", {&a}, kNow).status());
  ASSERT_OK(Outcome(cid, "d1", "a", omnicx::v1::ACTION_RESPONSE_REJECTED, kNow,
                    absl::Hours(1))
                .status());
  ASSERT_OK(Reserve(cid, "d2", {&a}, kNow).status());
  ASSERT_OK(store_->MergeCustomers(cid, "other").status());
  ASSERT_OK_AND_ASSIGN(redis::Reply all, redis_->Command({"KEYS", "*"}));
  // cx:default:{p:<partition>}:c:<encoded id>: — the partition's hash tag.
  const std::string stem = keys_.CustomerKey(cid, "");
  EXPECT_TRUE(
      absl::StartsWith(stem, absl::StrCat(keys_.prefix(),
                                          keys::KeyBuilder::PartitionTag(
                                              keys::KeyBuilder::Partition(cid)),
                                          ":c:")))
      << stem;
  int customer_keys = 0;
  for (const redis::Reply& k : all.elements()) {
    if (k.str() == keys_.Catalog() || k.str() == keys_.NbaStats()) continue;
    EXPECT_TRUE(absl::StartsWith(k.str(), stem)) << k.str();
    ++customer_keys;
  }
  // shown, cool, the decisions, merged (d2 was cooling down: no hold).
  EXPECT_EQ(customer_keys, 4);
}

// Decision records are fields of one hash per customer with a TTL, not a
// key per decision: a record answers for decision_ttl of business time
// even while the hash lives on, and old records are dropped as it grows.
TEST_F(StoreTest, DecisionsAreFieldsOfOneHashWithATtl) {
  options_.decision_ttl = absl::Hours(24);
  Reopen();
  Action a = Make("a", 0, 0);
  for (int i = 0; i < 300; ++i) {
    ASSERT_OK(
        Reserve("c1", absl::StrCat("d", i), {&a}, kNow + absl::Minutes(10 * i))
            .status());
  }
  ASSERT_OK_AND_ASSIGN(
      redis::Reply keys,
      redis_->Command({"KEYS", keys_.CustomerKeyPattern("c1")}));
  EXPECT_EQ(keys.elements().size(), 2u);  // the decisions, the holds
  ASSERT_OK_AND_ASSIGN(redis::Reply ttl,
                       redis_->Command({"PTTL", keys_.NbaDecisions("c1")}));
  EXPECT_GT(ttl.integer(), 0);
  EXPECT_LE(ttl.integer(), 24 * 3600 * 1000);
  // 300 decisions of two fields each over 50 h: those older than 24 h are
  // dropped once the hash passes 256 fields.
  ASSERT_OK_AND_ASSIGN(redis::Reply len,
                       redis_->Command({"HLEN", keys_.NbaDecisions("c1")}));
  EXPECT_LE(len.integer(), 2 * 146 + 2);
  const absl::Time last = kNow + absl::Minutes(10 * 299);
  EXPECT_THAT(
      Outcome("c1", "d0", "a", omnicx::v1::ACTION_RESPONSE_ACCEPTED, last),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("unknown or expired")));
  ASSERT_OK_AND_ASSIGN(
      OutcomeResult recent,
      Outcome("c1", "d299", "a", omnicx::v1::ACTION_RESPONSE_PRESENTED, last));
  EXPECT_TRUE(recent.recorded);
  EXPECT_EQ(recent.segment, "detractor");
  // Past the TTL of business time, a record still in the hash is expired.
  EXPECT_THAT(Outcome("c1", "d299", "a", omnicx::v1::ACTION_RESPONSE_ACCEPTED,
                      last + absl::Hours(25)),
              StatusIs(absl::StatusCode::kNotFound));
  // A decision id holding the fields' separator names no decision.
  EXPECT_THAT(Outcome("c1", "d299|a:a", "a",
                      omnicx::v1::ACTION_RESPONSE_ACCEPTED, last),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace omnicx::recommendation

namespace omnicx::recommendation {
namespace {

// The merge log through a real StreamConsumer: folded once, even when the
// record is delivered again; malformed records are refused.
TEST_F(StoreTest, MergeLogConsumerFoldsEachMergeOnce) {
  Action a = Make("a", 5, 86400);
  ASSERT_OK(Reserve("m", "d1", {&a}, kNow).status());
  ASSERT_OK(Outcome("m", "d1", "a", omnicx::v1::ACTION_RESPONSE_PRESENTED, kNow)
                .status());
  ASSERT_OK(redis_
                ->Command({"XADD", keys_.MergeLog(), "*", "survivor", "s",
                           "merged", "m", "at", "1795000000000"})
                .status());
  streams::ConsumerOptions options;
  options.group = "recommendation";
  options.consumer = "test";
  options.streams = {keys_.MergeLog()};
  options.dead_letter = keys_.DeadLetter("recommendation");
  int handled = 0;
  streams::StreamConsumer consumer(*redis_, options,
                                   [&](const streams::StreamEntry& e) {
                                     ++handled;
                                     return ApplyMergeRecord(*store_, e);
                                   });
  ASSERT_OK(consumer.EnsureGroups());
  ASSERT_OK_AND_ASSIGN(int n, consumer.PollOnce(absl::Milliseconds(100)));
  EXPECT_EQ(n, 1);
  ASSERT_OK_AND_ASSIGN(redis::Reply shown,
                       redis_->Command({"ZCARD", keys_.NbaShown("s")}));
  EXPECT_EQ(shown.integer(), 1);
  // A redelivery (same record again) changes nothing.
  streams::StreamEntry again;
  again.id = "1-1";
  again.fields = {{"survivor", "s"}, {"merged", "m"}, {"at", "0"}};
  ASSERT_OK(ApplyMergeRecord(*store_, again));
  ASSERT_OK_AND_ASSIGN(shown, redis_->Command({"ZCARD", keys_.NbaShown("s")}));
  EXPECT_EQ(shown.integer(), 1);
  streams::StreamEntry bad;
  bad.fields = {{"survivor", "s"}};
  EXPECT_THAT(ApplyMergeRecord(*store_, bad),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(handled, 1);
}

}  // namespace
}  // namespace omnicx::recommendation
