// The per-event path against Redis Cluster's rules: a real redis-server in
// cluster mode, owning every slot, refuses (CROSSSLOT) any script,
// transaction or multi-key command whose keys are in more than one slot.
// Ingestion's append, the profile's apply, traits, consent and context
// cache, identity linking, merges (as single-slot steps, also resumed after
// a failure between any two steps) and erasure, the journey's apply, forget
// and sweep of time-driven stage moves and the aggregator's fold and reads
// all run here; so do the journey's and the recommendation's merges of two
// customers in different partitions and an outcome for a decision made
// before a merge, each also stopped between its single-slot steps (as by a
// crash) and finished by running it again, with nothing counted twice.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/keys/key_builder.h"
#include "libs/redis/client.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/redis_test.h"
#include "libs/testing/wait.h"
#include "services/ingestion/event_log.h"
#include "services/journey/aggregator.h"
#include "services/journey/journey_state.h"
#include "services/journey/journey_store.h"
#include "services/journey/pain_points.h"
#include "services/profile/profile_store.h"
#include "services/recommendation/recommendation_store.h"

namespace omnicx {
namespace {

using omnicx::v1::Interaction;

const absl::Time kNow = absl::FromUnixSeconds(1795000000);

class ClusterSlotsTest : public testing::RedisTest {
 protected:
  ClusterSlotsTest() : RedisTest({.cluster = true}) {}

  void SetUp() override {
    RedisTest::SetUp();
    if (HasFatalFailure()) return;
    OwnEverySlot();
    if (HasFatalFailure()) return;
  }

  Interaction Event(const std::string& id, const std::string& cid,
                    int64_t at_s) {
    Interaction e;
    e.set_event_id(id);
    e.set_channel(omnicx::v1::CHANNEL_WEB);
    e.set_type("payment");
    e.set_touchpoint("checkout");
    e.set_outcome(omnicx::v1::OUTCOME_FAILURE);
    e.mutable_occurred_at()->set_seconds(at_s);
    e.mutable_customer()->set_customer_id(cid);
    e.set_resolved_customer_id(cid);
    return e;
  }

  // Two customer ids in different partitions (so their keys are in
  // different slots), named after `stem`.
  static std::pair<std::string, std::string> TwoPartitions(
      const std::string& stem) {
    const std::string s = absl::StrCat(stem, "-s");
    for (int i = 0;; ++i) {
      std::string m = absl::StrCat(stem, "-m", i);
      if (keys::KeyBuilder::Partition(m) != keys::KeyBuilder::Partition(s)) {
        return {s, m};
      }
    }
  }

  keys::KeyBuilder keys_ = *keys::KeyBuilder::Create("default");

  static omnicx::v1::Identity Id(const std::string& type,
                                 const std::string& value) {
    omnicx::v1::Identity i;
    i.set_type(type);
    i.set_value(value);
    return i;
  }

  profile::ProfileStoreOptions ProfileOptions() {
    profile::ProfileStoreOptions options;
    options.identity_secret = "test-secret-0123456789";
    return options;
  }

  // A customer known by `email`, created at `created`, with `events`
  // events (ids <email>-0..).
  std::string Customer(profile::ProfileStore& store, const std::string& email,
                       absl::Time created, int events) {
    omnicx::v1::CustomerRef ref;
    *ref.mutable_identity() = Id("email", email);
    google::protobuf::RepeatedPtrField<omnicx::v1::Identity> none;
    absl::StatusOr<profile::Resolution> who =
        store.Resolve(ref, none, created, "event:test");
    EXPECT_TRUE(who.ok()) << who.status();
    if (!who.ok()) return "";
    for (int i = 0; i < events; ++i) {
      Interaction e = Event(absl::StrCat(email, "-", i), who->customer_id,
                            1794000000 + i * 60);
      EXPECT_TRUE(store.Apply(who->customer_id, e, kNow).ok());
    }
    return who->customer_id;
  }

