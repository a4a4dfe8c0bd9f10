// RecommendationService end to end in-process: real redis-server, a fake
// CustomerReader standing in for the stored profile and journey
// (customer_reader_test.cc covers the real one). Consented,
// explained decisions; consent enforced whatever the caller asks; a missing
// profile means no consents; an unreadable journey gives rule-based
// decisions that say so; slow reads give the fallback within the
// budget; 16 concurrent Recommend + PRESENTED never exceed a cap; outcomes
// idempotent and NOT_FOUND for unknown decisions; bad input; upserts served
// by another replica within 5 s; same seed, same decisions; human touch.
#include <atomic>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/metrics/registry.h"
#include "libs/server/blocking_executor.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/in_process_server.h"
#include "libs/testing/redis_server.h"
#include "libs/testing/redis_test.h"
#include "libs/testing/test_credentials.h"
#include "libs/testing/wait.h"
#include "libs/time/clock.h"
#include "omnicx/v1/recommendation.grpc.pb.h"
#include "services/recommendation/catalog.h"
#include "services/recommendation/customer_reader.h"
#include "services/recommendation/recommendation_service.h"

namespace omnicx::recommendation {
namespace {

using ::omnicx::status::StatusIs;
using ::omnicx::v1::RecommendRequest;
using ::omnicx::v1::RecommendResponse;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1795000000);

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

// Stands in for the customer's stored profile and journey
// (customer_reader_test.cc reads the real keys): profiles keyed by
// customer_id or identity value, journeys by customer id.
class FakeReader final : public CustomerReader {
 public:
  void Put(const std::string& key, omnicx::v1::Profile p) {
    absl::MutexLock lock(&mu_);
    profiles_[key] = std::move(p);
  }
  void Put(const std::string& cid, omnicx::v1::JourneySummary j) {
    absl::MutexLock lock(&mu_);
    journeys_[cid] = std::move(j);
  }
  // Reads wait until Release(): slow Redis reads without a guessed delay,
  // so what a caller sees before the release came from its own deadline or
  // budget (real timers), not from the reader. Release before the executor
  // running the held reads goes.
  void Hold() {
    absl::MutexLock lock(&mu_);
    holding_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    holding_ = false;
  }
  // Reads fail as with Redis unreachable.
  void set_profile_down(bool down) { profile_down_ = down; }
  void set_journey_down(bool down) { journey_down_ = down; }
  // Read calls (the profile and journey of Recommend, RecordOutcome).
  std::atomic<int> calls{0};

  absl::StatusOr<CustomerInputs> Read(const omnicx::v1::CustomerRef& ref,
                                      bool journey) override {
    calls++;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](bool* holding) { return !*holding; }, &holding_));
    }
    if (profile_down_) return absl::UnavailableError("redis down");
    const std::string key =
        ref.has_identity() ? ref.identity().value() : ref.customer_id();
    CustomerInputs in;
    absl::MutexLock lock(&mu_);
    auto it = profiles_.find(key);
    if (it != profiles_.end()) {
      in.customer_id = it->second.customer_id();
      in.profile = it->second;
    } else if (ref.has_customer_id()) {
      in.customer_id = ref.customer_id();
    } else {
      return absl::NotFoundError("no customer with that identity");
    }
    if (journey) in.journey = JourneyLocked(in.customer_id);
    return in;
  }
  absl::StatusOr<omnicx::v1::JourneySummary> ReadJourney(
      const std::string& cid) override {
    absl::MutexLock lock(&mu_);
    return JourneyLocked(cid);
  }

 private:
  absl::StatusOr<omnicx::v1::JourneySummary> JourneyLocked(
      const std::string& cid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (journey_down_) return absl::UnavailableError("redis down");
    auto it = journeys_.find(cid);
    if (it == journeys_.end()) return absl::NotFoundError("no such customer");
    return it->second;
  }

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, omnicx::v1::Profile> profiles_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, omnicx::v1::JourneySummary> journeys_
      ABSL_GUARDED_BY(mu_);
  bool holding_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> profile_down_{false};
  std::atomic<bool> journey_down_{false};
};

omnicx::v1::Profile MakeProfile(const std::string& cid,
                                std::vector<std::string> consents,
                                double ltv = 100) {
  omnicx::v1::Profile p;
  p.set_customer_id(cid);
  p.set_lifetime_value(ltv);
  for (const std::string& c : consents) {
    auto* consent = p.add_consents();
    consent->set_purpose(c);
    consent->set_granted(true);
  }
  return p;
}

omnicx::v1::JourneySummary Happy(const std::string& cid) {
  omnicx::v1::JourneySummary j;
  j.set_customer_id(cid);
  j.set_stage(omnicx::v1::STAGE_ENGAGED);
  j.set_health(85);
  j.set_churn_risk(0.1);
  j.add_segments("digital_first");
  return j;
}

// One recommendation replica over the shared Redis.
struct Replica {
  std::unique_ptr<RecommendationStore> store;
  std::unique_ptr<CatalogWatcher> watcher;
  std::unique_ptr<Recommender> recommender;
  // Destroyed before the recommender (which waits for its calls' leftovers).
  std::unique_ptr<DeadlineTimer> timer;
  std::unique_ptr<RecommendationServiceImpl> service;
  std::unique_ptr<server::Server> server;
  std::unique_ptr<omnicx::v1::RecommendationService::Stub> stub;
};

