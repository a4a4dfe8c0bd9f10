// The journey service against a real redis-server: applying resolved
// events once (also through the stream consumer, after a crash between
// applying and acknowledging), order independence through Redis, merges
// driven by the profile service's real merge log, erased customers,
// concurrent writers, pain-point aggregates and the funnel (with the stage
// moves driven by time alone, swept from the due set), and the gRPC
// methods with their validation.
#include "services/journey/journey_store.h"

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/events/applied_ids.h"
#include "libs/identity/directory.h"
#include "libs/keys/key_builder.h"
#include "libs/metrics/registry.h"
#include "libs/redis/client.h"
#include "libs/status/error_details.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/consumer.h"
#include "libs/testing/in_process_server.h"
#include "libs/testing/redis_server.h"
#include "libs/testing/redis_test.h"
#include "libs/testing/wait.h"
#include "libs/time/proto_time.h"
#include "omnicx/v1/journey.grpc.pb.h"
#include "services/journey/aggregator.h"
#include "services/journey/churn_learner.h"
#include "services/journey/event_consumer.h"
#include "services/journey/journey_service.h"
#include "services/journey/pain_points.h"
#include "services/profile/profile_service.h"
#include "services/profile/profile_store.h"

namespace omnicx::journey {
namespace {

using ::omnicx::status::IsOkAndHolds;
using ::omnicx::status::StatusIs;
using ::omnicx::v1::Interaction;
using ::testing::ElementsAre;

constexpr int64_t kDay = 86400000;
constexpr int64_t kT0 = 1790000000000;
const absl::Time kNow = absl::FromUnixMillis(kT0 + 10 * kDay);

Interaction Event(const std::string& id, const std::string& cid,
                  omnicx::v1::Channel channel, const std::string& type,
                  int64_t t_ms) {
  Interaction e;
  e.set_event_id(id);
  e.set_resolved_customer_id(cid);
  e.mutable_customer()->set_customer_id(cid);
  e.set_channel(channel);
  e.set_type(type);
  *e.mutable_occurred_at() = time::TimestampFromUnixMillis(t_ms);
  return e;
}

Interaction CheckoutFailure(const std::string& id, const std::string& cid,
                            int64_t t_ms) {
  Interaction e = Event(id, cid, omnicx::v1::CHANNEL_WEB, "payment", t_ms);
  e.set_touchpoint("checkout");
  e.set_outcome(omnicx::v1::OUTCOME_FAILURE);
  return e;
}

class JourneyStoreTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    if (HasFatalFailure()) return;
    store_ = std::make_unique<JourneyStore>(
        *redis_, keys_, model_, JourneyStoreOptions(), [] { return kNow; });
    directory_ =
        std::make_unique<identity::CustomerDirectory>(*redis_, keys_, kSecret);
  }

  double Customers() {
    double n = 0;
    for (int s = 1; s <= 9; ++s) {
      n += Field(PopulationField(static_cast<omnicx::v1::Stage>(s), "a"));
    }
    return n;
  }

  // The state computed straight from `events`, as one customer's replay.
  JourneyState Replay(const std::vector<Interaction>& events) {
    JourneyState replay;
    for (const Interaction& e : events) {
      ApplyEvent(model_, e, &replay);
      RefreshDerived(model_, &replay);
    }
    return replay;
  }

  JourneyState Stored(const std::string& cid) {
    auto s = store_->Load(cid);
    EXPECT_TRUE(s.ok()) << s.status();
    EXPECT_TRUE(s->has_value());
    return s->value_or(JourneyState());
  }

  // Folds every pending outbox record into the aggregates, as the
  // aggregator's next pass would.
  void Fold(const keys::KeyBuilder& keys) {
    Aggregator aggregator(*redis_, keys);
    ASSERT_OK(aggregator.FoldOnce().status());
  }
  void Fold() { Fold(keys_); }

  // The merged funnel transitions of one day, as "from>to" -> count.
  std::map<std::string, int64_t> Moves(const keys::KeyBuilder& keys,
                                       const std::string& day) {
    Fold(keys);
    auto moves = ReadFunnelShards(*redis_, keys, {day});
    EXPECT_TRUE(moves.ok()) << moves.status();
    return moves.value_or(AggregateFields());
  }

  double Field(const std::string& field) {
    Fold();
    auto f = store_->PainAggregates();
    EXPECT_TRUE(f.ok());
    auto it = f->find(field);
    return it == f->end() ? 0 : it->second;
  }

  static constexpr char kSecret[] = "test-secret-0123456789";
  keys::KeyBuilder keys_ = *keys::KeyBuilder::Create("default");
  CompiledModel model_ = *CompileModel(DefaultJourneyModel());
  std::unique_ptr<JourneyStore> store_;
  std::unique_ptr<identity::CustomerDirectory> directory_;
};

