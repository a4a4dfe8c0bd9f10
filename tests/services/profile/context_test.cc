// GetCustomerContext with real Redis and real gRPC peers standing in for the
// journey and recommendation services: complete answers, a peer that is
// down, slow or not implemented (partial answers with the right sections),
// and the cache with its validation by the customer's context version
// (served while nothing it shows changed; never installed by an assembly
// that raced a change).
#include <atomic>
#include <memory>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/keys/key_builder.h"
#include "libs/redis/client.h"
#include "libs/status/error_details.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/in_process_server.h"
#include "libs/testing/redis_server.h"
#include "libs/testing/redis_test.h"
#include "libs/testing/wait.h"
#include "omnicx/v1/journey.grpc.pb.h"
#include "omnicx/v1/recommendation.grpc.pb.h"
#include "services/journey/journey_model.h"
#include "services/journey/journey_store.h"
#include "services/profile/context_assembler.h"
#include "services/profile/profile_store.h"

namespace omnicx::profile {
namespace {

using ::omnicx::status::IsOkAndHolds;
using ::omnicx::status::StatusIs;
using ::omnicx::v1::CustomerContext;

const absl::Time kNow = absl::FromUnixSeconds(1795000000);

// A journey peer answering a summary with health `health()` (42 unless
// set) at once, so a test tells a cached answer from a fresh one.
class JourneyPeer final : public omnicx::v1::JourneyService::CallbackService {
 public:
  grpc::ServerUnaryReactor* GetJourney(
      grpc::CallbackServerContext* context,
      const omnicx::v1::GetJourneyRequest* request,
      omnicx::v1::GetJourneyResponse* response) override {
    calls++;
    auto* reactor = context->DefaultReactor();
    response->mutable_journey()->set_customer_id(
        request->customer().customer_id());
    response->mutable_journey()->set_health(health_.load());
    response->mutable_journey()->set_stage(omnicx::v1::STAGE_AT_RISK);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  void set_health(int health) { health_ = health; }
  int health() const { return health_.load(); }
  std::atomic<int> calls{0};

 private:
  std::atomic<int> health_{42};
};

// Stands in for the recommendation service's DecideForContext: a decision
// with the journey `journey` would answer (health and all), or, without
// one, a journey section saying it was unavailable. Keeps the last request,
// so a test sees what the profile handed over.
//
// Answers at once, or, after Hold(), holds every call (notifying `arrived`
// once one is in) until Release(): a slow peer without a guessed delay. A
// held call is answered only when the test says so, so whatever the caller
// sees before that came from its own deadline (a real gRPC timer) or its
// own in-flight limit, not from the peer.
class RecommendationPeer final
    : public omnicx::v1::RecommendationService::CallbackService {
 public:
  explicit RecommendationPeer(JourneyPeer* journey = nullptr)
      : journey_(journey) {}

  grpc::ServerUnaryReactor* DecideForContext(
      grpc::CallbackServerContext* context,
      const omnicx::v1::DecideForContextRequest* request,
      omnicx::v1::DecideForContextResponse* response) override {
    auto* reactor = context->DefaultReactor();
    Answer(*request, response, journey_);
    bool hold = false;
    absl::Notification* arrived = nullptr;
    {
      absl::MutexLock lock(&mu_);
      last_ = *request;
      hold = holding_;
      if (hold) {
        held_.push_back(reactor);
        std::swap(arrived, arrived_);  // notified once
      }
    }
    if (!hold) reactor->Finish(grpc::Status::OK);
    if (arrived != nullptr) arrived->Notify();
    return reactor;
  }
  static void Answer(const omnicx::v1::DecideForContextRequest& request,
                     omnicx::v1::DecideForContextResponse* response,
                     JourneyPeer* journey) {
    response->mutable_decision()->set_decision_id("d-1");
    response->mutable_decision()->add_actions()->set_action_id(
        "callback_senior_agent");
    response->mutable_journey_section()->set_section("journey");
    if (journey == nullptr) {
      response->mutable_journey_section()->set_code(
          static_cast<int>(absl::StatusCode::kUnavailable));
      return;
    }
    response->mutable_journey()->set_customer_id(
        request.profile().customer_id());
    response->mutable_journey()->set_health(journey->health());
    response->mutable_journey()->set_stage(omnicx::v1::STAGE_AT_RISK);
  }
  // Holds each call from now on (after notifying `arrived`, when given,
  // for the first) until Release().
  void Hold(absl::Notification* arrived = nullptr) {
    absl::MutexLock lock(&mu_);
    holding_ = true;
    arrived_ = arrived;
  }
  // Answers the held calls (a call whose deadline has passed takes the
  // answer as a no-op) and every later one at once.
  void Release() {
    std::vector<grpc::ServerUnaryReactor*> held;
    {
      absl::MutexLock lock(&mu_);
      holding_ = false;
      held.swap(held_);
    }
    for (grpc::ServerUnaryReactor* reactor : held) {
      reactor->Finish(grpc::Status::OK);
    }
  }
  omnicx::v1::DecideForContextRequest last() {
    absl::MutexLock lock(&mu_);
    return last_;
  }

 private:
  JourneyPeer* journey_;
  absl::Mutex mu_;
  bool holding_ = false;
  absl::Notification* arrived_ = nullptr;
  std::vector<grpc::ServerUnaryReactor*> held_;
  omnicx::v1::DecideForContextRequest last_;
};

class ContextTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    if (HasFatalFailure()) return;
    ProfileStoreOptions options;
    options.identity_secret = "test-secret-0123456789";
    store_ = std::make_unique<ProfileStore>(*redis_, keys_, options);
    omnicx::v1::Interaction e;
    e.set_event_id("e1");
    e.set_channel(omnicx::v1::CHANNEL_VOICE);
    e.set_type("complaint");
    e.mutable_occurred_at()->set_seconds(1794990000);
    auto* id = e.mutable_customer()->mutable_identity();
    id->set_type("phone");
    id->set_value("+15551234567");
    auto who = store_->Resolve(e.customer(), e.identities(), kNow);
    ASSERT_TRUE(who.ok()) << who.status();
    cid_ = who->customer_id;
    auto applied = store_->Apply(cid_, e, kNow);
    ASSERT_TRUE(applied.ok()) << applied.status();
  }