redis::ClientOptions Pool32() {
  redis::ClientOptions o;
  o.pool_size = 32;
  return o;
}

class ServiceTest : public testing::RedisTest {
 protected:
  ServiceTest() : RedisTest({}, Pool32()) {}

  void TearDown() override {
    reader_.Release();
    replicas_.clear();
  }

  Replica& AddReplica(ActionCatalog seed = DefaultCatalog(),
                      uint64_t thompson_seed = 7) {
    auto r = std::make_unique<Replica>();
    r->store =
        std::make_unique<RecommendationStore>(*redis_, keys_, store_options_);
    WatcherOptions w;
    w.catalog_interval = absl::Milliseconds(200);
    w.stats_interval = absl::Milliseconds(200);
    w.seed = std::move(seed);
    r->watcher = std::make_unique<CatalogWatcher>(*r->store, w, *clock_);
    EXPECT_OK(r->watcher->Refresh());
    r->watcher->Start();
    r->timer = std::make_unique<DeadlineTimer>();
    RecommenderOptions options = recommender_options_;
    options.seed = thompson_seed;
    options.clock = [] { return kNow; };
    r->recommender = std::make_unique<Recommender>(
        *r->store, *r->watcher, reader_, *r->timer, registry_, options);
    r->service = std::make_unique<RecommendationServiceImpl>(
        *r->recommender, *r->store, *r->watcher, 10,
        omnicx::testing::TestCredentials::Default().authenticator());
    r->server = *testing::StartInProcess({r->service.get()});
    r->stub = omnicx::v1::RecommendationService::NewStub(
        testing::ChannelTo(*r->server));
    replicas_.push_back(std::move(r));
    return *replicas_.back();
  }

  // The reader answers `p` for `key`, and the customer's consents are
  // stored as the profile service stores them (the reservation reads them).
  void PutProfile(const std::string& key, const omnicx::v1::Profile& p) {
    profile_.Put(key, p);
    for (const omnicx::v1::Consent& c : p.consents()) {
      ASSERT_OK(
          redis_
              ->Command({"HSET", keys_.Consents(p.customer_id()),
                         c.purpose() + ":granted", c.granted() ? "1" : "0"})
              .status());
    }
  }

  static absl::StatusOr<RecommendResponse> Recommend(
      Replica& r, const RecommendRequest& request,
      absl::Duration deadline = absl::Seconds(5)) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    RecommendResponse response;
    grpc::Status s = r.stub->Recommend(&ctx, request, &response);
    if (!s.ok()) return status::FromGrpcStatus(s);
    return response;
  }

  static RecommendRequest For(const std::string& cid, bool explain = true) {
    RecommendRequest request;
    request.mutable_customer()->set_customer_id(cid);
    request.set_explain(explain);
    return request;
  }

  static absl::StatusOr<bool> Outcome(Replica& r, const std::string& cid,
                                      const std::string& decision,
                                      const std::string& action,
                                      omnicx::v1::ActionResponse response) {
    omnicx::v1::RecordOutcomeRequest request;
    request.mutable_customer()->set_customer_id(cid);
    request.set_decision_id(decision);
    request.set_action_id(action);
    request.set_response(response);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    omnicx::v1::RecordOutcomeResponse out;
    grpc::Status s = r.stub->RecordOutcome(&ctx, request, &out);
    if (!s.ok()) return status::FromGrpcStatus(s);
    return out.recorded();
  }

  // 1 recorded, 0 replay, -1 error.
  static int Recorded(const absl::StatusOr<bool>& r) {
    return r.ok() ? (*r ? 1 : 0) : -1;
  }

  static int Code(const RecommendResponse& r, const std::string& section) {
    for (const auto& s : r.sections()) {
      if (s.section() == section) return s.code();
    }
    return -1;
  }
  static std::string Message(const RecommendResponse& r,
                             const std::string& section) {
    for (const auto& s : r.sections()) {
      if (s.section() == section) return s.message();
    }
    return "";
  }
  static std::string Reason(const RecommendResponse& r, const std::string& id) {
    for (const auto& s : r.suppressed()) {
      if (s.action_id() == id) return s.reason();
    }
    return "";
  }

  keys::KeyBuilder keys_ = *keys::KeyBuilder::Create("default");
  metrics::Registry registry_;
  FakeReader reader_;
  // The same reader, by what the tests put into it.
  FakeReader& profile_ = reader_;
  FakeReader& journey_ = reader_;
  StoreOptions store_options_;
  // The clock of the replicas' catalog watchers.
  time::Clock* clock_ = &time::RealClock();
  // Outlives the replicas (TearDown clears them).
  time::SimulatedClock simulated_{absl::FromUnixSeconds(1000)};
  RecommenderOptions recommender_options_;
  // Executors for the replicas' Redis work, owned here so that one running
  // held reads outlives the test body: TearDown releases the reads (and
  // clears the replicas) before they are joined, however the body ended.
  std::vector<std::unique_ptr<server::BlockingExecutor>> executors_;
  std::vector<std::unique_ptr<Replica>> replicas_;
};

