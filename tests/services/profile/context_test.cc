// GetCustomerContext with real Redis and real gRPC peers standing in for the
// journey and recommendation services: complete answers, a peer that is
// down, slow or not implemented (partial answers with the right sections),
// and the cache with its invalidation by new events.
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/keys/key_builder.h"
#include "libs/redis/client.h"
#include "libs/status/error_details.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/in_process_server.h"
#include "libs/testing/redis_server.h"
#include "omnicx/v1/journey.grpc.pb.h"
#include "omnicx/v1/recommendation.grpc.pb.h"
#include "services/profile/context_assembler.h"
#include "services/profile/profile_store.h"

namespace omnicx::profile {
namespace {

using ::omnicx::status::StatusIs;
using ::omnicx::v1::CustomerContext;

const absl::Time kNow = absl::FromUnixSeconds(1795000000);

// A journey peer answering a fixed summary after `delay`.
class JourneyPeer final : public omnicx::v1::JourneyService::CallbackService {
 public:
  explicit JourneyPeer(absl::Duration delay) : delay_(delay) {}
  grpc::ServerUnaryReactor* GetJourney(
      grpc::CallbackServerContext* context,
      const omnicx::v1::GetJourneyRequest* request,
      omnicx::v1::GetJourneyResponse* response) override {
    auto* reactor = context->DefaultReactor();
    response->mutable_journey()->set_customer_id(
        request->customer().customer_id());
    response->mutable_journey()->set_health(42);
    response->mutable_journey()->set_stage(omnicx::v1::STAGE_AT_RISK);
    std::thread([reactor, d = delay_] {
      absl::SleepFor(d);
      reactor->Finish(grpc::Status::OK);
    }).detach();
    return reactor;
  }

 private:
  absl::Duration delay_;
};

class RecommendationPeer final
    : public omnicx::v1::RecommendationService::CallbackService {
 public:
  explicit RecommendationPeer(absl::Duration delay) : delay_(delay) {}
  grpc::ServerUnaryReactor* Recommend(
      grpc::CallbackServerContext* context,
      const omnicx::v1::RecommendRequest* request,
      omnicx::v1::RecommendResponse* response) override {
    auto* reactor = context->DefaultReactor();
    response->set_decision_id("d-1");
    response->add_actions()->set_action_id("callback_senior_agent");
    std::thread([reactor, d = delay_] {
      absl::SleepFor(d);
      reactor->Finish(grpc::Status::OK);
    }).detach();
    return reactor;
  }

 private:
  absl::Duration delay_;
};

class ContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = testing::RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    redis_server_ = std::move(*server);
    redis::ClientOptions o;
    o.port = redis_server_->port();
    redis_ = redis::Client::Create(o);
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

  absl::StatusOr<CustomerContext> Assemble(ContextAssembler& assembler,
                                           bool recommendations = true) {
    omnicx::v1::GetCustomerContextRequest request;
    auto* id = request.mutable_customer()->mutable_identity();
    id->set_type("phone");
    id->set_value("+1 555 123 4567");
    request.set_include_recommendations(recommendations);
    absl::Notification done;
    absl::StatusOr<CustomerContext> out;
    StartAssemble(assembler, request, done, out);
    done.WaitForNotification();
    return out;
  }

  static int Code(const CustomerContext& c, const std::string& section) {
    for (const auto& s : c.sections()) {
      if (s.section() == section) return s.code();
    }
    return -1;
  }