  // Held calls are answered first: a server's shutdown waits for its calls.
  void TearDown() override {
    for (RecommendationPeer* peer : holders_) peer->Release();
    servers_.clear();
  }

  // A peer owned by the fixture, so that it outlives the server serving it
  // (gRPC needs a service to outlive its server; a test's locals do not).
  template <typename T, typename... Args>
  T& Peer(Args&&... args) {
    auto peer = std::make_unique<T>(std::forward<Args>(args)...);
    T& out = *peer;
    if constexpr (std::is_same_v<T, RecommendationPeer>)
      holders_.push_back(&out);
    peers_.push_back(std::move(peer));
    return out;
  }

  std::shared_ptr<grpc::Channel> Start(grpc::Service* service) {
    auto s = testing::StartInProcess({service});
    EXPECT_TRUE(s.ok());
    servers_.push_back(std::move(*s));
    return testing::ChannelTo(*servers_.back());
  }

  // A channel to a port nobody listens on.
  std::shared_ptr<grpc::Channel> Down() {
    return grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", testing::PickFreePort()),
        grpc::InsecureChannelCredentials());
  }

  // Starts a call; `done` is notified once its result is in `out`.
  static void StartAssemble(
      ContextAssembler& assembler,
      const omnicx::v1::GetCustomerContextRequest& request,
      absl::Notification& done, absl::StatusOr<CustomerContext>& out) {
    assembler.Assemble(request, [&](absl::StatusOr<CustomerContext> r) {
      out = std::move(r);
      done.Notify();
    });
  }