TEST_F(ServiceTest, ConsentedEligibleActionsWithReasonsAndExplanations) {
  PutProfile("c1", MakeProfile("c1", {"marketing"}));
  journey_.Put("c1", Happy("c1"));
  Replica& r = AddReplica();
  RecommendRequest request = For("c1");
  request.set_channel(omnicx::v1::CHANNEL_EMAIL);
  ASSERT_OK_AND_ASSIGN(RecommendResponse resp, Recommend(r, request));
  EXPECT_FALSE(resp.fallback());
  EXPECT_TRUE(absl::StartsWith(resp.decision_id(), "d_"));
  EXPECT_EQ(resp.segment(), "digital_first");
  EXPECT_EQ(resp.catalog_version(), 1);
  EXPECT_EQ(Code(resp, "profile"), 0);
  EXPECT_EQ(Code(resp, "journey"), 0);
  ASSERT_EQ(resp.actions_size(), 3);
  std::set<std::string> ids;
  for (const auto& a : resp.actions()) {
    ids.insert(a.action_id());
    EXPECT_FALSE(a.reasons().empty());
    EXPECT_THAT(a.reasons(0), HasSubstr("priority"));
    EXPECT_FALSE(a.talking_points().empty());
    EXPECT_GT(a.score(), 0);
  }
  for (int i = 1; i < resp.actions_size(); ++i) {
    EXPECT_GE(resp.actions(i - 1).score(), resp.actions(i).score());
  }
  // A happy engaged customer with marketing consent: the premium upgrade is
  // eligible and the NPS survey needs a purpose they did not give.
  EXPECT_EQ(Reason(resp, "survey_nps_relationship"),
            "consent:research missing");
  EXPECT_EQ(Reason(resp, "recovery_apology_credit"),
            "eligibility:no open case");
  EXPECT_EQ(Reason(resp, "outreach_case_update"), "eligibility:no open case");
  EXPECT_EQ(Reason(resp, "callback_senior_agent"),
            "eligibility:health 85 above 45");
  EXPECT_EQ(Reason(resp, "recovery_agent_followup"),
            "channel:not deliverable on email");
  EXPECT_EQ(resp.actions_size() + resp.suppressed_size(),
            DefaultCatalog().actions_size());
}

TEST_F(ServiceTest, ConsentIsEnforcedWhateverTheCallerAsks) {
  PutProfile("c1", MakeProfile("c1", {}));
  journey_.Put("c1", Happy("c1"));
  Replica& r = AddReplica();
  for (int channel = 0; channel <= 12; ++channel) {
    for (const char* intent : {"", "retention", "cross_sell", "marketing"}) {
      RecommendRequest request = For("c1", channel % 2 == 0);
      request.set_channel(static_cast<omnicx::v1::Channel>(channel));
      request.set_intent(intent);
      request.set_max_actions(20);
      ASSERT_OK_AND_ASSIGN(RecommendResponse resp, Recommend(r, request));
      for (const auto& a : resp.actions()) {
        const omnicx::v1::Action* action =
            r.watcher->catalog()->Find(a.action_id());
        ASSERT_NE(action, nullptr);
        EXPECT_EQ(action->required_consent(), "") << a.action_id();
      }
    }
  }
}

TEST_F(ServiceTest, MissingProfileMeansNoConsents) {
  journey_.Put("ghost", Happy("ghost"));  // the profile service says NOT_FOUND
  Replica& r = AddReplica();
  ASSERT_OK_AND_ASSIGN(RecommendResponse resp, Recommend(r, For("ghost")));
  EXPECT_FALSE(resp.fallback());
  EXPECT_EQ(Code(resp, "profile"),
            static_cast<int>(absl::StatusCode::kNotFound));
  EXPECT_EQ(Reason(resp, "cross_sell_premium_upgrade"),
            "consent:marketing missing (profile unavailable)");
  for (const auto& a : resp.actions()) {
    EXPECT_EQ(r.watcher->catalog()->Find(a.action_id())->required_consent(),
              "");
  }
}

// After EraseCustomer (the profile service leaves a tombstone) a request
// by the erased id writes no contact state under it: generic fallback
// actions, the decision section NOT_FOUND.
TEST_F(ServiceTest, AnErasedCustomerGetsFallbackActionsAndNothingWritten) {
  journey_.Put("gone", Happy("gone"));
  Replica& r = AddReplica();
  ASSERT_OK(
      redis_->Command({"SET", keys_.ErasedCustomer("gone"), "1"}).status());
  ASSERT_OK_AND_ASSIGN(RecommendResponse resp, Recommend(r, For("gone")));
  EXPECT_TRUE(resp.fallback());
  EXPECT_EQ(Code(resp, "decision"),
            static_cast<int>(absl::StatusCode::kNotFound));
  for (const auto& a : resp.actions()) {
    EXPECT_EQ(r.watcher->catalog()->Find(a.action_id())->required_consent(),
              "");
  }
  ASSERT_OK_AND_ASSIGN(
      redis::Reply left,
      redis_->Command({"KEYS", keys_.CustomerKeyPattern("gone")}));
  EXPECT_EQ(left.elements().size(), 0u);
}