TEST_F(JourneyStoreTest, AppliesAnEventOnce) {
  const Interaction e = CheckoutFailure("e1", "c1", kT0);
  EXPECT_THAT(store_->Apply(e), IsOkAndHolds(ApplyResult::kApplied));
  EXPECT_THAT(store_->Apply(e), IsOkAndHolds(ApplyResult::kDuplicate));
  const JourneyState s = Stored("c1");
  EXPECT_EQ(s.events(), 1);
  EXPECT_EQ(s.stage(), omnicx::v1::STAGE_PURCHASE);
  const std::string key =
      DriverKey(omnicx::v1::CHANNEL_WEB, "payment", "checkout");
  EXPECT_EQ(Field(AggregateField(omnicx::v1::STAGE_PURCHASE, key, "t")), 1);
  EXPECT_EQ(Field(AggregateField(omnicx::v1::STAGE_PURCHASE, key, "n")), 1);
  EXPECT_EQ(Field(PopulationField(omnicx::v1::STAGE_PURCHASE, "a")), 1);
  // The applied record is part of the state: one fingerprint, no other key.
  ASSERT_EQ(s.applied().fingerprints_size(), 1);
  EXPECT_EQ(s.applied().fingerprints(0), events::EventFingerprint("e1"));
  EXPECT_EQ(s.applied().applied_s(0), absl::ToUnixSeconds(kNow));
  const redis::Reply c1_keys =
      *redis_->Command({"KEYS", keys_.CustomerKeyPattern("c1")});
  ASSERT_EQ(c1_keys.elements().size(), 1u);
  EXPECT_EQ(c1_keys.elements()[0].str(), keys_.Journey("c1"));
  Interaction missing = e;
  missing.clear_resolved_customer_id();
  EXPECT_THAT(store_->Apply(missing).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

int64_t ExampleEntries(redis::Client& redis, const keys::KeyBuilder& keys) {
  std::vector<redis::Command> lens;
  for (int p = 0; p < keys::kPartitions; ++p) {
    lens.push_back({"XLEN", keys.ChurnExamples(p)});
  }
  auto r = redis.Pipeline(lens);
  EXPECT_TRUE(r.ok());
  int64_t n = 0;
  for (const auto& one : *r) n += one->integer();
  return n;
}

TEST_F(JourneyStoreTest, TheLearnerLearnsFromLabelsAndRiskMovesAtOnce) {
  // Customers whose checkout failed and who then left; customers who only
  // browsed and were still there a period later.
  std::vector<Interaction> first, second;
  for (int i = 0; i < 40; ++i) {
    const std::string gone = absl::StrCat("gone-", i);
    first.push_back(CheckoutFailure(absl::StrCat("f", i), gone, kT0));
    second.push_back(Event(absl::StrCat("l", i), gone, omnicx::v1::CHANNEL_WEB,
                           "churned", kT0 + kDay));
    const std::string stay = absl::StrCat("stay-", i);
    first.push_back(Event(absl::StrCat("a", i), stay, omnicx::v1::CHANNEL_WEB,
                          "page_view", kT0));
    second.push_back(Event(absl::StrCat("b", i), stay, omnicx::v1::CHANNEL_WEB,
                           "page_view", kT0 + 40 * kDay));
  }
  const Interaction watched = CheckoutFailure("w", "watched", kT0 + 2 * kDay);
  first.push_back(watched);
  for (const auto& batch : {first, second}) {
    for (const auto& r : store_->ApplyBatch(batch)) {
      ASSERT_THAT(r, IsOkAndHolds(ApplyResult::kApplied));
    }
  }
  EXPECT_EQ(Stored("gone-0").stage(), omnicx::v1::STAGE_CHURNED);
  EXPECT_EQ(ExampleEntries(*redis_, keys_), 80);

  // Nothing learned yet: the prior.
  const int64_t now = absl::ToUnixMillis(kNow);
  const JourneyState w = Stored("watched");
  const double prior = Summarize(model_, w, now).churn_risk();
  EXPECT_DOUBLE_EQ(
      Summarize(model_, w, now, 10, store_->Learned().get()).churn_risk(),
      prior);

  ChurnLearner learner(*redis_, keys_, model_);
  EXPECT_THAT(learner.LearnOnce(), IsOkAndHolds(80));  // consumed
  EXPECT_THAT(learner.LearnOnce(), IsOkAndHolds(0));   // each example once
  EXPECT_EQ(ExampleEntries(*redis_, keys_), 0);        // trimmed
  auto stored = ReadChurnModel(*redis_, keys_);
  ASSERT_OK(stored.status());
  EXPECT_EQ(stored->version(), 1);
  // Customers who stayed count once someone left (partition order).
  EXPECT_GT(stored->examples(), 40);
  EXPECT_LE(stored->examples(), 80);
  EXPECT_EQ(stored->positives(), 40);
  EXPECT_EQ(stored->weights().at("n:t:checkout").support(), 40);
  EXPECT_EQ(stored->weights().at("n:t:checkout").positives(), 40);

  // Read with what was learned: the existing customer's risk moves.
  ASSERT_OK(store_->RefreshLearned());
  EXPECT_EQ(store_->Learned()->version(), 1);
  EXPECT_GT(Summarize(model_, w, now, 10, store_->Learned().get()).churn_risk(),
            prior + 0.05);
}

TEST_F(JourneyStoreTest, ArrivalOrderDoesNotMatter) {
  std::vector<Interaction> events;
  for (int i = 0; i < 12; ++i) {
    Interaction e = Event(absl::StrCat("e", i), "", omnicx::v1::CHANNEL_VOICE,
                          i % 3 == 0 ? "complaint" : "support_contact",
                          kT0 + (i * 7919 % 12) * 3600000);
    e.set_case_id(absl::StrCat("case-", i % 2));
    e.mutable_wait()->set_seconds(60 * i);
    events.push_back(e);
  }
  for (Interaction& e : events) e.set_resolved_customer_id("in-order");
  for (const Interaction& e : events) ASSERT_OK(store_->Apply(e).status());
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    Interaction e = *it;
    e.set_resolved_customer_id("reversed");
    ASSERT_OK(store_->Apply(e).status());
  }
  const auto a = Summarize(model_, Stored("in-order"), kT0 + 2 * kDay);
  const auto b = Summarize(model_, Stored("reversed"), kT0 + 2 * kDay);
  EXPECT_NEAR(a.health(), b.health(), 1e-9);
  EXPECT_NEAR(a.churn_risk(), b.churn_risk(), 1e-9);
  EXPECT_EQ(a.stage(), b.stage());
  ASSERT_EQ(a.open_cases_size(), 2);
  ASSERT_EQ(b.open_cases_size(), 2);
  EXPECT_EQ(a.open_cases(0).contact_count(), b.open_cases(0).contact_count());
  ASSERT_EQ(a.drivers_size(), b.drivers_size());
  for (int i = 0; i < a.drivers_size(); ++i) {
    EXPECT_NEAR(a.drivers(i).impact(), b.drivers(i).impact(), 1e-9);
  }
}

TEST_F(JourneyStoreTest, ConcurrentWritersApplyEveryEventExactlyOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        // Overlapping ids: every event is sent by two threads.
        const int n = (t / 2) * 25 + i;
        auto r = store_->Apply(Event(absl::StrCat("e", n), "busy",
                                     omnicx::v1::CHANNEL_WEB, "page_view",
                                     kT0 + n * 1000));
        if (!r.ok()) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Stored("busy").events(), 100);
  EXPECT_EQ(Field(AggregateField(
                omnicx::v1::STAGE_AWARENESS,
                DriverKey(omnicx::v1::CHANNEL_WEB, "page_view", ""), "t")),
            100);
  EXPECT_EQ(Field(PopulationField(omnicx::v1::STAGE_AWARENESS, "a")), 1);
}