  keys::KeyBuilder keys_ = *keys::KeyBuilder::Create("default");
  std::unique_ptr<testing::RedisServer> redis_server_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<ProfileStore> store_;
  std::string cid_;
  std::vector<std::unique_ptr<server::Server>> servers_;
};

TEST_F(ContextTest, CompleteAnswerIsCachedUntilTheNextEvent) {
  JourneyPeer journey(absl::ZeroDuration());
  RecommendationPeer recommendation(absl::ZeroDuration());
  ContextAssembler assembler(*store_, Start(&journey), Start(&recommendation),
                             {});
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
  // The cache is written just after the answer goes out.
  const absl::Time deadline = absl::Now() + absl::Seconds(2);
  while (redis_->Command({"EXISTS", keys_.Context(cid_)})->integer() != 1 &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(redis_->Command({"EXISTS", keys_.Context(cid_)})->integer(), 1);
  ASSERT_OK_AND_ASSIGN(CustomerContext again, Assemble(assembler));
  EXPECT_EQ(again.SerializeAsString(), c.SerializeAsString());

  omnicx::v1::Interaction next;
  next.set_event_id("e2");
  next.set_channel(omnicx::v1::CHANNEL_CHAT);
  next.set_type("chat_message");
  next.mutable_occurred_at()->set_seconds(1794990500);
  ASSERT_TRUE(store_->Apply(cid_, next, kNow).ok());
  EXPECT_EQ(redis_->Command({"EXISTS", keys_.Context(cid_)})->integer(), 0);
  ASSERT_OK_AND_ASSIGN(CustomerContext fresh, Assemble(assembler));
  EXPECT_EQ(fresh.recent_size(), 2);
}

TEST_F(ContextTest, JourneyDownGivesAPartialAnswer) {
  RecommendationPeer recommendation(absl::ZeroDuration());
  ContextAssembler assembler(*store_, Down(), Start(&recommendation), {});
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

TEST_F(ContextTest, SlowRecommendationsAreCutAtTheirDeadline) {
  JourneyPeer journey(absl::ZeroDuration());
  RecommendationPeer slow(absl::Milliseconds(400));
  ContextOptions options;  // 50 ms per peer, 150 ms in all
  ContextAssembler assembler(*store_, Start(&journey), Start(&slow), options);
  const absl::Time start = absl::Now();
  ASSERT_OK_AND_ASSIGN(CustomerContext c, Assemble(assembler));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(400));  // did not wait
  EXPECT_EQ(Code(c, "recommendations"),
            static_cast<int>(absl::StatusCode::kDeadlineExceeded));
  EXPECT_EQ(c.next_best_actions_size(), 0);
  EXPECT_EQ(Code(c, "journey"), 0);
  EXPECT_EQ(c.journey().health(), 42);
}

TEST_F(ContextTest, BeyondMaxInFlightACallIsRefusedAtOnce) {
  JourneyPeer journey(absl::ZeroDuration());
  RecommendationPeer slow(absl::Milliseconds(400));
  ContextOptions options;
  options.max_in_flight = 1;
  ContextAssembler assembler(*store_, Start(&journey), Start(&slow), options);
  // The first call holds the only slot while it waits for the slow peer.
  omnicx::v1::GetCustomerContextRequest request;
  request.mutable_customer()->set_customer_id(cid_);
  request.set_include_recommendations(true);
  absl::Notification first_done;
  absl::StatusOr<CustomerContext> first;
  StartAssemble(assembler, request, first_done, first);
  const absl::Time start = absl::Now();
  absl::StatusOr<CustomerContext> refused = Assemble(assembler);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(50));  // did not queue
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(status::GetRetryDelay(refused.status()), absl::Milliseconds(100));
  first_done.WaitForNotification();
  ASSERT_OK(first.status());
  EXPECT_EQ(first->profile().customer_id(), cid_);
  // The slot is free again.
  ASSERT_OK_AND_ASSIGN(CustomerContext again, Assemble(assembler));
  EXPECT_EQ(again.profile().customer_id(), cid_);
}

TEST_F(ContextTest, UnimplementedPeersAndNoRecommendationsAsked) {
  omnicx::v1::JourneyService::CallbackService unimplemented;
  ContextAssembler assembler(*store_, Start(&unimplemented), Down(), {});
  ASSERT_OK_AND_ASSIGN(CustomerContext c, Assemble(assembler, false));
  EXPECT_EQ(Code(c, "journey"),
            static_cast<int>(absl::StatusCode::kUnimplemented));
  EXPECT_EQ(Code(c, "recommendations"), -1);  // not asked for
  EXPECT_EQ(Code(c, "profile"), 0);
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