TEST_F(ServiceTest, UnreadableJourneyGivesRuleBasedDecisionsThatSaySo) {
  PutProfile("c1", MakeProfile("c1", {"marketing"}));
  journey_.Put("c1", Happy("c1"));
  Replica& r = AddReplica();
  ASSERT_OK_AND_ASSIGN(RecommendResponse before, Recommend(r, For("c1")));
  EXPECT_EQ(Code(before, "journey"), 0);
  journey_.set_journey_down(true);
  ASSERT_OK_AND_ASSIGN(RecommendResponse resp, Recommend(r, For("c1")));
  EXPECT_FALSE(resp.fallback());
  EXPECT_EQ(Code(resp, "journey"),
            static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Message(resp, "journey"),
              HasSubstr("decided on rules without journey features"));
  EXPECT_EQ(resp.segment(), "all");
  ASSERT_GT(resp.actions_size(), 0);
  for (const auto& a : resp.actions()) {
    const omnicx::v1::Action* action =
        r.watcher->catalog()->Find(a.action_id());
    EXPECT_FALSE(IsSalesKind(action->kind())) << a.action_id();
    EXPECT_FALSE(action->eligibility().has_has_open_case()) << a.action_id();
    EXPECT_EQ(action->eligibility().stages_size(), 0) << a.action_id();
  }
  EXPECT_EQ(Reason(resp, "cross_sell_premium_upgrade"),
            "eligibility:journey unavailable");
}

TEST_F(ServiceTest, SlowReadsGiveTheFallbackWithinTheBudget) {
  omnicx::v1::Profile p = MakeProfile("c1", {"marketing"});
  PutProfile("jane@example.com", p);
  profile_.Hold();  // until the end of the test
  recommender_options_.budget = absl::Milliseconds(60);
  // The reads block a Redis executor thread, as in the service.
  executors_.push_back(std::make_unique<server::BlockingExecutor>(2, 16));
  recommender_options_.redis_work = executors_.back().get();
  Replica& r = AddReplica();
  RecommendRequest request;
  request.mutable_customer()->mutable_identity()->set_type("email");
  request.mutable_customer()->mutable_identity()->set_value("jane@example.com");
  request.set_channel(omnicx::v1::CHANNEL_VOICE);
  // The read never answers before the release: an answer at all came from
  // the budget's watchdog, a real timer.
  ASSERT_OK_AND_ASSIGN(RecommendResponse resp, Recommend(r, request));
  EXPECT_TRUE(resp.fallback());
  EXPECT_EQ(resp.decision_id(), "");
  std::vector<std::string> ids;
  for (const auto& a : resp.actions()) {
    ids.push_back(a.action_id());
    EXPECT_TRUE(a.fallback());
    // The watchdog, at the budget's end.
    EXPECT_THAT(a.reasons(0), HasSubstr("fallback: "));
  }
  EXPECT_THAT(ids, ::testing::ElementsAre("education_self_service_guide",
                                          "education_account_security"));
  EXPECT_EQ(Code(resp, "decision"),
            static_cast<int>(absl::StatusCode::kDeadlineExceeded));
  EXPECT_EQ(Code(resp, "profile"),
            static_cast<int>(absl::StatusCode::kDeadlineExceeded));

  // A caller deadline shorter than the budget is respected too.
  recommender_options_.budget = absl::Seconds(5);
  Replica& patient = AddReplica();
  // (An answer after the deadline would be DEADLINE_EXCEEDED, not OK.)
  ASSERT_OK_AND_ASSIGN(RecommendResponse resp2,
                       Recommend(patient, request, absl::Milliseconds(300)));
  EXPECT_TRUE(resp2.fallback());
}

TEST_F(ServiceTest, RedisDownGivesTheFallback) {
  PutProfile("c1", MakeProfile("c1", {"marketing"}));
  journey_.Put("c1", Happy("c1"));
  Replica& r = AddReplica();
  ASSERT_OK(redis_server_->Stop());
  ASSERT_OK_AND_ASSIGN(RecommendResponse resp, Recommend(r, For("c1")));
  EXPECT_TRUE(resp.fallback());
  EXPECT_EQ(Code(resp, "decision"),
            static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Message(resp, "decision"),
              HasSubstr("contact state unavailable"));
}