  std::string Owner(profile::ProfileStore& store, const std::string& email) {
    absl::StatusOr<redis::Reply> r = redis_->Command(
        {"GET",
         keys_.IdentityIndex(store.directory().Digest(Id("email", email)))});
    return r.ok() && !r->is_nil() ? r->str() : "";
  }

  // Merge log entries naming `merged`.
  int MergeLogEntries(const std::string& merged) {
    absl::StatusOr<redis::Reply> r =
        redis_->Command({"XRANGE", keys_.MergeLog(), "-", "+"});
    int n = 0;
    for (const redis::Reply& e : r->elements()) {
      const auto& f = e.elements()[1].elements();
      for (size_t i = 0; i + 1 < f.size(); i += 2) {
        if (f[i].str() == "merged" && f[i + 1].str() == merged) ++n;
      }
    }
    return n;
  }

  size_t KeysOf(const std::string& cid) {
    return redis_->Command({"KEYS", keys_.CustomerKeyPattern(cid)})
        ->elements()
        .size();
  }
};

TEST_F(ClusterSlotsTest, ThePerEventPathStaysInOneSlotPerCommand) {
  // Customers in many partitions, so keys of different slots meet in one
  // pipeline (allowed) but never in one command.
  std::vector<Interaction> events;
  for (int c = 0; c < 20; ++c) {
    for (int e = 0; e < 3; ++e) {
      events.push_back(Event(absl::StrCat("e", c, "-", e), absl::StrCat("c", c),
                             1794000000 + e * 60));
    }
  }

  ingestion::EventLog log(*redis_, keys_, {});
  std::vector<const Interaction*> batch;
  for (const Interaction& e : events) batch.push_back(&e);
  ASSERT_OK_AND_ASSIGN(std::vector<ingestion::AppendResult> appended,
                       log.Append(batch));
  for (const auto& r : appended) {
    EXPECT_EQ(r.status, omnicx::v1::EVENT_STATUS_ACCEPTED);
  }

  profile::ProfileStoreOptions profile_options;
  profile_options.identity_secret = "test-secret-0123456789";
  profile::ProfileStore profiles(*redis_, keys_, profile_options);
  std::vector<profile::ProfileStore::CustomerEvent> items;
  for (const Interaction& e : events) {
    items.emplace_back(e.resolved_customer_id(), &e);
  }
  for (const auto& r : profiles.ApplyBatch(items, kNow)) {
    ASSERT_OK(r.status());
    EXPECT_TRUE(*r);
  }
  for (const auto& s : profiles.PublishResolvedBatch(items)) ASSERT_OK(s);
  google::protobuf::Struct traits;
  (*traits.mutable_fields())["tier"].set_string_value("gold");
  ASSERT_OK(profiles.UpdateTraits("c1", traits, false, kNow).status());
  omnicx::v1::Consent consent;
  consent.set_purpose("marketing");
  consent.set_granted(true);
  consent.mutable_updated_at()->set_seconds(1794000000);
  ASSERT_OK(profiles.SetConsent("c1", consent).status());
  ASSERT_OK_AND_ASSIGN(profile::ProfileStore::ContextRead read,
                       profiles.ReadContext("c1", "sig"));
  EXPECT_THAT(profiles.CacheContext("c1", "sig", read.version, "context",
                                    absl::Seconds(2)),
              status::IsOkAndHolds(true));
  ASSERT_OK(profiles.GetProfile("c1").status());

  const journey::CompiledModel model =
      *journey::CompileModel(journey::DefaultJourneyModel());
  journey::JourneyStore journeys(*redis_, keys_, model, {},
                                 [] { return kNow; });
  std::vector<Interaction> resolved(events.begin(), events.end());
  for (const auto& r : journeys.ApplyBatch(resolved)) {
    ASSERT_OK(r.status());
    EXPECT_EQ(*r, journey::ApplyResult::kApplied);
  }
  journey::Aggregator aggregator(*redis_, keys_);
  // One outbox record per customer committed.
  EXPECT_THAT(aggregator.FoldOnce(), status::IsOkAndHolds(20));
  ASSERT_OK_AND_ASSIGN(journey::AggregateFields pain,
                       journey::ReadPainShards(*redis_, keys_));
  EXPECT_FALSE(pain.empty());
  EXPECT_THAT(journeys.Forget("c2"), status::IsOkAndHolds(true));
  EXPECT_THAT(aggregator.FoldOnce(), status::IsOkAndHolds(1));
  // A year later every quiet customer has moved by time alone: the sweep's
  // scripts stay in each customer's partition slot.
  journey::JourneyStore later(*redis_, keys_, model, {},
                              [] { return kNow + absl::Hours(24 * 400); });
  ASSERT_OK_AND_ASSIGN(int64_t moved, later.SweepDue());
  EXPECT_GT(moved, 0);
  ASSERT_OK_AND_ASSIGN(int64_t folded, aggregator.FoldOnce());
  EXPECT_GT(folded, 0);
}

// The journey merge of M into S (different partitions) as three
// single-slot steps, run through, or stopped after step 1 or step 2 and
// run again (as the merge record's redelivery does), then redelivered
// once more: S's state equals the replay of both customers' events, M's
// journey is gone, and the aggregates count one customer, as S's state
// says.
TEST_F(ClusterSlotsTest, TheJourneyMergeIsSingleSlotStepsCountedOnce) {
  const journey::CompiledModel model =
      *journey::CompileModel(journey::DefaultJourneyModel());
  for (int stop_after : {0, 1, 2}) {
    SCOPED_TRACE(absl::StrCat("stopped after step ", stop_after));
    // A tenant of its own per run: separate keys and aggregates.
    const keys::KeyBuilder keys =
        *keys::KeyBuilder::Create(absl::StrCat("t", stop_after));
    const auto [s, m] = TwoPartitions(absl::StrCat("j", stop_after));
    std::vector<Interaction> events = {Event("s1", s, 1794000000),
                                       Event("m1", m, 1794000060),
                                       Event("m2", m, 1794000120)};
    events[2].set_type("complaint");
    events[2].set_case_id("k1");
    journey::JourneyStore store(*redis_, keys, model, {}, [] { return kNow; });
    for (const auto& r : store.ApplyBatch(events)) {
      ASSERT_THAT(r, status::IsOkAndHolds(journey::ApplyResult::kApplied));
    }
    // The profile service's merge (its redirect and merged ids).
    ASSERT_OK(redis_->Command({"SET", keys.MergedInto(m), s}).status());
    ASSERT_OK(redis_->Command({"SADD", keys.MergedIds(s), m}).status());

    journey::JourneyStoreOptions crashing;
    crashing.merge_step_hook = [stop_after](int step) {
      return step == stop_after ? absl::UnavailableError("crash")
                                : absl::OkStatus();
    };
    journey::JourneyStore first(*redis_, keys, model, crashing,
                                [] { return kNow; });
    if (stop_after == 0) {
      EXPECT_THAT(first.Merge(s, m), status::IsOkAndHolds(true));
    } else {
      EXPECT_FALSE(first.Merge(s, m).ok());
      // Between the steps: M's journey is frozen (an event for M goes to
      // S, Forget waits for the merge), and S reads as both, once.
      EXPECT_THAT(first.Forget(m),
                  status::StatusIs(absl::StatusCode::kUnavailable));
      ASSERT_OK_AND_ASSIGN(std::optional<journey::JourneyState> between,
                           store.Load(s));
      ASSERT_TRUE(between.has_value());
      EXPECT_EQ(between->events(), 3);
      // The redelivered record finishes it; the fold counts once.
      EXPECT_THAT(store.Merge(s, m), status::IsOkAndHolds(stop_after == 1));
    }
    EXPECT_THAT(store.Merge(s, m), status::IsOkAndHolds(false));
    ASSERT_OK_AND_ASSIGN(redis::Reply gone,
                         redis_->Command({"EXISTS", keys.Journey(m)}));
    EXPECT_EQ(gone.integer(), 0);

    journey::JourneyState replay;
    for (const Interaction& e : events) {
      journey::ApplyEvent(model, e, &replay);
      journey::RefreshDerived(model, &replay);
    }
    ASSERT_OK_AND_ASSIGN(std::optional<journey::JourneyState> merged,
                         store.Load(s));
    ASSERT_TRUE(merged.has_value());
    EXPECT_EQ(merged->events(), 3);
    const int64_t at = absl::ToUnixMillis(kNow);
    const auto want = journey::Summarize(model, replay, at);
    const auto got = journey::Summarize(model, *merged, at);
    EXPECT_NEAR(got.health(), want.health(), 1e-9);
    EXPECT_NEAR(got.churn_risk(), want.churn_risk(), 1e-9);
    ASSERT_EQ(got.open_cases_size(), 1);
    EXPECT_EQ(got.open_cases(0).contact_count(), 1);

    journey::Aggregator aggregator(*redis_, keys);
    ASSERT_OK(aggregator.FoldOnce().status());
    ASSERT_OK_AND_ASSIGN(journey::AggregateFields pain,
                         journey::ReadPainShards(*redis_, keys));
    journey::AggregateFields want_fields;
    for (const auto& [field, v] : journey::PainContributions(*merged)) {
      if (v != 0) want_fields[field] = v;
    }
    journey::AggregateFields got_fields;
    for (const auto& [field, v] : pain) {
      if (v != 0) got_fields[field] = v;
    }
    EXPECT_EQ(got_fields, want_fields);
    // An event still naming M after the merge goes to S.
    Interaction late = Event("m3", m, 1794000180);
    EXPECT_THAT(store.Apply(late),
                status::IsOkAndHolds(journey::ApplyResult::kApplied));
    ASSERT_OK_AND_ASSIGN(merged, store.Load(s));
    EXPECT_EQ(merged->events(), 4);
  }
}

// Merge records out of order around a crash: M is folded into S, then the
// merge stops before deleting M's journey; S is merged into T; the
// redelivered M -> S record is redirected to T, which took S's record of
// M with S's state, so M counts once in T.
TEST_F(ClusterSlotsTest, AMergeFinishedAfterItsSurvivorMovedOnCountsOnce) {
  const journey::CompiledModel model =
      *journey::CompileModel(journey::DefaultJourneyModel());
  const auto [s, m] = TwoPartitions("chain");
  std::string t = "chain-t";
  for (int i = 0;
       keys::KeyBuilder::Partition(t) == keys::KeyBuilder::Partition(s) ||
       keys::KeyBuilder::Partition(t) == keys::KeyBuilder::Partition(m);
       ++i) {
    t = absl::StrCat("chain-t", i);
  }
  std::vector<Interaction> events = {Event("t1", t, 1794000000),
                                     Event("s1", s, 1794000060),
                                     Event("m1", m, 1794000120)};
  journey::JourneyStore store(*redis_, keys_, model, {}, [] { return kNow; });
  for (const auto& r : store.ApplyBatch(events)) {
    ASSERT_THAT(r, status::IsOkAndHolds(journey::ApplyResult::kApplied));
  }
  ASSERT_OK(redis_->Command({"SET", keys_.MergedInto(m), s}).status());
  journey::JourneyStoreOptions crashing;
  crashing.merge_step_hook = [](int step) {
    return step == 2 ? absl::UnavailableError("crash") : absl::OkStatus();
  };
  journey::JourneyStore first(*redis_, keys_, model, crashing,
                              [] { return kNow; });
  EXPECT_FALSE(first.Merge(s, m).ok());
  ASSERT_OK(redis_->Command({"SET", keys_.MergedInto(s), t}).status());
  EXPECT_THAT(store.Merge(t, s), status::IsOkAndHolds(true));
  EXPECT_THAT(store.Merge(s, m), status::IsOkAndHolds(false));
  ASSERT_OK_AND_ASSIGN(redis::Reply left,
                       redis_->Command({"EXISTS", keys_.Journey(m)}));
  EXPECT_EQ(left.integer(), 0);
  ASSERT_OK_AND_ASSIGN(std::optional<journey::JourneyState> merged,
                       store.Load(t));
  ASSERT_TRUE(merged.has_value());
  EXPECT_EQ(merged->events(), 3);
  journey::Aggregator aggregator(*redis_, keys_);
  ASSERT_OK(aggregator.FoldOnce().status());
  ASSERT_OK_AND_ASSIGN(journey::AggregateFields pain,
                       journey::ReadPainShards(*redis_, keys_));
  journey::AggregateFields want_fields;
  for (const auto& [field, v] : journey::PainContributions(*merged)) {
    if (v != 0) want_fields[field] = v;
  }
  journey::AggregateFields got_fields;
  for (const auto& [field, v] : pain) {
    if (v != 0) got_fields[field] = v;
  }
  EXPECT_EQ(got_fields, want_fields);
}

// The recommendation's merge of M's contact state into S's (different
// partitions), run through or stopped after step 1 or 2 and run again:
// S holds both customers' presentations, holds and cool-downs once, and
// M's keys are gone. Then an outcome for a decision made under M before
// the merge (the decision in M's slot, the contact state in S's), also
// stopped between its steps and retried: the presentation counts once for
// S, and the statistics never count an outcome twice.
TEST_F(ClusterSlotsTest, TheContactStateMergeAndLateOutcomesAreSingleSlot) {
  omnicx::v1::Action a;
  a.set_action_id("a");
  a.set_kind(omnicx::v1::ACTION_KIND_EDUCATION);
  a.set_value(10);
  a.mutable_policy()->set_max_per_window(10);
  a.mutable_policy()->set_window_seconds(86400);
  a.mutable_policy()->set_cooldown_seconds(3600);
  for (int stop_after : {0, 1, 2}) {
    SCOPED_TRACE(absl::StrCat("stopped after step ", stop_after));
    const keys::KeyBuilder keys =
        *keys::KeyBuilder::Create(absl::StrCat("r", stop_after));
    const auto [s, m] = TwoPartitions(absl::StrCat("r", stop_after));
    recommendation::StoreOptions options;
    options.global_daily_cap = 0;
    recommendation::RecommendationStore store(*redis_, keys, options);
    auto reserve = [&](const std::string& cid, const std::string& decision) {
      recommendation::ReserveRequest r;
      r.customer_id = cid;
      r.decision_id = decision;
      r.segment = "detractor";
      r.catalog_version = 1;
      r.ranked = {&a};
      r.now = kNow;
      r.retention = absl::Hours(24);
      return store.Reserve(r);
    };
    auto outcome = [&](recommendation::RecommendationStore& on,
                       const std::string& cid, const std::string& owner,
                       const std::string& decision,
                       omnicx::v1::ActionResponse response) {
      recommendation::OutcomeRequest o;
      o.customer_id = cid;
      o.decision_customer_id = owner;
      o.decision_id = decision;
      o.action_id = "a";
      o.response = response;
      o.occurred_at = kNow;
      o.now = kNow;
      o.cooldown = absl::Hours(1);
      o.retention = absl::Hours(24);
      return on.RecordOutcome(o);
    };
    auto count = [&](const std::string& key) {
      absl::StatusOr<redis::Reply> r = redis_->Command({"ZCARD", key});
      return r.ok() ? r->integer() : -1;
    };
    auto stat = [&](const std::string& counter) {
      absl::StatusOr<redis::Reply> r = redis_->Command(
          {"HGET", keys.NbaStats(), absl::StrCat("a|all|", counter)});
      int64_t n = 0;
      if (r.ok() && !r->is_nil()) (void)absl::SimpleAtoi(r->str(), &n);
      return n;
    };
    ASSERT_OK(reserve(s, "ds").status());
    ASSERT_OK(outcome(store, s, s, "ds", omnicx::v1::ACTION_RESPONSE_PRESENTED)
                  .status());
    ASSERT_OK(reserve(m, "dm1").status());
    ASSERT_OK(outcome(store, m, m, "dm1", omnicx::v1::ACTION_RESPONSE_PRESENTED)
                  .status());
    ASSERT_OK(reserve(m, "dm2").status());  // held, not yet presented
    ASSERT_OK(reserve(m, "dm3").status());
    ASSERT_OK(redis_->Command({"SET", keys.MergedInto(m), s}).status());

    recommendation::StoreOptions crashing = options;
    crashing.step_hook = [stop_after](int step) {
      return step == stop_after ? absl::UnavailableError("crash")
                                : absl::OkStatus();
    };
    recommendation::RecommendationStore first(*redis_, keys, crashing);
    if (stop_after == 0) {
      EXPECT_THAT(first.MergeCustomers(s, m), status::IsOkAndHolds(true));
    } else {
      EXPECT_FALSE(first.MergeCustomers(s, m).ok());
      EXPECT_THAT(store.MergeCustomers(s, m),
                  status::IsOkAndHolds(stop_after == 1));
    }
    EXPECT_THAT(store.MergeCustomers(s, m), status::IsOkAndHolds(false));
    EXPECT_EQ(count(keys.NbaShown(s)), 2);  // ds and dm1, once each
    EXPECT_EQ(count(keys.NbaHeld(s)), 2);   // dm2 and dm3
    ASSERT_OK_AND_ASSIGN(
        redis::Reply left,
        redis_->Command({"EXISTS", keys.NbaShown(m), keys.NbaHeld(m),
                         keys.NbaCooldowns(m), keys.NbaMerged(m)}));
    EXPECT_EQ(left.integer(), 0);
    EXPECT_EQ(stat("imp"), 2);

    // dm2, decided for M before the merge, is presented to S.
    ASSERT_OK_AND_ASSIGN(
        recommendation::OutcomeResult shown,
        outcome(store, s, m, "dm2", omnicx::v1::ACTION_RESPONSE_PRESENTED));
    EXPECT_TRUE(shown.recorded);
    EXPECT_TRUE(shown.impression);
    ASSERT_OK_AND_ASSIGN(shown, outcome(store, s, m, "dm2",
                                        omnicx::v1::ACTION_RESPONSE_PRESENTED));
    EXPECT_FALSE(shown.recorded);
    EXPECT_EQ(count(keys.NbaShown(s)), 3);
    EXPECT_EQ(count(keys.NbaHeld(s)), 1);
    EXPECT_EQ(stat("imp"), 3);

    // dm3 is rejected, and the call stops between its steps: the retry
    // (a duplicate for the decision) still brings S's contact state up to
    // date. The statistics of the interrupted call are lost, never
    // doubled.
    recommendation::StoreOptions crash_after_decision = options;
    crash_after_decision.step_hook = [](int) {
      return absl::UnavailableError("crash");
    };
    recommendation::RecommendationStore interrupted(*redis_, keys,
                                                    crash_after_decision);
    EXPECT_FALSE(
        outcome(interrupted, s, m, "dm3", omnicx::v1::ACTION_RESPONSE_REJECTED)
            .ok());
    ASSERT_OK_AND_ASSIGN(
        recommendation::OutcomeResult rejected,
        outcome(store, s, m, "dm3", omnicx::v1::ACTION_RESPONSE_REJECTED));
    EXPECT_FALSE(rejected.recorded);
    EXPECT_EQ(count(keys.NbaShown(s)), 4);
    EXPECT_EQ(count(keys.NbaHeld(s)), 0);
    ASSERT_OK_AND_ASSIGN(redis::Reply cool,
                         redis_->Command({"HGET", keys.NbaCooldowns(s), "a"}));
    EXPECT_EQ(cool.str(),
              absl::StrCat(absl::ToUnixMillis(kNow + absl::Hours(1))));
    EXPECT_EQ(stat("rej"), 0);
    EXPECT_EQ(stat("imp"), 3);
  }
}

TEST_F(ClusterSlotsTest, LinkMergeAndEraseStayInOneSlotPerCommand) {
  // Six emails on one profile: lift the shared-device guard.
  profile::ProfileStoreOptions options = ProfileOptions();
  options.max_per_type.clear();
  profile::ProfileStore store(*redis_, keys_, options);
  // Six customers, in (almost surely) six partitions.
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(Customer(store, absl::StrCat("u", i, "@example.com"),
                           kNow - absl::Hours(10 - i), 2));
  }
  // Linking: a phone for the first.
  omnicx::v1::CustomerRef ref;
  *ref.mutable_identity() = Id("email", "u0@example.com");
  google::protobuf::RepeatedPtrField<omnicx::v1::Identity> more;
  *more.Add() = Id("phone", "+15550100");
  ASSERT_OK_AND_ASSIGN(profile::Resolution linked,
                       store.Resolve(ref, more, kNow, "call:test"));
  EXPECT_EQ(linked.customer_id, ids[0]);
  // An event naming u1's and u2's emails merges them (ResolveAndMerge).
  *ref.mutable_identity() = Id("email", "u2@example.com");
  google::protobuf::RepeatedPtrField<omnicx::v1::Identity> other;
  *other.Add() = Id("email", "u1@example.com");
  ASSERT_OK_AND_ASSIGN(profile::Resolution merged,
                       store.ResolveAndMerge(ref, other, kNow, "event:x"));
  EXPECT_EQ(merged.customer_id, ids[1]);
  // Explicit merges: a chain over the other partitions.
  for (int i = 1; i < 6; ++i) {
    ASSERT_OK(store.Merge(ids[i - 1], ids[i], kNow, "call:test").status());
  }
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(Owner(store, absl::StrCat("u", i, "@example.com")), ids[0]);
    EXPECT_THAT(store.Canonical(ids[i]), status::IsOkAndHolds(ids[0]));
  }
  ASSERT_OK_AND_ASSIGN(omnicx::v1::Profile p, store.GetProfile(ids[0]));
  EXPECT_EQ(p.event_count(), 12);
  EXPECT_EQ(p.merged_ids_size(), 5);
  EXPECT_EQ(p.identities_size(), 7);
  for (int i = 1; i < 6; ++i) EXPECT_EQ(MergeLogEntries(ids[i]), 1);