  static omnicx::v1::GetCustomerContextRequest Request(
      bool recommendations = true) {
    omnicx::v1::GetCustomerContextRequest request;
    auto* id = request.mutable_customer()->mutable_identity();
    id->set_type("phone");
    id->set_value("+1 555 123 4567");
    request.set_include_recommendations(recommendations);
    return request;
  }

  absl::StatusOr<CustomerContext> Assemble(ContextAssembler& assembler,
                                           bool recommendations = true) {
    absl::Notification done;
    absl::StatusOr<CustomerContext> out;
    StartAssemble(assembler, Request(recommendations), done, out);
    done.WaitForNotification();
    return out;
  }

  // Deadlines a loaded machine cannot miss: a test whose peers answer at
  // once (or are down) must not see DEADLINE_EXCEEDED from the defaults'
  // 50 ms.
  static ContextOptions Patient() {
    ContextOptions options;
    options.journey_timeout = absl::Seconds(10);
    options.recommendation_timeout = absl::Seconds(10);
    options.total_timeout = absl::Seconds(10);
    return options;
  }

  // One call through an assembler of its own, returning once the cache
  // write made after its answer is done (the destructor waits for it).
  absl::StatusOr<CustomerContext> AssembleAndCache(
      std::shared_ptr<grpc::Channel> journey,
      std::shared_ptr<grpc::Channel> recommendation) {
    ContextAssembler assembler(*store_, std::move(journey),
                               std::move(recommendation), Patient());
    return Assemble(assembler);
  }

  // A new event for the customer, `at` seconds after the first.
  omnicx::v1::Interaction Event(const std::string& id, int at) {
    omnicx::v1::Interaction e;
    e.set_event_id(id);
    e.set_channel(omnicx::v1::CHANNEL_CHAT);
    e.set_type("chat_message");
    e.mutable_occurred_at()->set_seconds(1794990000 + at);
    return e;
  }

  static int Code(const CustomerContext& c, const std::string& section) {
    for (const auto& s : c.sections()) {
      if (s.section() == section) return s.code();
    }
    return -1;
  }

  keys::KeyBuilder keys_ = *keys::KeyBuilder::Create("default");
  std::unique_ptr<ProfileStore> store_;
  std::string cid_;
  std::vector<std::unique_ptr<grpc::Service>> peers_;  // outlive servers_
  std::vector<RecommendationPeer*> holders_;
  std::vector<std::unique_ptr<server::Server>> servers_;
};

TEST_F(ContextTest, CompleteAnswerIsCachedUntilTheNextEvent) {
  JourneyPeer& journey = Peer<JourneyPeer>();
  RecommendationPeer& recommendation = Peer<RecommendationPeer>(&journey);
  ContextAssembler assembler(*store_, Start(&journey), Start(&recommendation),
                             Patient());
  ASSERT_OK_AND_ASSIGN(CustomerContext c, Assemble(assembler));
  EXPECT_EQ(c.profile().customer_id(), cid_);
  EXPECT_EQ(c.profile().identities(0).value(), "+1******4567");
  ASSERT_EQ(c.recent_size(), 1);
  EXPECT_EQ(c.recent(0).customer().identity().value(), "+1******4567");
  EXPECT_EQ(c.journey().health(), 42);
  EXPECT_EQ(c.journey().customer_id(), cid_);
  ASSERT_EQ(c.next_best_actions_size(), 1);
  EXPECT_EQ(c.decision_id(), "d-1");
  for (const char* s : {"profile", "timeline", "journey", "recommendations"}) {
    EXPECT_EQ(Code(c, s), 0) << s;
  }
  // One internal call: the journey came with the decision, and the decision
  // got the profile as read here.
  EXPECT_EQ(journey.calls.load(), 0);
  EXPECT_EQ(recommendation.last().profile().customer_id(), cid_);
  EXPECT_EQ(recommendation.last().request().customer().customer_id(), cid_);
  EXPECT_EQ(recommendation.last().request().intent(), "agent_console");
  // The cache is written just after the answer goes out.
  testing::WaitUntil(
      [&] {
        return redis_->Command({"EXISTS", keys_.Context(cid_)})->integer() == 1;
      },
      absl::Seconds(2));
  EXPECT_EQ(redis_->Command({"EXISTS", keys_.Context(cid_)})->integer(), 1);
  ASSERT_OK_AND_ASSIGN(CustomerContext again, Assemble(assembler));
  EXPECT_EQ(again.SerializeAsString(), c.SerializeAsString());

  // The event leaves the cache alone (no write per event) but changes the
  // context version, so the next call is assembled afresh.
  ASSERT_TRUE(store_->Apply(cid_, Event("e2", 500), kNow).ok());
  EXPECT_EQ(redis_->Command({"EXISTS", keys_.Context(cid_)})->integer(), 1);
  ASSERT_OK_AND_ASSIGN(CustomerContext fresh, Assemble(assembler));
  EXPECT_EQ(fresh.recent_size(), 2);
}