TEST_F(JourneyStoreTest, ABatchAppliesEachEventOnceAcrossCustomers) {
  ASSERT_OK(store_->Apply(CheckoutFailure("seen", "a", kT0)).status());
  ASSERT_OK(redis_->Command({"SET", keys_.MergedInto("old"), "b"}).status());
  ASSERT_OK(
      redis_->Command({"SET", keys_.ErasedCustomer("gone"), "1"}).status());
  const std::vector<Interaction> batch = {
      CheckoutFailure("seen", "a", kT0),  // applied before
      Event("a1", "a", omnicx::v1::CHANNEL_WEB, "purchase", kT0 + 1000),
      Event("a1", "a", omnicx::v1::CHANNEL_WEB, "purchase", kT0 + 1000),
      Event("b1", "b", omnicx::v1::CHANNEL_STORE, "page_view", kT0),
      Event("o1", "old", omnicx::v1::CHANNEL_STORE, "page_view", kT0),
      Event("g1", "gone", omnicx::v1::CHANNEL_WEB, "page_view", kT0),
      Event("x1", "", omnicx::v1::CHANNEL_WEB, "page_view", kT0),
  };
  std::vector<absl::StatusOr<ApplyResult>> r = store_->ApplyBatch(batch);
  ASSERT_EQ(r.size(), batch.size());
  EXPECT_THAT(r[0], IsOkAndHolds(ApplyResult::kDuplicate));
  EXPECT_THAT(r[1], IsOkAndHolds(ApplyResult::kApplied));
  EXPECT_THAT(r[2], IsOkAndHolds(ApplyResult::kDuplicate));
  EXPECT_THAT(r[3], IsOkAndHolds(ApplyResult::kApplied));
  EXPECT_THAT(r[4], IsOkAndHolds(ApplyResult::kApplied));  // to survivor b
  EXPECT_THAT(r[5], IsOkAndHolds(ApplyResult::kErased));
  EXPECT_THAT(r[6].status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(Stored("a").events(), 2);
  EXPECT_EQ(Stored("a").stage(), omnicx::v1::STAGE_ONBOARDING);
  EXPECT_EQ(Stored("b").events(), 2);
  EXPECT_EQ(redis_->Command({"EXISTS", keys_.Journey("old")})->integer(), 0);
  EXPECT_EQ(Customers(), 2);
  // a went UNSPECIFIED -> PURCHASE (first call), PURCHASE -> ONBOARDING.
  std::map<std::string, int64_t> moves = Moves(keys_, FunnelDay(kT0));
  EXPECT_EQ(moves["0>3"], 1);
  EXPECT_EQ(moves["3>4"], 1);
  EXPECT_EQ(moves["0>1"], 1);  // b
}

// A batch of many customers, one erased and one merged away, leaves what
// applying its events one at a time leaves: states, pain aggregates, funnel.
// The one-at-a-time store writes under another tenant of the same Redis.
TEST_F(JourneyStoreTest, ABatchOfManyCustomersEqualsApplyingThemOneByOne) {
  const keys::KeyBuilder other = *keys::KeyBuilder::Create("other");
  JourneyStore one_by_one(*redis_, other, model_, JourneyStoreOptions(),
                          [] { return kNow; });
  for (const keys::KeyBuilder* k :
       std::vector<const keys::KeyBuilder*>{&keys_, &other}) {
    ASSERT_OK(redis_->Command({"SET", k->ErasedCustomer("c17"), "1"}).status());
    ASSERT_OK(redis_->Command({"SET", k->MergedInto("c90"), "c3"}).status());
  }
  std::vector<Interaction> batch;
  for (int c = 0; c < 150; ++c) {
    const std::string cid = absl::StrCat("c", c);
    batch.push_back(CheckoutFailure(absl::StrCat("f", c), cid, kT0 + c));
    if (c % 3 == 0) {
      batch.push_back(Event(absl::StrCat("p", c), cid, omnicx::v1::CHANNEL_WEB,
                            "purchase", kT0 + kDay + c));
    }
  }
  std::vector<absl::StatusOr<ApplyResult>> r = store_->ApplyBatch(batch);
  ASSERT_EQ(r.size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const ApplyResult want = batch[i].resolved_customer_id() == "c17"
                                 ? ApplyResult::kErased
                                 : ApplyResult::kApplied;
    EXPECT_THAT(r[i], IsOkAndHolds(want)) << i;
    EXPECT_THAT(one_by_one.Apply(batch[i]), IsOkAndHolds(want)) << i;
  }
  Fold(keys_);
  Fold(other);
  auto batched = store_->PainAggregates();
  auto single = one_by_one.PainAggregates();
  ASSERT_TRUE(batched.ok() && single.ok());
  EXPECT_FALSE(batched->empty());
  EXPECT_EQ(*batched, *single);
  EXPECT_EQ(Stored("c3").events(), 4);  // its own two and c90's two
  EXPECT_EQ(Stored("c149").events(), 1);
  EXPECT_EQ(Customers(), 148);  // 150, less the erased and the merged away
  const std::string day = FunnelDay(kT0 + kDay);
  EXPECT_FALSE(Moves(keys_, day).empty());
  EXPECT_EQ(Moves(keys_, day), Moves(other, day));
  const std::string shard = keys_.AggregateShard(
      keys::KeyBuilder::AggregateShardOf(keys::KeyBuilder::Partition("c0")),
      absl::StrCat("funnel:", day));
  EXPECT_GT(redis_->Command({"TTL", shard})->integer(), 0);
}

TEST_F(JourneyStoreTest, ErasedCustomersAreNotResurrected) {
  ASSERT_OK(
      redis_->Command({"SET", keys_.ErasedCustomer("gone"), "1"}).status());
  EXPECT_THAT(store_->Apply(CheckoutFailure("e1", "gone", kT0)),
              IsOkAndHolds(ApplyResult::kErased));
  auto gone = store_->Load("gone");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
  EXPECT_EQ(redis_
                ->Command({"EXISTS",
                           keys_.Outbox(keys::KeyBuilder::Partition("gone"))})
                ->integer(),
            0);
  Fold();
  EXPECT_THAT(store_->PainAggregates(),
              IsOkAndHolds(std::map<std::string, double>()));
}

// --- moves driven by time alone (the due set and its sweep) ---------------

class TimeDrivenFunnelTest : public JourneyStoreTest {
 protected:
  // A store whose clock is now_ms (moved by the test, never slept).
  std::unique_ptr<JourneyStore> Store() {
    return std::make_unique<JourneyStore>(
        *redis_, keys_, model_, JourneyStoreOptions(),
        [this] { return absl::FromUnixMillis(now_ms_.load()); });
  }

  Interaction Purchase(const std::string& id, const std::string& cid,
                       int64_t t_ms) {
    Interaction e = Event(id, cid, omnicx::v1::CHANNEL_WEB, "purchase", t_ms);
    e.set_value(120);
    return e;
  }

  std::optional<int64_t> Due(const std::string& cid) {
    auto r = redis_->Command(
        {"ZSCORE", keys_.StageDue(keys::KeyBuilder::Partition(cid)), cid});
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok() || r->is_nil()) return std::nullopt;
    return static_cast<int64_t>(std::stod(r->str()));
  }

  // The funnel transitions of the UTC day of `t_ms` as "from>to" -> count.
  std::map<std::string, int64_t> MovesOn(int64_t t_ms) {
    return Moves(keys_, FunnelDay(t_ms));
  }

  static std::string Move(omnicx::v1::Stage from, omnicx::v1::Stage to) {
    return absl::StrCat(static_cast<int>(from), ">", static_cast<int>(to));
  }

  std::atomic<int64_t> now_ms_{kT0};
};