  // Erasure: nothing references any of them afterwards.
  ASSERT_OK(store.Erase(ids[0]).status());
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(KeysOf(ids[i]), 0u);
    EXPECT_EQ(Owner(store, absl::StrCat("u", i, "@example.com")), "");
    EXPECT_EQ(MergeLogEntries(ids[i]), 0);
  }
  *ref.mutable_identity() = Id("email", "u3@example.com");
  EXPECT_THAT(store.WasErased(ref), status::IsOkAndHolds(true));
}

// A merge that stops after any of its steps (as a crash would) is finished
// by the next call that meets it, with nothing counted twice.
TEST_F(ClusterSlotsTest, AMergeStoppedAfterAnyStepIsFinishedOnce) {
  for (const std::string step :
       {"freeze", "fold", "repoint", "finalize", "log"}) {
    for (const std::string finisher : {"merge", "apply"}) {
      SCOPED_TRACE(step + " then " + finisher);
      profile::ProfileStoreOptions failing = ProfileOptions();
      failing.fault = [&](absl::string_view at) {
        return at == step ? absl::UnavailableError("crash") : absl::OkStatus();
      };
      profile::ProfileStore crashing(*redis_, keys_, failing);
      profile::ProfileStore store(*redis_, keys_, ProfileOptions());
      const std::string tag = step + finisher;
      const std::string s = Customer(store, "s-" + tag + "@example.com",
                                     kNow - absl::Hours(2), 2);
      const std::string m = Customer(store, "m-" + tag + "@example.com",
                                     kNow - absl::Hours(1), 3);
      EXPECT_THAT(crashing.Merge(s, m, kNow, "call:test"),
                  status::StatusIs(absl::StatusCode::kUnavailable));
      if (finisher == "merge") {
        ASSERT_OK_AND_ASSIGN(profile::MergeResult r,
                             store.Merge(m, s, kNow, "call:test"));
        EXPECT_EQ(r.survivor_id, s);
      } else {
        // An event on either side finishes it: on M (frozen) it is refused
        // for resolving again, on S it waits for the steps left.
        Interaction late = Event("late-" + tag, s, 1794100000);
        EXPECT_THAT(store.Apply(m, late, kNow),
                    status::StatusIs(absl::StatusCode::kAborted));
        EXPECT_THAT(store.Apply(s, late, kNow), status::IsOkAndHolds(true));
      }
      EXPECT_THAT(store.Canonical(m), status::IsOkAndHolds(s));
      EXPECT_EQ(Owner(store, "m-" + tag + "@example.com"), s);
      EXPECT_EQ(KeysOf(m), 1u);  // the redirect alone
      EXPECT_EQ(MergeLogEntries(m), 1);
      ASSERT_OK_AND_ASSIGN(omnicx::v1::Profile p, store.GetProfile(s));
      EXPECT_EQ(p.event_count(), finisher == "merge" ? 5 : 6);
      EXPECT_EQ(p.identities_size(), 2);
      ASSERT_OK_AND_ASSIGN(auto timeline, store.FullTimeline(s));
      EXPECT_EQ(timeline.size(), finisher == "merge" ? 5u : 6u);
      // A redelivery of one of M's events counts nothing.
      Interaction again = Event("m-" + tag + "@example.com-0", s, 1794000000);
      EXPECT_THAT(store.Apply(s, again, kNow), status::IsOkAndHolds(false));
      EXPECT_EQ(redis_->Command({"SCARD", keys_.MergingFrom(s)})->integer(), 0);
    }
  }
}