// A cached context is served while nothing it shows changed, and every kind
// of change (event, consent, traits, link, merge, journey) makes the next
// call fresh, which is then cached in turn. The journey peer's health tells
// a cached answer (the previous health) from a fresh one (the current).
TEST_F(ContextTest, CachedContextIsServedUntilAChangeItShows) {
  JourneyPeer& journey = Peer<JourneyPeer>();
  RecommendationPeer& recommendation = Peer<RecommendationPeer>(&journey);
  const auto journey_channel = Start(&journey);
  const auto recommendation_channel = Start(&recommendation);
  const journey::CompiledModel model =
      *journey::CompileModel(journey::DefaultJourneyModel());
  journey::JourneyStore journeys(*redis_, keys_, model);
  std::string other;  // the customer merged into cid_

  struct Change {
    std::string name;
    std::function<void()> make;
    std::function<void(const CustomerContext&)> shows;
  };
  const std::vector<Change> changes = {
      {"event", [&] { ASSERT_OK(store_->Apply(cid_, Event("e2", 500), kNow)); },
       [](const CustomerContext& c) { EXPECT_EQ(c.recent_size(), 2); }},
      {"consent",
       [&] {
         omnicx::v1::Consent consent;
         consent.set_purpose("marketing");
         consent.set_granted(true);
         ASSERT_OK(store_->SetConsent(cid_, consent));
       },
       [](const CustomerContext& c) {
         ASSERT_EQ(c.profile().consents_size(), 1);
         EXPECT_TRUE(c.profile().consents(0).granted());
       }},
      {"traits",
       [&] {
         google::protobuf::Struct traits;
         (*traits.mutable_fields())["tier"].set_string_value("gold");
         ASSERT_OK(store_->UpdateTraits(cid_, traits, false, kNow));
       },
       [](const CustomerContext& c) {
         EXPECT_EQ(c.profile().traits().fields().at("tier").string_value(),
                   "gold");
       }},
      {"link",
       [&] {
         omnicx::v1::CustomerRef ref;
         ref.set_customer_id(cid_);
         google::protobuf::RepeatedPtrField<omnicx::v1::Identity> ids;
         omnicx::v1::Identity* email = ids.Add();
         email->set_type("email");
         email->set_value("jane@example.com");
         ASSERT_OK(store_->Resolve(ref, ids, kNow, "test"));
       },
       [](const CustomerContext& c) {
         EXPECT_EQ(c.profile().identities_size(), 2);
       }},
      {"merge",
       [&] {
         omnicx::v1::CustomerRef ref;
         ref.set_anonymous_id("other-device");
         ASSERT_OK_AND_ASSIGN(
             Resolution r,
             store_->Resolve(ref, {}, kNow + absl::Hours(1), "test"));
         other = r.customer_id;
         ASSERT_OK(store_->Merge(cid_, other, kNow, "test"));
       },
       [&](const CustomerContext& c) {
         ASSERT_EQ(c.profile().merged_ids_size(), 1);
         EXPECT_EQ(c.profile().merged_ids(0), other);
       }},
      {"journey",
       [&] {
         omnicx::v1::Interaction e = Event("e3", 600);
         e.set_resolved_customer_id(cid_);
         ASSERT_OK_AND_ASSIGN(journey::ApplyResult r, journeys.Apply(e));
         EXPECT_EQ(r, journey::ApplyResult::kApplied);
       },
       [](const CustomerContext&) {}},
  };

  int health = 42;
  journey.set_health(health);
  ASSERT_OK_AND_ASSIGN(
      CustomerContext first,
      AssembleAndCache(journey_channel, recommendation_channel));
  EXPECT_EQ(first.journey().health(), health);
  for (const Change& change : changes) {
    SCOPED_TRACE(change.name);
    journey.set_health(++health);
    ASSERT_OK_AND_ASSIGN(
        CustomerContext cached,
        AssembleAndCache(journey_channel, recommendation_channel));
    EXPECT_EQ(cached.journey().health(), health - 1);  // nothing changed
    change.make();
    ASSERT_OK_AND_ASSIGN(
        CustomerContext fresh,
        AssembleAndCache(journey_channel, recommendation_channel));
    EXPECT_EQ(fresh.journey().health(), health);
    change.shows(fresh);
  }
}