TEST_F(TimeDrivenFunnelTest, AQuietBuyerIsCountedEngagedThenChurnedOnTheDay) {
  using omnicx::v1::STAGE_CHURNED;
  using omnicx::v1::STAGE_ENGAGED;
  using omnicx::v1::STAGE_ONBOARDING;
  auto store = Store();
  const int64_t bought = kT0 + 3000;
  ASSERT_THAT(store->Apply(Purchase("b", "quiet", bought)),
              IsOkAndHolds(ApplyResult::kApplied));
  // The commit scheduled a look a day later.
  EXPECT_EQ(Due("quiet"), bought + kDay);
  now_ms_ = bought + 30 * kDay - 1;
  EXPECT_THAT(store->SweepDue(), IsOkAndHolds(0));
  // Looked at up to now: next at the exact end of onboarding.
  EXPECT_EQ(Due("quiet"), bought + 30 * kDay);
  now_ms_ = bought + 31 * kDay;
  EXPECT_THAT(store->SweepDue(), IsOkAndHolds(1));
  EXPECT_EQ(MovesOn(bought + 30 * kDay)[Move(STAGE_ONBOARDING, STAGE_ENGAGED)],
            1);
  EXPECT_EQ(Stored("quiet").stage(), STAGE_ENGAGED);
  EXPECT_EQ(Due("quiet"), bought + 32 * kDay);
  // Swept again: nothing new.
  EXPECT_THAT(store->SweepDue(), IsOkAndHolds(0));
  // Long after: churned when 180 idle days were over, counted on that day;
  // the customer leaves the due set (nothing ahead without an event).
  now_ms_ = bought + 400 * kDay;
  EXPECT_THAT(store->SweepDue(), IsOkAndHolds(1));
  EXPECT_THAT(store->SweepDue(), IsOkAndHolds(0));
  EXPECT_EQ(MovesOn(bought + 180 * kDay)[Move(STAGE_ENGAGED, STAGE_CHURNED)],
            1);
  EXPECT_EQ(Due("quiet"), std::nullopt);
  Fold();
  auto funnel = store->GetFunnel(absl::FromUnixMillis(kT0),
                                 absl::FromUnixMillis(bought + 200 * kDay));
  ASSERT_OK(funnel.status());
  EXPECT_EQ(funnel->stages,
            (std::map<omnicx::v1::Stage, int64_t>{{STAGE_CHURNED, 1}}));
  EXPECT_EQ(
      funnel->transitions[std::make_pair(STAGE_ONBOARDING, STAGE_ENGAGED)], 1);
  EXPECT_EQ(funnel->transitions[std::make_pair(STAGE_ENGAGED, STAGE_CHURNED)],
            1);

  // A touchpoint from day 100 arrives late: they were not idle 180 days on
  // day 180. The move is taken back and redone on day 280; the funnel
  // counts it once, on the new day.
  ASSERT_THAT(store->Apply(Event("v", "quiet", omnicx::v1::CHANNEL_WEB,
                                 "page_view", bought + 100 * kDay)),
              IsOkAndHolds(ApplyResult::kApplied));
  EXPECT_EQ(
      MovesOn(bought + 180 * kDay).count(Move(STAGE_ENGAGED, STAGE_CHURNED)),
      0u);
  EXPECT_EQ(MovesOn(bought + 280 * kDay)[Move(STAGE_ENGAGED, STAGE_CHURNED)],
            1);
  EXPECT_EQ(MovesOn(bought + 30 * kDay)[Move(STAGE_ONBOARDING, STAGE_ENGAGED)],
            1);
  EXPECT_EQ(Stored("quiet").stage(), STAGE_CHURNED);
  EXPECT_EQ(Stored("quiet").stage_entered_ms(), bought + 280 * kDay);
  EXPECT_THAT(store->SweepDue(), IsOkAndHolds(0));
}

TEST_F(TimeDrivenFunnelTest, IdleRiskThenChurnAreCountedOnceEachEventsAfter) {
  using omnicx::v1::STAGE_AT_RISK;
  using omnicx::v1::STAGE_CHURNED;
  using omnicx::v1::STAGE_ENGAGED;
  auto store = Store();
  // Unhappy, then quiet (journey_state_test: risk passes 0.30 with the idle
  // months shortly before the 180 idle days).
  Interaction complaint = Event("c", "unhappy", omnicx::v1::CHANNEL_VOICE,
                                "complaint", kT0 + 40 * kDay);
  Interaction call = Event("s", "unhappy", omnicx::v1::CHANNEL_WEB,
                           "support_contact", kT0 + 40 * kDay + 1000);
  call.set_case_id("k");
  call.mutable_wait()->set_seconds(1800);
  const int64_t last = kT0 + 40 * kDay + 2000;
  for (const auto& r : store->ApplyBatch(
           {Purchase("b", "unhappy", kT0), complaint, call,
            Event("r", "unhappy", omnicx::v1::CHANNEL_WEB, "return", last)})) {
    ASSERT_THAT(r, IsOkAndHolds(ApplyResult::kApplied));
  }
  const JourneyState before = Stored("unhappy");
  ASSERT_EQ(before.stage(), STAGE_ENGAGED);
  const std::optional<StageTransition> risk = NextStageChange(model_, before);
  ASSERT_TRUE(risk.has_value());
  ASSERT_EQ(risk->to, STAGE_AT_RISK);
  EXPECT_EQ(Due("unhappy"), last + kDay);
  // One sweep long after stores both moves, each on its own day.
  now_ms_ = last + 300 * kDay;
  EXPECT_THAT(store->SweepDue(), IsOkAndHolds(2));
  EXPECT_EQ(MovesOn(risk->at_ms)[Move(STAGE_ENGAGED, STAGE_AT_RISK)], 1);
  EXPECT_EQ(MovesOn(last + 180 * kDay)[Move(STAGE_AT_RISK, STAGE_CHURNED)], 1);
  // A late touchpoint from before the moves changes no stage and counts
  // nothing again.
  ASSERT_THAT(store->Apply(Event("v", "unhappy", omnicx::v1::CHANNEL_WEB,
                                 "page_view", last - kDay)),
              IsOkAndHolds(ApplyResult::kApplied));
  EXPECT_EQ(Stored("unhappy").stage(), STAGE_CHURNED);
  EXPECT_THAT(store->SweepDue(), IsOkAndHolds(0));
  // They come back: one move out of churned, the old ones still once.
  const int64_t back = last + 300 * kDay;
  ASSERT_THAT(store->Apply(Purchase("b2", "unhappy", back)),
              IsOkAndHolds(ApplyResult::kApplied));
  Fold();
  auto funnel =
      store->GetFunnel(absl::FromUnixMillis(kT0), absl::FromUnixMillis(back));
  ASSERT_OK(funnel.status());
  EXPECT_EQ(funnel->transitions[std::make_pair(STAGE_ENGAGED, STAGE_AT_RISK)],
            1);
  EXPECT_EQ(funnel->transitions[std::make_pair(STAGE_AT_RISK, STAGE_CHURNED)],
            1);
  int64_t out_of_churned = 0;
  for (const auto& [move, n] : funnel->transitions) {
    if (move.first == STAGE_CHURNED) out_of_churned += n;
  }
  EXPECT_EQ(out_of_churned, 1);
  EXPECT_EQ(funnel->stages.count(STAGE_CHURNED), 0u);
}