// An erasure that stops in its last steps is completed by the retry that
// finds the customer's reference gone (WasErased).
TEST_F(ClusterSlotsTest, AnErasureStoppedInItsLastStepsIsCompletedByTheRetry) {
  for (const std::string step :
       {"erase:streams", "erase:profile", "erase:index"}) {
    SCOPED_TRACE(step);
    profile::ProfileStoreOptions failing = ProfileOptions();
    failing.fault = [&](absl::string_view at) {
      return at == step ? absl::UnavailableError("crash") : absl::OkStatus();
    };
    profile::ProfileStore crashing(*redis_, keys_, failing);
    profile::ProfileStore store(*redis_, keys_, ProfileOptions());
    const std::string a =
        Customer(store, "a-" + step + "@example.com", kNow - absl::Hours(2), 1);
    const std::string b =
        Customer(store, "b-" + step + "@example.com", kNow - absl::Hours(1), 1);
    ASSERT_OK(store.Merge(a, b, kNow, "call:test").status());
    EXPECT_THAT(crashing.Erase(a),
                status::StatusIs(absl::StatusCode::kUnavailable));
    // The retry names the customer as EraseCustomer's caller did: by an
    // identity while its index entry remains, else by the customer id.
    omnicx::v1::CustomerRef ref;
    *ref.mutable_identity() = Id("email", "b-" + step + "@example.com");
    if (step == "erase:index") ref.set_customer_id(a);
    absl::StatusOr<std::string> found = store.directory().Lookup(ref);
    if (found.ok()) {
      ASSERT_OK(store.Erase(*found).status());  // still found: erase again
    } else {
      EXPECT_THAT(store.WasErased(ref), status::IsOkAndHolds(true));
    }
    EXPECT_EQ(KeysOf(a), 0u);
    EXPECT_EQ(KeysOf(b), 0u);
    EXPECT_EQ(Owner(store, "a-" + step + "@example.com"), "");
    EXPECT_EQ(Owner(store, "b-" + step + "@example.com"), "");
  }
}

}  // namespace
}  // namespace omnicx