// The race an assembly used to lose: it reads the customer, their consent
// is withdrawn, and its cache write lands after. The write finds the
// version moved and installs nothing, so the next call shows the
// withdrawal. The recommendation peer holds the assembly between the two
// (Hold, then Release once the consent is withdrawn).
TEST_F(ContextTest, AnAssemblyRacingAConsentWithdrawalCachesNothing) {
  omnicx::v1::Consent consent;
  consent.set_purpose("marketing");
  consent.set_granted(true);
  consent.mutable_updated_at()->set_seconds(1794990000);
  ASSERT_OK(store_->SetConsent(cid_, consent));
  JourneyPeer& journey = Peer<JourneyPeer>();
  absl::Notification arrived;
  RecommendationPeer& gated = Peer<RecommendationPeer>(&journey);
  gated.Hold(&arrived);
  ContextOptions options;
  options.recommendation_timeout = absl::Seconds(30);
  options.total_timeout = absl::Seconds(30);
  absl::StatusOr<CustomerContext> racing;
  {
    ContextAssembler assembler(*store_, Start(&journey), Start(&gated),
                               options);
    absl::Notification done;
    StartAssemble(assembler, Request(), done, racing);
    arrived.WaitForNotification();  // the customer has been read
    consent.set_granted(false);
    consent.mutable_updated_at()->set_seconds(1794990100);
    ASSERT_OK(store_->SetConsent(cid_, consent));
    gated.Release();
    done.WaitForNotification();
  }  // the assembler's cache write is done
  // The decision was handed the consent as read before the withdrawal
  // (the recommendation service checks the stored one when it reserves).
  ASSERT_EQ(gated.last().profile().consented_purposes_size(), 1);
  EXPECT_EQ(gated.last().profile().consented_purposes(0), "marketing");
  ASSERT_OK(racing.status());
  ASSERT_EQ(racing->profile().consents_size(), 1);
  EXPECT_TRUE(racing->profile().consents(0).granted());  // read before
  EXPECT_EQ(redis_->Command({"EXISTS", keys_.Context(cid_)})->integer(), 0);

  RecommendationPeer& recommendation = Peer<RecommendationPeer>(&journey);
  ASSERT_OK_AND_ASSIGN(CustomerContext next,
                       AssembleAndCache(Down(), Start(&recommendation)));
  ASSERT_EQ(next.profile().consents_size(), 1);
  EXPECT_FALSE(next.profile().consents(0).granted());
  EXPECT_EQ(recommendation.last().profile().consented_purposes_size(), 0);
}