TEST_F(ServiceTest, SixteenConcurrentRecommendAndPresentedNeverExceedACap) {
  ActionCatalog catalog;
  for (const auto& [id, cap] :
       std::vector<std::pair<std::string, int>>{{"a", 2}, {"b", 3}, {"c", 0}}) {
    omnicx::v1::Action* a = catalog.add_actions();
    a->set_action_id(id);
    a->set_kind(omnicx::v1::ACTION_KIND_EDUCATION);
    a->set_value(10);
    a->set_prior_accept_rate(0.3);
    a->mutable_policy()->set_max_per_window(cap);
    a->mutable_policy()->set_window_seconds(86400);
  }
  store_options_.global_daily_cap = 0;
  PutProfile("c1", MakeProfile("c1", {}));
  journey_.Put("c1", Happy("c1"));
  Replica& r = AddReplica(catalog);
  absl::flat_hash_map<std::string, int> shown;
  absl::Mutex mu;
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      auto resp = Recommend(r, For("c1", false));
      ASSERT_TRUE(resp.ok()) << resp.status();
      ASSERT_FALSE(resp->fallback());
      for (const auto& a : resp->actions()) {
        ASSERT_OK(Outcome(r, "c1", resp->decision_id(), a.action_id(),
                          omnicx::v1::ACTION_RESPONSE_PRESENTED)
                      .status());
        absl::MutexLock lock(&mu);
        shown[a.action_id()]++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(shown["a"], 2);
  EXPECT_EQ(shown["b"], 3);
  EXPECT_EQ(shown["c"], 16);
  // And afterwards they stay capped, with the reason.
  ASSERT_OK_AND_ASSIGN(RecommendResponse resp, Recommend(r, For("c1")));
  EXPECT_EQ(Reason(resp, "a"), "cap:2 per 1d reached");
  EXPECT_EQ(Reason(resp, "b"), "cap:3 per 1d reached");
}

TEST_F(ServiceTest, OutcomesAreIdempotentAndFeedStatistics) {
  PutProfile("c1", MakeProfile("c1", {"marketing"}));
  journey_.Put("c1", Happy("c1"));
  Replica& r = AddReplica();
  ASSERT_OK_AND_ASSIGN(RecommendResponse resp, Recommend(r, For("c1")));
  const std::string action = resp.actions(0).action_id();
  const std::string d = resp.decision_id();
  using omnicx::v1::ACTION_RESPONSE_ACCEPTED;
  using omnicx::v1::ACTION_RESPONSE_PRESENTED;
  EXPECT_EQ(Recorded(Outcome(r, "c1", d, action, ACTION_RESPONSE_PRESENTED)),
            1);
  EXPECT_EQ(Recorded(Outcome(r, "c1", d, action, ACTION_RESPONSE_PRESENTED)),
            0);
  EXPECT_EQ(Recorded(Outcome(r, "c1", d, action, ACTION_RESPONSE_ACCEPTED)), 1);
  EXPECT_THAT(Outcome(r, "c1", "d_unknown", action, ACTION_RESPONSE_ACCEPTED),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(
      Outcome(r, "c1", d, "survey_nps_relationship", ACTION_RESPONSE_ACCEPTED),
      StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(
      Outcome(r, "c1", d, action, omnicx::v1::ACTION_RESPONSE_UNSPECIFIED),
      StatusIs(absl::StatusCode::kInvalidArgument));

  grpc::ClientContext ctx;
  omnicx::v1::GetActionStatsRequest sr;
  sr.set_action_id(action);
  omnicx::v1::GetActionStatsResponse stats;
  ASSERT_TRUE(r.stub->GetActionStats(&ctx, sr, &stats).ok());
  ASSERT_EQ(stats.stats_size(), 2);
  EXPECT_EQ(stats.stats(0).segment(), "all");
  EXPECT_EQ(stats.stats(1).segment(), "digital_first");
  for (const auto& s : stats.stats()) {
    EXPECT_EQ(s.impressions(), 1);
    EXPECT_EQ(s.accepts(), 1);
    EXPECT_DOUBLE_EQ(s.accept_rate(), 1.0);
    EXPECT_DOUBLE_EQ(
        s.alpha(),
        std::max(r.watcher->catalog()->Find(action)->prior_accept_rate() * 10,
                 0.01) +
            1);
    EXPECT_GT(s.posterior_mean(), 0);
  }
}

TEST_F(ServiceTest, BadInputIsInvalidArgumentWithFieldViolations) {
  Replica& r = AddReplica();
  RecommendRequest request;
  request.set_max_actions(50);
  request.set_channel(static_cast<omnicx::v1::Channel>(77));
  absl::StatusOr<RecommendResponse> resp = Recommend(r, request);
  EXPECT_THAT(resp, StatusIs(absl::StatusCode::kInvalidArgument));
  std::vector<std::string> fields;
  for (const auto& v : status::GetFieldViolations(resp.status())) {
    fields.push_back(v.field);
  }
  EXPECT_THAT(fields,
              ::testing::ElementsAre("customer", "channel", "max_actions"));

  grpc::ClientContext ctx;
  omnicx::v1::UpsertActionRequest up;
  up.mutable_action()->set_action_id("x");
  up.mutable_action()->set_kind(omnicx::v1::ACTION_KIND_SURVEY);
  omnicx::v1::UpsertActionResponse upr;
  absl::Status s = status::FromGrpcStatus(r.stub->UpsertAction(&ctx, up, &upr));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_EQ(status::GetFieldViolations(s).size(), 1u);
  EXPECT_EQ(status::GetFieldViolations(s)[0].field, "action.value");
  // Nothing was written.
  ASSERT_OK_AND_ASSIGN(int64_t version, r.store->CatalogVersion());
  EXPECT_EQ(version, 1);
}

TEST_F(ServiceTest, UpsertIsServedByEveryReplicaWithinFiveSeconds) {
  PutProfile("c1", MakeProfile("c1", {}));
  journey_.Put("c1", Happy("c1"));
  store_options_.global_daily_cap = 0;
  time::SimulatedClock& clock = simulated_;
  clock_ = &clock;
  Replica& a = AddReplica();
  Replica& b = AddReplica();
  omnicx::v1::UpsertActionRequest up;
  omnicx::v1::Action* action = up.mutable_action();
  action->set_action_id("flash_tutorial");
  action->set_kind(omnicx::v1::ACTION_KIND_EDUCATION);
  action->set_value(100000);
  action->set_prior_accept_rate(0.9);
  grpc::ClientContext ctx;
  omnicx::v1::UpsertActionResponse upr;
  ASSERT_TRUE(a.stub->UpsertAction(&ctx, up, &upr).ok());
  EXPECT_EQ(upr.version(), 2);
  // The replica that took it serves it at once.
  ASSERT_OK_AND_ASSIGN(RecommendResponse now, Recommend(a, For("c1")));
  ASSERT_GT(now.actions_size(), 0);
  EXPECT_EQ(now.actions(0).action_id(), "flash_tutorial");
  auto served_by_b = [&] {
    absl::StatusOr<RecommendResponse> other = Recommend(b, For("c1"));
    return other.ok() && other->catalog_version() == 2 &&
           other->actions_size() > 0 &&
           other->actions(0).action_id() == "flash_tutorial";
  };
  // The other replica polls once per catalog_interval of its clock.
  ASSERT_TRUE(testing::WaitUntil([&] { return clock.waiters() == 2; }));
  EXPECT_FALSE(served_by_b());
  clock.Advance(absl::Milliseconds(200));
  EXPECT_TRUE(testing::WaitUntil(served_by_b));
  grpc::ClientContext lctx;
  omnicx::v1::ListActionsResponse list;
  ASSERT_TRUE(b.stub->ListActions(&lctx, {}, &list).ok());
  EXPECT_EQ(list.version(), 2);
  EXPECT_EQ(list.actions_size(), DefaultCatalog().actions_size() + 1);
}

omnicx::v1::DecideForContextRequest ForContext(
    const std::string& cid, std::vector<std::string> claimed) {
  omnicx::v1::DecideForContextRequest request;
  request.mutable_request()->mutable_customer()->set_customer_id(cid);
  request.mutable_request()->set_channel(omnicx::v1::CHANNEL_EMAIL);
  request.mutable_request()->set_max_actions(20);
  request.mutable_request()->set_explain(true);
  request.mutable_profile()->set_customer_id(cid);
  request.mutable_profile()->set_lifetime_value(100);
  for (std::string& c : claimed) {
    request.mutable_profile()->add_consented_purposes(std::move(c));
  }
  return request;
}

absl::StatusOr<omnicx::v1::DecideForContextResponse> DecideForContext(
    Replica& r, const std::string& key,
    const omnicx::v1::DecideForContextRequest& request) {
  auto stub = omnicx::v1::RecommendationService::NewStub(
      testing::ChannelTo(*r.server, key));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  omnicx::v1::DecideForContextResponse response;
  grpc::Status s = stub->DecideForContext(&ctx, request, &response);
  if (!s.ok()) return status::FromGrpcStatus(s);
  return response;
}

// Only the profile service's own identity may hand a profile in.
TEST_F(ServiceTest, DecideForContextIsOnlyForTheProfileService) {
  journey_.Put("c1", Happy("c1"));
  Replica& r = AddReplica();
  const auto& creds = omnicx::testing::TestCredentials::Default();
  for (const std::string& key :
       {creds.key(auth::Role::kAgent), creds.key(auth::Role::kService),
        creds.key(auth::Role::kApp), creds.internal_key("recommendation")}) {
    EXPECT_THAT(DecideForContext(r, key, ForContext("c1", {})),
                StatusIs(absl::StatusCode::kPermissionDenied));
  }
  EXPECT_OK(
      DecideForContext(r, creds.internal_key("profile"), ForContext("c1", {}))
          .status());
  // The customer handed in must be the one asked about.
  omnicx::v1::DecideForContextRequest mismatched = ForContext("c1", {});
  mismatched.mutable_profile()->set_customer_id("c2");
  EXPECT_THAT(DecideForContext(r, creds.internal_key("profile"), mismatched),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// The context's decision: the profile is not read again, the journey is
// read once and comes back with the decision, and consents the caller
// claims reorder candidates but never deliver an action the customer did
// not consent to (the reservation reads the stored consent).
TEST_F(ServiceTest, DecideForContextNeverDeliversAClaimedConsent) {
  journey_.Put("c1", Happy("c1"));
  journey_.Put("c2", Happy("c2"));
  store_options_.global_daily_cap = 0;
  Replica& r = AddReplica();
  const std::string key =
      omnicx::testing::TestCredentials::Default().internal_key("profile");
  ASSERT_OK_AND_ASSIGN(
      omnicx::v1::DecideForContextResponse claimed,
      DecideForContext(r, key, ForContext("c1", {"marketing", "research"})));
  EXPECT_EQ(profile_.calls.load(), 0);
  EXPECT_EQ(claimed.journey().customer_id(), "c1");
  EXPECT_EQ(claimed.journey().health(), 85);
  EXPECT_EQ(claimed.journey_section().section(), "journey");
  EXPECT_EQ(claimed.journey_section().code(), 0);
  const RecommendResponse& d = claimed.decision();
  EXPECT_FALSE(d.fallback());
  EXPECT_FALSE(d.actions().empty());
  for (const auto& a : d.actions()) {
    EXPECT_EQ(r.watcher->catalog()->Find(a.action_id())->required_consent(), "")
        << a.action_id();
  }
  EXPECT_EQ(Reason(d, "cross_sell_premium_upgrade"),
            "consent:marketing missing");

  // A customer who consented gets it from the same request.
  ASSERT_OK(
      redis_->Command({"HSET", keys_.Consents("c2"), "marketing:granted", "1"})
          .status());
  ASSERT_OK_AND_ASSIGN(
      omnicx::v1::DecideForContextResponse consented,
      DecideForContext(r, key, ForContext("c2", {"marketing"})));
  bool delivered = false;
  for (const auto& a : consented.decision().actions()) {
    delivered |= a.action_id() == "cross_sell_premium_upgrade";
  }
  EXPECT_TRUE(delivered) << consented.DebugString();
  EXPECT_EQ(profile_.calls.load(), 0);
}

// The reads and the reservation run on the Redis executor, not on the gRPC
// callback thread; when its queue is full the answer is the fallback at
// once, and decisions resume as it drains.
TEST_F(ServiceTest, DecisionsRunOnTheRedisExecutor) {
  PutProfile("c1", MakeProfile("c1", {"marketing"}));
  journey_.Put("c1", Happy("c1"));
  server::BlockingExecutor redis_work(1, 1);
  recommender_options_.redis_work = &redis_work;
  Replica& r = AddReplica();
  ASSERT_OK_AND_ASSIGN(RecommendResponse decided, Recommend(r, For("c1")));
  EXPECT_FALSE(decided.fallback());
  EXPECT_FALSE(decided.actions().empty());

  absl::Notification busy, release;
  ASSERT_TRUE(redis_work.Submit([&] {
    busy.Notify();
    release.WaitForNotification();
  }));
  busy.WaitForNotification();
  ASSERT_TRUE(redis_work.Submit([] {}));  // the queue is full
  ASSERT_OK_AND_ASSIGN(RecommendResponse refused, Recommend(r, For("c1")));
  EXPECT_TRUE(refused.fallback());
  EXPECT_EQ(Code(refused, "decision"),
            static_cast<int>(absl::StatusCode::kResourceExhausted));
  release.Notify();
  ASSERT_TRUE(testing::WaitUntil([&] {
    absl::StatusOr<RecommendResponse> again = Recommend(r, For("c1"));
    return again.ok() && !again->fallback();
  }));
  replicas_.clear();  // before the executor they use
}

TEST_F(ServiceTest, SameSeedSameDecisions) {
  PutProfile("c1", MakeProfile("c1", {"marketing"}));
  journey_.Put("c1", Happy("c1"));
  store_options_.global_daily_cap = 0;
  auto run = [&](uint64_t seed) {
    replicas_.clear();
    EXPECT_OK(redis_->Command({"FLUSHALL"}).status());
    Replica& r = AddReplica(DefaultCatalog(), seed);
    std::vector<std::string> out;
    for (int i = 0; i < 8; ++i) {
      auto resp = Recommend(r, For("c1", false));
      EXPECT_TRUE(resp.ok());
      for (const auto& a : resp->actions()) {
        out.push_back(absl::StrCat(a.action_id(), "@", a.propensity()));
      }
    }
    return out;
  };
  const std::vector<std::string> first = run(1234);
  EXPECT_FALSE(first.empty());
  EXPECT_EQ(run(1234), first);
  EXPECT_NE(run(999), first);
}

TEST_F(ServiceTest, HumanTouchForHighValueAfterASevereExperience) {
  PutProfile("vip", MakeProfile("vip", {"marketing"}, 4800));
  omnicx::v1::JourneySummary j;
  j.set_customer_id("vip");
  j.set_stage(omnicx::v1::STAGE_AT_RISK);
  j.set_health(30);
  j.set_churn_risk(0.7);
  j.add_segments("detractor");
  auto* c = j.add_open_cases();
  c->set_case_id("k1");
  *c->mutable_opened_at() = Ts(kNow - absl::Hours(30));
  auto* d = j.add_drivers();
  d->set_touchpoint("delivery");
  d->set_type("delivery");
  d->set_impact(-28);
  *d->mutable_last_at() = Ts(kNow - absl::Hours(30));
  journey_.Put("vip", j);
  Replica& r = AddReplica();
  RecommendRequest request = For("vip");
  request.set_channel(omnicx::v1::CHANNEL_VOICE);
  ASSERT_OK_AND_ASSIGN(RecommendResponse resp, Recommend(r, request));
  EXPECT_TRUE(resp.human_touch());
  ASSERT_GE(resp.actions_size(), 2);
  std::set<std::string> top = {resp.actions(0).action_id(),
                               resp.actions(1).action_id()};
  EXPECT_EQ(top, (std::set<std::string>{"callback_senior_agent",
                                        "recovery_agent_followup"}));
  EXPECT_THAT(resp.actions(0).reasons(),
              ::testing::Contains(HasSubstr("human touch")));
  EXPECT_EQ(resp.segment(), "detractor");
}

}  // namespace
}  // namespace omnicx::recommendation

namespace omnicx::recommendation {
namespace {

// The learning loop through the service: outcomes recorded over gRPC reach
// Redis, replicas re-read the statistics, and later decisions prefer the
// action customers accept.
TEST_F(ServiceTest, OutcomesTeachTheNextDecisions) {
  ActionCatalog catalog;
  for (const char* id : {"bad", "good"}) {
    omnicx::v1::Action* a = catalog.add_actions();
    a->set_action_id(id);
    a->set_kind(omnicx::v1::ACTION_KIND_EDUCATION);
    a->set_value(10);
    a->set_prior_accept_rate(0.2);
  }
  store_options_.global_daily_cap = 0;
  // Learning is under test, not the budget: a loaded machine must not turn
  // one of the 400 decisions into a fallback.
  recommender_options_.budget = absl::Seconds(5);
  Replica& r = AddReplica(catalog);
  std::mt19937_64 world(5);
  std::uniform_real_distribution<double> u(0, 1);
  int good_late = 0;
  for (int i = 0; i < 400; ++i) {
    RecommendRequest request = For(absl::StrCat("u", i), false);
    request.set_max_actions(1);
    ASSERT_OK_AND_ASSIGN(RecommendResponse resp, Recommend(r, request));
    ASSERT_EQ(resp.actions_size(), 1);
    const std::string chosen = resp.actions(0).action_id();
    const bool accepted = u(world) < (chosen == "good" ? 0.6 : 0.05);
    ASSERT_OK(Outcome(r, absl::StrCat("u", i), resp.decision_id(), chosen,
                      accepted ? omnicx::v1::ACTION_RESPONSE_ACCEPTED
                               : omnicx::v1::ACTION_RESPONSE_IGNORED)
                  .status());
    if (i >= 300 && chosen == "good") ++good_late;
    if (i % 50 == 49) {
      ASSERT_OK(r.watcher->RefreshStats());
    }
  }
  EXPECT_GE(good_late, 80);
  grpc::ClientContext ctx;
  omnicx::v1::GetActionStatsResponse stats;
  ASSERT_TRUE(r.stub->GetActionStats(&ctx, {}, &stats).ok());
  ASSERT_EQ(stats.stats_size(), 2);  // "all" of each; no journey segments
  EXPECT_EQ(stats.stats(0).action_id(), "bad");
  EXPECT_EQ(stats.stats(1).action_id(), "good");
  EXPECT_GT(stats.stats(1).posterior_mean(), stats.stats(0).posterior_mean());
  EXPECT_EQ(stats.stats(0).impressions() + stats.stats(1).impressions(), 400);
}

}  // namespace
}  // namespace omnicx::recommendation

namespace omnicx::recommendation {
namespace {

// A decision made before a merge: the outcome names the merged-away id (or
// any handle), the reader resolves it to the survivor, and the decision is
// found under the merged id through merged_ids; the presentation counts for
// the survivor.
TEST_F(ServiceTest, OutcomeForADecisionMadeBeforeAMerge) {
  PutProfile("m", MakeProfile("m", {}));
  journey_.Put("m", Happy("m"));
  Replica& r = AddReplica();
  ASSERT_OK_AND_ASSIGN(RecommendResponse resp, Recommend(r, For("m", false)));
  ASSERT_GT(resp.actions_size(), 0);
  omnicx::v1::Profile survivor = MakeProfile("s", {});
  survivor.add_merged_ids("m");
  PutProfile("m", survivor);  // the id now redirects
  PutProfile("s", survivor);
  const std::string action = resp.actions(0).action_id();
  EXPECT_EQ(Recorded(Outcome(r, "m", resp.decision_id(), action,
                             omnicx::v1::ACTION_RESPONSE_PRESENTED)),
            1);
  EXPECT_EQ(Recorded(Outcome(r, "s", resp.decision_id(), action,
                             omnicx::v1::ACTION_RESPONSE_PRESENTED)),
            0);
  ASSERT_OK_AND_ASSIGN(redis::Reply shown,
                       redis_->Command({"ZCARD", keys_.NbaShown("s")}));
  EXPECT_EQ(shown.integer(), 1);

  // With the profile unreadable, the survivor's id does not lead to the
  // decision made under the merged id: retryable, not NOT_FOUND.
  profile_.set_profile_down(true);
  EXPECT_THAT(Outcome(r, "s", resp.decision_id(), action,
                      omnicx::v1::ACTION_RESPONSE_ACCEPTED),
              StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace omnicx::recommendation