TEST_F(TimeDrivenFunnelTest, SweepersAndRacingEventsCountEachMoveOnce) {
  using omnicx::v1::STAGE_ENGAGED;
  using omnicx::v1::STAGE_ONBOARDING;
  constexpr int kCustomers = 40;
  auto writer = Store();
  for (int i = 0; i < kCustomers; ++i) {
    ASSERT_THAT(writer->Apply(
                    Purchase(absl::StrCat("b", i), absl::StrCat("c", i), kT0)),
                IsOkAndHolds(ApplyResult::kApplied));
  }
  now_ms_ = kT0 + 31 * kDay;
  // Two replicas sweep at once while late touchpoints (from before the end
  // of onboarding) arrive for every customer.
  auto a = Store();
  auto b = Store();
  std::atomic<int64_t> swept{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (JourneyStore* sweeper : {a.get(), b.get()}) {
    threads.emplace_back([&, sweeper] {
      for (int pass = 0; pass < 5; ++pass) {
        auto n = sweeper->SweepDue();
        if (n.ok()) {
          swept += *n;
        } else {
          failures++;
        }
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < kCustomers; ++i) {
      auto r = writer->Apply(Event(absl::StrCat("v", i), absl::StrCat("c", i),
                                   omnicx::v1::CHANNEL_WEB, "page_view",
                                   kT0 + kDay));
      if (!r.ok()) failures++;
    }
  });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  // Whatever a refused sweep left is taken by the next pass.
  for (int pass = 0; pass < 3; ++pass) {
    auto n = a->SweepDue();
    ASSERT_OK(n.status());
    swept += *n;
  }
  EXPECT_EQ(swept.load(), kCustomers);
  EXPECT_EQ(MovesOn(kT0 + 30 * kDay)[Move(STAGE_ONBOARDING, STAGE_ENGAGED)],
            kCustomers);
  for (int i = 0; i < kCustomers; ++i) {
    EXPECT_EQ(Stored(absl::StrCat("c", i)).stage(), STAGE_ENGAGED);
  }
}

TEST_F(TimeDrivenFunnelTest, ErasedAndMergedAwayCustomersLeaveTheDueSet) {
  auto store = Store();
  ASSERT_THAT(store->Apply(Purchase("b", "leaving", kT0)),
              IsOkAndHolds(ApplyResult::kApplied));
  ASSERT_TRUE(Due("leaving").has_value());
  EXPECT_THAT(store->Forget("leaving"), IsOkAndHolds(true));
  EXPECT_EQ(Due("leaving"), std::nullopt);
  // A member whose journey is gone (merged away) leaves at its next sweep.
  ASSERT_OK(redis_
                ->Command({"ZADD",
                           keys_.StageDue(keys::KeyBuilder::Partition("gone")),
                           absl::StrCat(kT0), "gone"})
                .status());
  EXPECT_THAT(store->SweepDue(), IsOkAndHolds(0));
  EXPECT_EQ(Due("gone"), std::nullopt);
}

// The journey store's Redis paths (apply, sweep of the due set, fold,
// forget) as the `journey` ACL user of helm/omnicx/files/redis-acl.conf:
// nothing it sends is refused.
class JourneyAclTest : public testing::RedisTest {
 protected:
  JourneyAclTest()
      : RedisTest({.acl_passwords = testing::TestAclPasswords()},
                  AclUser("journey")) {}
};

TEST_F(JourneyAclTest, StoreAndSweepRunUnderTheJourneyUser) {
  redis::Client* redis = redis_.get();
  const keys::KeyBuilder keys = *keys::KeyBuilder::Create("default");
  const CompiledModel model = *CompileModel(DefaultJourneyModel());
  int64_t now = kT0;
  JourneyStore store(*redis, keys, model, JourneyStoreOptions(),
                     [&now] { return absl::FromUnixMillis(now); });
  Interaction buy = Event("b", "acl", omnicx::v1::CHANNEL_WEB, "purchase", kT0);
  buy.set_value(50);
  ASSERT_THAT(store.Apply(buy), IsOkAndHolds(ApplyResult::kApplied));
  now = kT0 + 31 * kDay;
  EXPECT_THAT(store.SweepDue(), IsOkAndHolds(1));
  Aggregator aggregator(*redis, keys);
  EXPECT_THAT(aggregator.FoldOnce(), IsOkAndHolds(2));
  EXPECT_THAT(store.Forget("acl"), IsOkAndHolds(true));
}

TEST_F(JourneyStoreTest, TheConsumerCountsARedeliveredEventOnce) {
  metrics::Registry registry;
  JourneyHandlers handlers(*store_, registry);
  streams::ConsumerOptions options;
  options.group = "journey";
  options.consumer = "pod-1";
  options.streams = {keys_.ResolvedShard(0)};
  options.dead_letter = keys_.DeadLetter("journey");
  int crash_after_apply = 1;
  streams::StreamConsumer consumer(*redis_, options,
                                   [&](const streams::StreamEntry& e) {
                                     absl::Status s = handlers.HandleEvent(e);
                                     // Killed between applying and
                                     // acknowledging: no XACK.
                                     if (s.ok() && crash_after_apply-- > 0) {
                                       return absl::UnavailableError("killed");
                                     }
                                     return s;
                                   });
  ASSERT_OK(consumer.EnsureGroups());
  ASSERT_OK(
      redis_
          ->Command({"XADD", keys_.ResolvedShard(0), "*", "e",
                     CheckoutFailure("e1", "c1", kT0).SerializeAsString()})
          .status());
  ASSERT_OK(
      redis_
          ->Command({"XADD", keys_.ResolvedShard(0), "*", "e", "not an event"})
          .status());
  ASSERT_OK(consumer.PollOnce(absl::Milliseconds(50)).status());
  ASSERT_OK(consumer.RecoverPending().status());  // the restart
  EXPECT_EQ(Stored("c1").events(), 1);
  EXPECT_EQ(registry.Counter("omnicx_journey_events_total", "", {"result"})
                .WithLabels({"duplicate"})
                .value(),
            1);
  EXPECT_EQ(registry.Counter("omnicx_journey_events_total", "", {"result"})
                .WithLabels({"failed"})
                .value(),
            2);  // the poison entry, twice so far
  // Acknowledged entries are trimmed; the poison one is still pending.
  streams::StreamConsumer cleaner(
      *redis_, options,
      [](const streams::StreamEntry&) { return absl::OkStatus(); });
  ASSERT_OK(cleaner.RecoverPending().status());
  ResolvedShardTrimmer trimmer(*redis_, {keys_.ResolvedShard(0)}, registry,
                               absl::Milliseconds(10));
  ASSERT_TRUE(testing::WaitUntil([&] {
    return redis_->Command({"XLEN", keys_.ResolvedShard(0)})->integer() == 0;
  }));
  trimmer.Stop();
  EXPECT_EQ(redis_->Command({"XPENDING", keys_.ResolvedShard(0), "journey"})
                ->elements()[0]
                .integer(),
            0);
}

TEST_F(JourneyStoreTest, PainPointsAndFunnelAreMaintainedIncrementally) {
  // Three customers fail at checkout, two then buy; one only browses.
  for (int c = 0; c < 3; ++c) {
    const std::string cid = absl::StrCat("c", c);
    ASSERT_OK(store_->Apply(CheckoutFailure(absl::StrCat("f", c), cid, kT0))
                  .status());
    if (c < 2) {
      ASSERT_OK(
          store_
              ->Apply(Event(absl::StrCat("p", c), cid, omnicx::v1::CHANNEL_WEB,
                            "purchase", kT0 + kDay))
              .status());
    }
  }
  ASSERT_OK(store_
                ->Apply(Event("v", "browser", omnicx::v1::CHANNEL_WEB,
                              "page_view", kT0 + kDay))
                .status());
  Fold();
  JourneyServiceImpl service(
      *store_, *directory_, model_,
      omnicx::testing::TestCredentials::Default().authenticator(),
      [] { return kNow; });
  auto server = testing::StartInProcess({&service});
  ASSERT_TRUE(server.ok());
  auto stub = omnicx::v1::JourneyService::NewStub(testing::ChannelTo(**server));

  omnicx::v1::ListPainPointsRequest request;
  omnicx::v1::ListPainPointsResponse top;
  grpc::ClientContext c1;
  ASSERT_TRUE(stub->ListPainPoints(&c1, request, &top).ok());
  ASSERT_GE(top.pain_points_size(), 1);
  EXPECT_EQ(top.pain_points(0).touchpoint(), "checkout");
  EXPECT_EQ(top.pain_points(0).customers_affected(), 3);
  EXPECT_NEAR(top.pain_points(0).negative_rate(), 1.0, 1e-12);
  for (const auto& p : top.pain_points())
    EXPECT_NE(p.touchpoint(), "page_view");

  // Only the customers now in ONBOARDING.
  request.set_stage(omnicx::v1::STAGE_ONBOARDING);
  grpc::ClientContext c2;
  ASSERT_TRUE(stub->ListPainPoints(&c2, request, &top).ok());
  ASSERT_GE(top.pain_points_size(), 1);
  EXPECT_EQ(top.pain_points(0).touchpoint(), "checkout");
  EXPECT_EQ(top.pain_points(0).customers_affected(), 2);

  omnicx::v1::GetFunnelRequest funnel_request;
  *funnel_request.mutable_start_time() =
      time::TimestampFromUnixMillis(kT0 - kDay);
  omnicx::v1::GetFunnelResponse funnel;
  grpc::ClientContext c3;
  ASSERT_TRUE(stub->GetFunnel(&c3, funnel_request, &funnel).ok());
  std::map<omnicx::v1::Stage, int64_t> stages;
  for (const auto& s : funnel.stages()) stages[s.stage()] = s.customers();
  EXPECT_EQ(stages[omnicx::v1::STAGE_ONBOARDING], 2);
  EXPECT_EQ(stages[omnicx::v1::STAGE_PURCHASE], 1);
  EXPECT_EQ(stages[omnicx::v1::STAGE_AWARENESS], 1);
  std::map<std::pair<int, int>, int64_t> moves;
  for (const auto& t : funnel.transitions()) {
    moves[{t.from_stage(), t.to_stage()}] = t.customers();
  }
  EXPECT_EQ(
      (moves[{omnicx::v1::STAGE_UNSPECIFIED, omnicx::v1::STAGE_PURCHASE}]), 3);
  EXPECT_EQ((moves[{omnicx::v1::STAGE_PURCHASE, omnicx::v1::STAGE_ONBOARDING}]),
            2);
  EXPECT_EQ(
      (moves[{omnicx::v1::STAGE_UNSPECIFIED, omnicx::v1::STAGE_AWARENESS}]), 1);

  // Bad queries change nothing and say which field is wrong.
  request.set_limit(101);
  grpc::ClientContext c4;
  grpc::Status bad = stub->ListPainPoints(&c4, request, &top);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(
      status::GetFieldViolations(status::FromGrpcStatus(bad)),
      ElementsAre(::testing::Field(&status::FieldViolation::field, "limit")));
  *funnel_request.mutable_end_time() =
      time::TimestampFromUnixMillis(kT0 - 2 * kDay);
  grpc::ClientContext c5;
  bad = stub->GetFunnel(&c5, funnel_request, &funnel);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status::GetFieldViolations(status::FromGrpcStatus(bad)),
              ElementsAre(::testing::Field(&status::FieldViolation::field,
                                           "start_time")));
}

// The commit writes only the customer's partition: one outbox record, no
// aggregate. A fold counts each record once: folding again, a second
// aggregator racing the first, and a fold retried with the checkpoint read
// before another worker's fold (a crash between reading and writing) all
// leave the counts alone.
TEST_F(JourneyStoreTest, AFoldCountsEachOutboxRecordOnce) {
  const std::string touches = AggregateField(
      omnicx::v1::STAGE_PURCHASE,
      DriverKey(omnicx::v1::CHANNEL_WEB, "payment", "checkout"), "t");
  ASSERT_OK(store_->Apply(CheckoutFailure("e1", "c1", kT0)).status());
  const int p = keys::KeyBuilder::Partition("c1");
  EXPECT_EQ(redis_->Command({"XLEN", keys_.Outbox(p)})->integer(), 1);
  // Nothing is counted until the fold.
  EXPECT_THAT(ReadPainShards(*redis_, keys_), IsOkAndHolds(AggregateFields()));

  // What a worker read before another folded.
  const redis::Reply range =
      *redis_->Command({"XRANGE", keys_.Outbox(p), "-", "+"});
  ASSERT_EQ(range.elements().size(), 1u);
  const OutboxEntry stale{
      range.elements()[0].elements()[0].str(),
      range.elements()[0].elements()[1].elements()[1].str()};
  Aggregator first(*redis_, keys_);
  EXPECT_THAT(first.FoldOnce(), IsOkAndHolds(1));
  EXPECT_EQ(redis_->Command({"XLEN", keys_.Outbox(p)})->integer(), 0);
  EXPECT_EQ(Field(touches), 1);
  EXPECT_THAT(first.FoldOnce(), IsOkAndHolds(0));
  Aggregator second(*redis_, keys_);
  EXPECT_THAT(second.FoldShard(keys::KeyBuilder::AggregateShardOf(p),
                               {{p, "", {stale}}}),
              IsOkAndHolds(false));
  EXPECT_EQ(Field(touches), 1);

  // Many customers while two aggregators fold at once.
  std::atomic<bool> done{false};
  std::vector<std::thread> folders;
  for (Aggregator* a : {&first, &second}) {
    folders.emplace_back([a, &done] {
      while (!done.load()) ASSERT_OK(a->FoldOnce().status());
    });
  }
  for (int c = 0; c < 200; ++c) {
    ASSERT_OK(store_
                  ->Apply(CheckoutFailure(absl::StrCat("r", c),
                                          absl::StrCat("racer", c), kT0))
                  .status());
  }
  done = true;
  for (auto& t : folders) t.join();
  EXPECT_EQ(Field(touches), 201);
  EXPECT_EQ(Customers(), 201);
}

// Strict durability: a fold whose WAIT finds too few replicas (this Redis
// has none) is reported and trims nothing; its checkpoint moved, so the
// records are never folded twice and the next replicated fold trims them.
TEST_F(JourneyStoreTest, AnUnreplicatedFoldLeavesItsRecords) {
  const std::string touches = AggregateField(
      omnicx::v1::STAGE_PURCHASE,
      DriverKey(omnicx::v1::CHANNEL_WEB, "payment", "checkout"), "t");
  ASSERT_OK(store_->Apply(CheckoutFailure("e1", "c1", kT0)).status());
  const int p = keys::KeyBuilder::Partition("c1");
  AggregatorOptions strict;
  strict.replica_wait = {.replicas = 1, .timeout = absl::Milliseconds(10)};
  Aggregator waiting(*redis_, keys_, strict);
  EXPECT_THAT(waiting.FoldOnce(),
              status::StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(redis_->Command({"XLEN", keys_.Outbox(p)})->integer(), 1);
  EXPECT_EQ(Field(touches), 1);  // Field folds again: counted once
  EXPECT_EQ(redis_->Command({"XLEN", keys_.Outbox(p)})->integer(), 1);
  // The partition's next fold trims it with its own records.
  ASSERT_OK(store_->Apply(CheckoutFailure("e2", "c1", kT0)).status());
  Fold();
  EXPECT_EQ(redis_->Command({"XLEN", keys_.Outbox(p)})->integer(), 0);
}

// The profile service resolves and merges; the journey follows through the
// resolved-event shards and the merge log, as in production.
class JourneyWithProfileTest : public JourneyStoreTest {
 protected:
  void SetUp() override {
    JourneyStoreTest::SetUp();
    profile::ProfileStoreOptions options;
    options.identity_secret = kSecret;
    options.stream_shards = 1;
    profile_ = std::make_unique<profile::ProfileStore>(*redis_, keys_, options);
  }

  // What the profile service's consumer does with one event.
  std::string Track(Interaction e, const std::string& email) {
    e.clear_resolved_customer_id();
    e.mutable_customer()->mutable_identity()->set_type("email");
    e.mutable_customer()->mutable_identity()->set_value(email);
    auto who =
        profile_->ResolveAndMerge(e.customer(), e.identities(), kNow, "test");
    EXPECT_TRUE(who.ok()) << who.status();
    EXPECT_TRUE(profile_->Apply(who->customer_id, e, kNow).ok());
    EXPECT_TRUE(
        profile_->PublishResolvedBatch({{who->customer_id, &e}})[0].ok());
    return who->customer_id;
  }

  // Drains the resolved shard and the merge log like the journey service.
  void Follow() {
    metrics::Registry registry;
    JourneyHandlers handlers(*store_, registry);
    streams::ConsumerOptions events;
    events.group = "journey";
    events.consumer = "j";
    events.streams = {keys_.ResolvedShard(0)};
    events.dead_letter = keys_.DeadLetter("journey");
    streams::ConsumerOptions merges = events;
    merges.streams = {keys_.MergeLog()};
    streams::StreamConsumer a(*redis_, events, [&](const auto& e) {
      return handlers.HandleEvent(e);
    });
    streams::StreamConsumer b(*redis_, merges, [&](const auto& e) {
      return handlers.HandleMerge(e);
    });
    ASSERT_OK(a.EnsureGroups());
    ASSERT_OK(b.EnsureGroups());
    ASSERT_OK(a.PollOnce(absl::Milliseconds(20)).status());
    ASSERT_OK(b.PollOnce(absl::Milliseconds(20)).status());
    ASSERT_OK(a.PollOnce(absl::Milliseconds(20)).status());
  }

  std::unique_ptr<profile::ProfileStore> profile_;
};

TEST_F(JourneyWithProfileTest, MergingCustomersEqualsReplayingTheirEvents) {
  std::vector<Interaction> events = {
      CheckoutFailure("a1", "", kT0),
      Event("a2", "", omnicx::v1::CHANNEL_WEB, "purchase", kT0 + kDay),
      Event("b1", "", omnicx::v1::CHANNEL_VOICE, "complaint", kT0 + 2 * kDay),
  };
  events[2].set_case_id("k1");
  const std::string a = Track(events[0], "ann@example.com");
  Track(events[1], "ann@example.com");
  const std::string b = Track(events[2], "bob@example.com");
  Follow();
  ASSERT_NE(a, b);
  EXPECT_EQ(Customers(), 2);

  // An event naming both emails merges them in the profile service.
  Interaction both =
      Event("m1", "", omnicx::v1::CHANNEL_WEB, "login", kT0 + 3 * kDay);
  auto* id = both.add_identities();
  id->set_type("email");
  id->set_value("bob@example.com");
  const std::string survivor = Track(both, "ann@example.com");
  // Both were created at the same `now`: the smaller id survives.
  EXPECT_EQ(survivor, std::min(a, b));
  const std::string gone = survivor == a ? b : a;
  // Before the journey has seen the merge record, reads fold the other in.
  auto early = store_->Load(survivor);
  ASSERT_TRUE(early.ok());
  EXPECT_EQ((*early)->events(), 3);
  Follow();
  // An event still naming the merged id arrives late: the survivor takes it.
  Interaction late = Event("b2", gone, omnicx::v1::CHANNEL_CHAT,
                           "support_contact", kT0 + 4 * kDay);
  late.set_case_id("k1");
  ASSERT_THAT(store_->Apply(late), IsOkAndHolds(ApplyResult::kApplied));

  std::vector<Interaction> all = events;
  all.push_back(both);
  all.push_back(late);
  const JourneyState replay = Replay(all);
  const JourneyState merged = Stored(survivor);
  EXPECT_EQ(merged.events(), 5);
  const int64_t at = kT0 + 5 * kDay;
  const auto want = Summarize(model_, replay, at);
  const auto got = Summarize(model_, merged, at);
  EXPECT_NEAR(got.health(), want.health(), 1e-9);
  EXPECT_NEAR(got.churn_risk(), want.churn_risk(), 1e-9);
  ASSERT_EQ(got.open_cases_size(), 1);
  EXPECT_EQ(got.open_cases(0).contact_count(), 2);
  EXPECT_THAT(got.open_cases(0).channels(),
              ElementsAre(omnicx::v1::CHANNEL_VOICE, omnicx::v1::CHANNEL_CHAT));
  EXPECT_EQ(redis_->Command({"EXISTS", keys_.Journey(gone)})->integer(), 0);
  // One customer left in the aggregates, counted as their state says.
  EXPECT_EQ(Customers(), 1);
  std::map<std::string, double> want_fields;
  for (const auto& [field, v] : PainContributions(merged)) {
    if (v != 0) want_fields[field] = static_cast<double>(v);
  }
  EXPECT_THAT(store_->PainAggregates(), IsOkAndHolds(want_fields));
  // The merge record again (redelivery): nothing moves.
  EXPECT_THAT(store_->Merge(survivor, gone), IsOkAndHolds(false));

  // GetJourney finds the survivor by either email.
  JourneyServiceImpl service(
      *store_, *directory_, model_,
      omnicx::testing::TestCredentials::Default().authenticator(),
      [] { return absl::FromUnixMillis(kT0 + 5 * kDay); });
  auto server = testing::StartInProcess({&service});
  ASSERT_TRUE(server.ok());
  auto stub = omnicx::v1::JourneyService::NewStub(testing::ChannelTo(**server));
  omnicx::v1::GetJourneyRequest request;
  request.mutable_customer()->mutable_identity()->set_type("email");
  request.mutable_customer()->mutable_identity()->set_value(
      " Bob@Example.com ");
  omnicx::v1::GetJourneyResponse response;
  grpc::ClientContext c1;
  ASSERT_TRUE(stub->GetJourney(&c1, request, &response).ok());
  EXPECT_EQ(response.journey().customer_id(), survivor);
  EXPECT_EQ(response.journey().event_count(), 5);
  EXPECT_NEAR(response.journey().health(), want.health(), 1e-9);

  request.mutable_customer()->mutable_identity()->set_value("nobody@x.org");
  grpc::ClientContext c2;
  EXPECT_EQ(stub->GetJourney(&c2, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  request.mutable_customer()->mutable_identity()->set_value("not an email");
  grpc::ClientContext c3;
  grpc::Status bad = stub->GetJourney(&c3, request, &response);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status::GetFieldViolations(status::FromGrpcStatus(bad)),
              ElementsAre(::testing::Field(&status::FieldViolation::field,
                                           "customer.identity.value")));
}

// The profile service crashes after publishing an event and before
// acknowledging it; meanwhile the customer is merged away, so the
// redelivered event is republished under the survivor, and the journey
// sees it before the merge record. It must count once.
TEST_F(JourneyWithProfileTest,
       ARedeliveredEventRepublishedUnderTheSurvivorCountsOnce) {
  const Interaction ann_event = CheckoutFailure("a1", "", kT0);
  Interaction bob_event =
      Event("b1", "", omnicx::v1::CHANNEL_VOICE, "complaint", kT0 + kDay);
  bob_event.set_case_id("k1");
  const std::string a = Track(ann_event, "ann@example.com");
  const std::string b = Track(bob_event, "bob@example.com");
  Follow();

  Interaction both =
      Event("m1", "", omnicx::v1::CHANNEL_WEB, "login", kT0 + 2 * kDay);
  auto* id = both.add_identities();
  id->set_type("email");
  id->set_value("bob@example.com");
  const std::string survivor = Track(both, "ann@example.com");
  const std::string gone = survivor == a ? b : a;
  Interaction again = gone == a ? ann_event : bob_event;
  again.set_resolved_customer_id(survivor);
  again.mutable_customer()->clear_customer_id();
  // Straight to the store, before the merge record, and again through the
  // resolved shard.
  EXPECT_THAT(store_->Apply(again), IsOkAndHolds(ApplyResult::kDuplicate));
  ASSERT_TRUE(profile_->PublishResolvedBatch({{survivor, &again}})[0].ok());
  Follow();

  const JourneyState replay = Replay({ann_event, bob_event, both});
  const JourneyState merged = Stored(survivor);
  EXPECT_EQ(merged.events(), 3);
  const int64_t at = kT0 + 3 * kDay;
  const auto want = Summarize(model_, replay, at);
  const auto got = Summarize(model_, merged, at);
  EXPECT_NEAR(got.health(), want.health(), 1e-9);
  EXPECT_NEAR(got.churn_risk(), want.churn_risk(), 1e-9);
  ASSERT_EQ(got.open_cases_size(), 1);
  EXPECT_EQ(got.open_cases(0).contact_count(), 1);
  EXPECT_EQ(Customers(), 1);
  // A new event under the survivor is still applied.
  Interaction next =
      Event("n1", survivor, omnicx::v1::CHANNEL_WEB, "login", kT0 + 3 * kDay);
  EXPECT_THAT(store_->Apply(next), IsOkAndHolds(ApplyResult::kApplied));
}

}  // namespace
}  // namespace omnicx::journey

namespace omnicx::journey {
namespace {

TEST_F(JourneyWithProfileTest, ErasureTakesTheCustomerOutOfTheAnalytics) {
  Track(CheckoutFailure("a1", "", kT0), "ann@example.com");
  Track(Event("b1", "", omnicx::v1::CHANNEL_WEB, "page_view", kT0),
        "bob@example.com");
  Follow();
  ASSERT_EQ(Customers(), 2);
  const std::string checkout_touches = AggregateField(
      omnicx::v1::STAGE_PURCHASE,
      DriverKey(omnicx::v1::CHANNEL_WEB, "payment", "checkout"), "t");
  ASSERT_EQ(Field(checkout_touches), 1);
  // The customers waiting for a time-driven stage move, over every
  // partition's due set.
  auto due_members = [&] {
    std::vector<redis::Command> reads;
    for (int p = 0; p < keys::kPartitions; ++p) {
      reads.push_back({"ZRANGE", keys_.StageDue(p), "0", "-1"});
    }
    auto r = redis_->Pipeline(reads);
    EXPECT_TRUE(r.ok()) << r.status();
    size_t n = 0;
    for (const auto& one : *r) n += one.ok() ? one->elements().size() : 0;
    return n;
  };
  ASSERT_EQ(due_members(), 2u);

  JourneyServiceImpl journey(
      *store_, *directory_, model_,
      omnicx::testing::TestCredentials::Default().authenticator(),
      [] { return kNow; });
  auto journey_server = testing::StartInProcess({&journey});
  ASSERT_TRUE(journey_server.ok());
  profile::ProfileServiceImpl profile(
      *profile_, omnicx::testing::TestCredentials::Default().authenticator(),
      nullptr, [] { return kNow; }, testing::ChannelTo(**journey_server));
  auto profile_server = testing::StartInProcess({&profile});
  ASSERT_TRUE(profile_server.ok());
  auto stub =
      omnicx::v1::ProfileService::NewStub(testing::ChannelTo(**profile_server));
  omnicx::v1::EraseCustomerRequest erase;
  erase.mutable_customer()->mutable_identity()->set_type("email");
  erase.mutable_customer()->mutable_identity()->set_value("ann@example.com");
  omnicx::v1::EraseCustomerResponse erased;
  grpc::ClientContext c1;
  ASSERT_TRUE(stub->EraseCustomer(&c1, erase, &erased).ok());

  EXPECT_EQ(Customers(), 1);     // bob
  EXPECT_EQ(due_members(), 1u);  // bob
  EXPECT_EQ(Field(checkout_touches), 0);
  EXPECT_TRUE(RankPainPoints(model_, *store_->PainAggregates(), {}).empty());

  // Forgetting again is a no-op; a bad id is refused with the field named.
  auto journey_stub =
      omnicx::v1::JourneyService::NewStub(testing::ChannelTo(**journey_server));
  omnicx::v1::ForgetCustomerRequest forget;
  forget.set_customer_id("nobody");
  omnicx::v1::ForgetCustomerResponse forgotten;
  grpc::ClientContext c2;
  ASSERT_TRUE(journey_stub->ForgetCustomer(&c2, forget, &forgotten).ok());
  EXPECT_FALSE(forgotten.forgotten());
  forget.set_customer_id("has space");
  grpc::ClientContext c3;
  grpc::Status bad = journey_stub->ForgetCustomer(&c3, forget, &forgotten);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status::GetFieldViolations(status::FromGrpcStatus(bad)),
              ElementsAre(::testing::Field(&status::FieldViolation::field,
                                           "customer_id")));
}

}  // namespace
}  // namespace omnicx::journey