// The same race on the store alone: a cache write carrying the version read
// before a change writes nothing, whichever change it was, and a context
// cached before a change is not served after it.
TEST_F(ContextTest, CacheWritesCompareTheVersionTheyRead) {
  ASSERT_OK_AND_ASSIGN(ProfileStore::ContextRead before,
                       store_->ReadContext(cid_, "sig"));
  EXPECT_EQ(before.cached, std::nullopt);
  EXPECT_THAT(
      store_->CacheContext(cid_, "sig", before.version, "v1", absl::Minutes(1)),
      IsOkAndHolds(true));
  ASSERT_OK_AND_ASSIGN(ProfileStore::ContextRead hit,
                       store_->ReadContext(cid_, "sig"));
  EXPECT_EQ(hit.version, before.version);
  EXPECT_EQ(hit.cached, "v1");

  omnicx::v1::Consent withdrawn;
  withdrawn.set_purpose("marketing");
  withdrawn.set_granted(false);
  ASSERT_OK(store_->SetConsent(cid_, withdrawn));
  ASSERT_OK_AND_ASSIGN(ProfileStore::ContextRead after,
                       store_->ReadContext(cid_, "sig"));
  EXPECT_NE(after.version, before.version);
  EXPECT_EQ(after.cached, std::nullopt);  // v1 is no longer served
  // A write assembled from the earlier version writes nothing.
  EXPECT_THAT(store_->CacheContext(cid_, "sig", before.version, "stale",
                                   absl::Minutes(1)),
              IsOkAndHolds(false));
  ASSERT_OK_AND_ASSIGN(after, store_->ReadContext(cid_, "sig"));
  EXPECT_EQ(after.cached, std::nullopt);
  // One assembled from the current version is cached, and replaces the
  // contexts of the earlier version.
  EXPECT_THAT(store_->CacheContext(cid_, "other-sig", after.version, "v2",
                                   absl::Minutes(1)),
              IsOkAndHolds(true));
  EXPECT_EQ(redis_->Command({"HLEN", keys_.Context(cid_)})->integer(), 2);
  // An unknown customer gets nothing cached.
  ASSERT_OK_AND_ASSIGN(ProfileStore::ContextRead nobody,
                       store_->ReadContext("c_nobody", "sig"));
  EXPECT_THAT(store_->CacheContext("c_nobody", "sig", nobody.version, "x",
                                   absl::Minutes(1)),
              IsOkAndHolds(false));
  EXPECT_EQ(redis_->Command({"EXISTS", keys_.Context("c_nobody")})->integer(),
            0);
}

TEST_F(ContextTest, JourneyDownGivesAPartialAnswer) {
  RecommendationPeer& recommendation = Peer<RecommendationPeer>();
  ContextAssembler assembler(*store_, Down(), Start(&recommendation),
                             Patient());
  ASSERT_OK_AND_ASSIGN(CustomerContext c, Assemble(assembler));
  EXPECT_EQ(Code(c, "journey"),
            static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(c.has_journey());
  EXPECT_EQ(Code(c, "profile"), 0);
  EXPECT_EQ(Code(c, "recommendations"), 0);
  EXPECT_EQ(c.profile().customer_id(), cid_);
  // Partial answers are not cached.
  EXPECT_EQ(redis_->Command({"EXISTS", keys_.Context(cid_)})->integer(), 0);
}

// Without the decision (the recommendation service down) the journey is
// still shown: the context asks the journey service itself.
TEST_F(ContextTest, RecommendationDownFallsBackToTheJourney) {
  JourneyPeer& journey = Peer<JourneyPeer>();
  ContextAssembler assembler(*store_, Start(&journey), Down(), Patient());
  ASSERT_OK_AND_ASSIGN(CustomerContext c, Assemble(assembler));
  EXPECT_EQ(Code(c, "recommendations"),
            static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_EQ(c.next_best_actions_size(), 0);
  EXPECT_EQ(Code(c, "journey"), 0);
  EXPECT_EQ(c.journey().health(), 42);
  EXPECT_EQ(journey.calls.load(), 1);
  EXPECT_EQ(redis_->Command({"EXISTS", keys_.Context(cid_)})->integer(), 0);
}

// The Redis reads run on the executor, not on the caller's thread; a full
// executor refuses at once with a retry hint.
TEST_F(ContextTest, RedisWorkRunsOnTheExecutorAndAFullOneRefuses) {
  JourneyPeer& journey = Peer<JourneyPeer>();
  RecommendationPeer& recommendation = Peer<RecommendationPeer>(&journey);
  server::BlockingExecutor redis_work(1, 1);
  ContextOptions options = Patient();
  options.redis_work = &redis_work;
  {
    ContextAssembler assembler(*store_, Start(&journey), Start(&recommendation),
                               options);
    ASSERT_OK_AND_ASSIGN(CustomerContext c, Assemble(assembler));
    EXPECT_EQ(c.profile().customer_id(), cid_);
    EXPECT_EQ(Code(c, "recommendations"), 0);
    // Its cache write, queued after the answer, has run.
    ASSERT_TRUE(testing::WaitUntil([&] {
      return redis_->Command({"EXISTS", keys_.Context(cid_)})->integer() == 1;
    }));

    absl::Notification busy, release;
    ASSERT_TRUE(redis_work.Submit([&] {
      busy.Notify();
      release.WaitForNotification();
    }));
    busy.WaitForNotification();
    ASSERT_TRUE(redis_work.Submit([] {}));  // the queue is full
    absl::StatusOr<CustomerContext> refused = Assemble(assembler);
    EXPECT_THAT(refused, StatusIs(absl::StatusCode::kResourceExhausted));
    EXPECT_EQ(status::GetRetryDelay(refused.status()), absl::Milliseconds(100));
    release.Notify();
  }  // the assembler waits for its cache writes, run by the executor
}

// The recommendation peer holds its answer until the end of the test, so
// the answer comes from the call's own gRPC deadline (50 ms), not from the
// peer: the context does not wait for a slow part. (Whether the peer saw
// the call before the deadline depends on the machine's load, so it is not
// checked.) The journey, asked after the decision failed, has a deadline a
// loaded machine cannot miss.
TEST_F(ContextTest, SlowRecommendationsAreCutAtTheirDeadline) {
  JourneyPeer& journey = Peer<JourneyPeer>();
  RecommendationPeer& slow = Peer<RecommendationPeer>();
  slow.Hold();
  ContextOptions options;  // 50 ms for the recommendations
  options.journey_timeout = absl::Seconds(10);
  options.total_timeout = absl::Seconds(10);
  ContextAssembler assembler(*store_, Start(&journey), Start(&slow), options);
  ASSERT_OK_AND_ASSIGN(CustomerContext c, Assemble(assembler));
  EXPECT_EQ(Code(c, "recommendations"),
            static_cast<int>(absl::StatusCode::kDeadlineExceeded));
  EXPECT_EQ(c.next_best_actions_size(), 0);
  EXPECT_EQ(Code(c, "journey"), 0);
  EXPECT_EQ(c.journey().health(), 42);
}

TEST_F(ContextTest, BeyondMaxInFlightACallIsRefusedAtOnce) {
  JourneyPeer& journey = Peer<JourneyPeer>();
  RecommendationPeer& slow = Peer<RecommendationPeer>(&journey);
  absl::Notification arrived;
  slow.Hold(&arrived);
  ContextOptions options;  // deadlines that cannot end the first call
  options.max_in_flight = 1;
  options.recommendation_timeout = absl::Seconds(30);
  options.total_timeout = absl::Seconds(30);
  ContextAssembler assembler(*store_, Start(&journey), Start(&slow), options);
  // The first call holds the only slot while the peer holds its answer.
  omnicx::v1::GetCustomerContextRequest request;
  request.mutable_customer()->set_customer_id(cid_);
  request.set_include_recommendations(true);
  absl::Notification first_done;
  absl::StatusOr<CustomerContext> first;
  StartAssemble(assembler, request, first_done, first);
  arrived.WaitForNotification();
  // The second is answered while the first is still held: it did not queue.
  absl::Notification refused_done;
  absl::StatusOr<CustomerContext> refused;
  StartAssemble(assembler, Request(), refused_done, refused);
  ASSERT_TRUE(refused_done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE(first_done.HasBeenNotified());
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(status::GetRetryDelay(refused.status()), absl::Milliseconds(100));
  slow.Release();
  first_done.WaitForNotification();
  ASSERT_OK(first.status());
  EXPECT_EQ(first->profile().customer_id(), cid_);
  EXPECT_EQ(Code(*first, "recommendations"), 0);
  // The slot is free again.
  ASSERT_OK_AND_ASSIGN(CustomerContext again, Assemble(assembler));
  EXPECT_EQ(again.profile().customer_id(), cid_);
}

TEST_F(ContextTest, UnimplementedPeersAndNoRecommendationsAsked) {
  auto& unimplemented = Peer<omnicx::v1::JourneyService::CallbackService>();
  ContextAssembler assembler(*store_, Start(&unimplemented), Down(), Patient());
  ASSERT_OK_AND_ASSIGN(CustomerContext c, Assemble(assembler, false));
  EXPECT_EQ(Code(c, "journey"),
            static_cast<int>(absl::StatusCode::kUnimplemented));
  EXPECT_EQ(Code(c, "recommendations"), -1);  // not asked for
  EXPECT_EQ(Code(c, "profile"), 0);
}

// A call's last reference may go on a gRPC callback thread after its
// answer went out there; the assembler's destructor waits for it, so the
// ClientContexts' references to the channels are gone before the stubs let
// go of theirs on the destroying thread. (gRPC 1.51 aborts when the last
// user of its callback threads is released on one of them; see Pending in
// context_assembler.cc.) The answer is partial, so no cache write is what
// keeps the assembler waiting.
TEST_F(ContextTest, DestructionWaitsForCallsStillOnACallbackThread) {
  RecommendationPeer& held = Peer<RecommendationPeer>();
  absl::Notification arrived;
  held.Hold(&arrived);
  ContextOptions options;  // deadlines that cannot end the call
  options.recommendation_timeout = absl::Seconds(30);
  options.total_timeout = absl::Seconds(30);
  std::shared_ptr<grpc::Channel> channel = Start(&held);
  auto assembler =
      std::make_unique<ContextAssembler>(*store_, Down(), channel, options);
  absl::Notification answered, may_return;
  absl::StatusOr<CustomerContext> out;
  assembler->Assemble(Request(), [&](absl::StatusOr<CustomerContext> r) {
    out = std::move(r);
    answered.Notify();
    may_return.WaitForNotification();  // holds the callback thread
  });
  arrived.WaitForNotification();
  held.Release();  // answered on a gRPC callback thread
  answered.WaitForNotification();
  ASSERT_OK(out.status());
  EXPECT_EQ(Code(*out, "recommendations"), 0);
  EXPECT_EQ(Code(*out, "journey"),
            static_cast<int>(absl::StatusCode::kUnavailable));

  absl::Notification destroyed;
  std::thread destroyer([&] {
    assembler.reset();
    destroyed.Notify();
  });
  // The callback is still running, so the call is alive: no return.
  EXPECT_FALSE(
      destroyed.WaitForNotificationWithTimeout(absl::Milliseconds(200)));
  may_return.Notify();
  destroyer.join();
  EXPECT_EQ(channel.use_count(), 1);  // this test's own
}

TEST_F(ContextTest, UnknownCustomerAndBadRequests) {
  ContextAssembler assembler(*store_, Down(), Down(), {});
  omnicx::v1::GetCustomerContextRequest request;
  request.mutable_customer()->set_anonymous_id("nobody");
  absl::StatusOr<CustomerContext> out;
  assembler.Assemble(request,
                     [&](absl::StatusOr<CustomerContext> r) { out = r; });
  EXPECT_THAT(out, StatusIs(absl::StatusCode::kNotFound));
  request.set_timeline_limit(1000);
  assembler.Assemble(request,
                     [&](absl::StatusOr<CustomerContext> r) { out = r; });
  EXPECT_THAT(out, StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace omnicx::profile
