// "No raw identity to anyone but an admin": every read of the profile
// service, for every identity type, answers without the raw value anywhere
// in its bytes (identities, links, the timeline's customer and identities,
// traits, properties, consent sources, feedback, cached contexts, errors),
// while ExportCustomer still returns it; errors hold no Redis or host
// detail; a far-future consent is refused. Real Redis, real gRPC.
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/keys/key_builder.h"
#include "libs/redis/client.h"
#include "libs/status/error_details.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/in_process_server.h"
#include "libs/testing/redis_test.h"
#include "libs/time/proto_time.h"
#include "omnicx/v1/journey.grpc.pb.h"
#include "omnicx/v1/profile.grpc.pb.h"
#include "omnicx/v1/recommendation.grpc.pb.h"
#include "services/profile/context_assembler.h"
#include "services/profile/profile_service.h"
#include "services/profile/profile_store.h"

namespace omnicx::profile {
namespace {

using ::omnicx::v1::CustomerRef;
using ::omnicx::v1::ProfileService;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1795000000);

class JourneyPeer final : public omnicx::v1::JourneyService::CallbackService {
  grpc::ServerUnaryReactor* GetJourney(
      grpc::CallbackServerContext* context,
      const omnicx::v1::GetJourneyRequest* request,
      omnicx::v1::GetJourneyResponse* response) override {
    response->mutable_journey()->set_customer_id(
        request->customer().customer_id());
    response->mutable_journey()->set_health(42);
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

class RecommendationPeer final
    : public omnicx::v1::RecommendationService::CallbackService {
  grpc::ServerUnaryReactor* Recommend(
      grpc::CallbackServerContext* context,
      const omnicx::v1::RecommendRequest* request,
      omnicx::v1::RecommendResponse* response) override {
    response->set_decision_id("d_1");
    response->add_actions()->set_action_id("callback_senior_agent");
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  grpc::ServerUnaryReactor* DecideForContext(
      grpc::CallbackServerContext* context,
      const omnicx::v1::DecideForContextRequest* request,
      omnicx::v1::DecideForContextResponse* response) override {
    response->mutable_decision()->set_decision_id("d_1");
    response->mutable_decision()->add_actions()->set_action_id(
        "callback_senior_agent");
    response->mutable_journey()->set_customer_id(
        request->profile().customer_id());
    response->mutable_journey()->set_health(42);
    response->mutable_journey_section()->set_section("journey");
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// One identity type, a raw value of it as a caller writes it, and the
// normalised form stored (both must stay out of every non-admin answer).
struct IdentityCase {
  std::string type;
  std::string raw;
  std::string stored;
  std::string unknown;  // a well-formed value nobody has
};

const IdentityCase kCases[] = {
    {"email", " Jane.Doe@Example.com ", "jane.doe@example.com",
     "nobody.here@example.com"},
    {"phone", "+1 (555) 123-4567", "+15551234567", "+15550009999"},
    {"crm_id", "CRM-4242-7777", "CRM-4242-7777", "CRM-0000-0001"},
    {"device_id", "dev-9f8e7d6c5b", "dev-9f8e7d6c5b", "dev-000000000"},
    {"loyalty_id", "LOY-31415926", "LOY-31415926", "LOY-00000000"},
    {"anonymous_id", "anon-27182818", "anon-27182818", "anon-00000000"},
};

void PrintTo(const IdentityCase& c, std::ostream* os) { *os << c.type; }

CustomerRef RefOf(const std::string& type, const std::string& value) {
  CustomerRef ref;
  if (type == "anonymous_id") {
    ref.set_anonymous_id(value);
  } else {
    ref.mutable_identity()->set_type(type);
    ref.mutable_identity()->set_value(value);
  }
  return ref;
}

// Everything a caller can read from a call: the message, the details
// trailer and the response bytes.
template <typename Response>
std::string Seen(const grpc::Status& s, const Response& response) {
  return absl::StrCat(s.error_message(), "|", s.error_details(), "|",
                      response.SerializeAsString());
}

class ReadMaskingFixture : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    if (HasFatalFailure()) return;
    ProfileStoreOptions options;
    options.identity_secret = "test-secret-0123456789";
    store_ = std::make_unique<ProfileStore>(*redis_, keys_, options);
    ContextOptions context;
    context.journey_timeout = context.recommendation_timeout = absl::Seconds(5);
    context.total_timeout = absl::Seconds(10);
    assembler_ = std::make_unique<ContextAssembler>(
        *store_, Start(&journey_), Start(&recommendation_), context);
    service_ = std::make_unique<ProfileServiceImpl>(
        *store_, testing::TestCredentials::Default().authenticator(),
        assembler_.get(), [] { return kNow; });
    stub_ = ProfileService::NewStub(Start(service_.get()));
  }

  void TearDown() override {
    stub_.reset();
    servers_.clear();
  }

  std::shared_ptr<grpc::Channel> Start(grpc::Service* service) {
    auto s = testing::StartInProcess({service});
    EXPECT_TRUE(s.ok());
    servers_.push_back(std::move(*s));
    return testing::ChannelTo(*servers_.back());
  }

  static std::unique_ptr<grpc::ClientContext> Ctx() {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    return c;
  }

  // A customer known by the case's identity, with the identity (or, for
  // the free-text rules, the value) in every place a read can show it.
  std::string Seed(const IdentityCase& c) {
    omnicx::v1::Interaction e;
    e.set_event_id("e1");
    e.set_channel(omnicx::v1::CHANNEL_VOICE);
    e.set_type("complaint");
    e.mutable_occurred_at()->set_seconds(1794990000);
    *e.mutable_customer() = RefOf(c.type, c.stored);
    if (c.type != "anonymous_id") *e.add_identities() = e.customer().identity();
    auto& props = *e.mutable_properties()->mutable_fields();
    props[c.type].set_string_value(c.raw);  // named by its type
    if (c.type == "email" || c.type == "phone") {
      props["typed_at_checkout"].set_string_value(c.raw);  // looks like one
      e.mutable_feedback()->set_comment(
          absl::StrCat("please reach me at ", c.stored, " tomorrow"));
    }
    auto who = store_->Resolve(e.customer(), e.identities(), kNow, "event:e1");
    EXPECT_TRUE(who.ok()) << who.status();
    EXPECT_TRUE(store_->Apply(who->customer_id, e, kNow).ok());
    return who->customer_id;
  }

  bool Leaks(const std::string& seen, const IdentityCase& c) {
    for (const std::string& raw : {c.raw, c.stored, c.unknown}) {
      if (seen.find(raw) != std::string::npos) return true;
    }
    return false;
  }

  keys::KeyBuilder keys_ = *keys::KeyBuilder::Create("default");
  std::unique_ptr<ProfileStore> store_;
  JourneyPeer journey_;
  RecommendationPeer recommendation_;
  std::unique_ptr<ContextAssembler> assembler_;
  std::unique_ptr<ProfileServiceImpl> service_;
  std::vector<std::unique_ptr<server::Server>> servers_;
  std::unique_ptr<ProfileService::Stub> stub_;
};

class ReadMaskingTest : public ReadMaskingFixture,
                        public ::testing::WithParamInterface<IdentityCase> {};

TEST_P(ReadMaskingTest, NoReadButExportReturnsTheRawValue) {
  const IdentityCase& c = GetParam();
  const std::string cid = Seed(c);
  const CustomerRef by_identity = RefOf(c.type, c.raw);
  const bool free_text = c.type == "email" || c.type == "phone";

  // Writes whose answers are reads: a trait named by the type, one holding
  // the value (email and phone are recognised by their form), a consent
  // whose source is the value, and a link of the identity (its provenance).
  omnicx::v1::UpdateTraitsRequest traits;
  *traits.mutable_customer() = by_identity;
  auto& t = *traits.mutable_traits()->mutable_fields();
  t[c.type].set_string_value(c.raw);
  t["tier"].set_string_value("gold");
  if (free_text) t["contact"].set_string_value(c.raw);
  omnicx::v1::SetConsentRequest consent;
  *consent.mutable_customer() = by_identity;
  consent.set_purpose("marketing");
  consent.set_granted(true);
  consent.set_source(free_text ? c.stored : "agent");
  omnicx::v1::LinkIdentitiesRequest link;
  link.mutable_customer()->set_customer_id(cid);
  auto* linked = link.add_identities();
  linked->set_type(c.type);
  linked->set_value(c.raw);

  struct Read {
    std::string method;
    std::function<std::string()> call;
  };
  const CustomerRef unknown = RefOf(c.type, c.unknown);
  auto ok = [](const grpc::Status& s) {
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  };
  std::vector<Read> reads = {
      {"UpdateTraits",
       [&] {
         omnicx::v1::UpdateTraitsResponse r;
         auto s = stub_->UpdateTraits(Ctx().get(), traits, &r);
         ok(s);
         return Seen(s, r);
       }},
      {"SetConsent",
       [&] {
         omnicx::v1::SetConsentResponse r;
         auto s = stub_->SetConsent(Ctx().get(), consent, &r);
         ok(s);
         EXPECT_EQ(r.consents_size(), 1);
         return Seen(s, r);
       }},
      {"LinkIdentities",
       [&] {
         omnicx::v1::LinkIdentitiesResponse r;
         auto s = stub_->LinkIdentities(Ctx().get(), link, &r);
         ok(s);
         return Seen(s, r);
       }},
      {"GetProfile",
       [&] {
         omnicx::v1::GetProfileRequest q;
         *q.mutable_customer() = by_identity;
         omnicx::v1::GetProfileResponse r;
         auto s = stub_->GetProfile(Ctx().get(), q, &r);
         ok(s);
         EXPECT_EQ(r.profile().customer_id(), cid);
         EXPECT_GE(r.profile().links_size(), 1);
         EXPECT_EQ(r.profile().traits().fields().at("tier").string_value(),
                   "gold");
         return Seen(s, r);
       }},
      {"GetTimeline",
       [&] {
         omnicx::v1::GetTimelineRequest q;
         *q.mutable_customer() = by_identity;
         omnicx::v1::GetTimelineResponse r;
         auto s = stub_->GetTimeline(Ctx().get(), q, &r);
         ok(s);
         EXPECT_EQ(r.interactions_size(), 1);
         return Seen(s, r);
       }},
      {"GetCustomerContext",
       [&] {
         omnicx::v1::GetCustomerContextRequest q;
         *q.mutable_customer() = by_identity;
         q.set_include_recommendations(true);
         omnicx::v1::CustomerContext r;
         auto s = stub_->GetCustomerContext(Ctx().get(), q, &r);
         ok(s);
         EXPECT_EQ(r.profile().customer_id(), cid);
         EXPECT_EQ(r.recent_size(), 1);
         EXPECT_EQ(r.journey().health(), 42);
         return Seen(s, r);
       }},
      {"MergeProfiles",
       [&] {
         omnicx::v1::MergeProfilesRequest q;
         *q.mutable_a() = by_identity;
         q.mutable_b()->set_customer_id(cid);
         omnicx::v1::MergeProfilesResponse r;
         auto s = stub_->MergeProfiles(Ctx().get(), q, &r);
         ok(s);
         return Seen(s, r);
       }},
      // Errors for a value nobody has, and for a malformed one.
      {"GetProfile NOT_FOUND",
       [&] {
         omnicx::v1::GetProfileRequest q;
         *q.mutable_customer() = unknown;
         omnicx::v1::GetProfileResponse r;
         auto s = stub_->GetProfile(Ctx().get(), q, &r);
         EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
         return Seen(s, r);
       }},
      {"GetCustomerContext NOT_FOUND",
       [&] {
         omnicx::v1::GetCustomerContextRequest q;
         *q.mutable_customer() = unknown;
         omnicx::v1::CustomerContext r;
         auto s = stub_->GetCustomerContext(Ctx().get(), q, &r);
         EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
         return Seen(s, r);
       }},
      {"GetTimeline NOT_FOUND",
       [&] {
         omnicx::v1::GetTimelineRequest q;
         *q.mutable_customer() = unknown;
         omnicx::v1::GetTimelineResponse r;
         auto s = stub_->GetTimeline(Ctx().get(), q, &r);
         EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
         return Seen(s, r);
       }},
  };
  // The context twice more: the cached answer is masked too.
  reads.push_back(reads[5]);
  reads.back().method = "GetCustomerContext (again, cached)";
  reads.push_back(reads[5]);
  reads.back().method = "GetCustomerContext (third)";

  for (const Read& read : reads) {
    const std::string seen = read.call();
    EXPECT_FALSE(Leaks(seen, c)) << read.method << " leaks " << c.type;
  }
  // Malformed values are refused without being echoed.
  if (c.type == "email" || c.type == "phone") {
    omnicx::v1::GetProfileRequest q;
    *q.mutable_customer() = RefOf(c.type, c.stored + "@@x");
    omnicx::v1::GetProfileResponse r;
    auto s = stub_->GetProfile(Ctx().get(), q, &r);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_FALSE(Leaks(Seen(s, r), c)) << "INVALID_ARGUMENT echoes";
  }

  // The admin's export holds the raw value (identities, links, timeline).
  omnicx::v1::ExportCustomerRequest q;
  *q.mutable_customer() = by_identity;
  omnicx::v1::ExportCustomerResponse exported;
  auto s = stub_->ExportCustomer(Ctx().get(), q, &exported);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(exported.SerializeAsString(), HasSubstr(c.stored));
  bool in_links = false;
  for (const auto& l : exported.profile().links()) {
    in_links |=
        l.identity().type() == c.type && l.identity().value() == c.stored;
  }
  EXPECT_TRUE(in_links);
  EXPECT_EQ(exported.profile().traits().fields().at(c.type).string_value(),
            c.raw);
}

INSTANTIATE_TEST_SUITE_P(
    EveryIdentityType, ReadMaskingTest, ::testing::ValuesIn(kCases),
    [](const ::testing::TestParamInfo<IdentityCase>& info) {
      return info.param.type;
    });

// Redis stopped: the caller learns it may retry, not where Redis lives or
// what it said.
TEST_F(ReadMaskingFixture, RedisDownIsUnavailableWithoutHostDetail) {
  const std::string cid = Seed(kCases[0]);
  const std::string port = absl::StrCat(redis_server_->port());
  ASSERT_TRUE(redis_server_->Stop().ok());
  for (int attempt = 0; attempt < 2; ++attempt) {  // refused, then backoff
    omnicx::v1::GetProfileRequest q;
    q.mutable_customer()->set_customer_id(cid);
    omnicx::v1::GetProfileResponse r;
    auto s = stub_->GetProfile(Ctx().get(), q, &r);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(s.error_message(), "temporarily unavailable; retry");
    const std::string seen = Seen(s, r);
    for (const std::string& leak :
         {port, std::string("127.0.0.1"), std::string("redis")}) {
      EXPECT_THAT(seen, Not(HasSubstr(leak))) << leak;
    }
    omnicx::v1::GetCustomerContextRequest cq;
    cq.mutable_customer()->set_customer_id(cid);
    omnicx::v1::CustomerContext context;
    s = stub_->GetCustomerContext(Ctx().get(), cq, &context);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_THAT(Seen(s, context), Not(HasSubstr(port)));
  }
}

// A peer that is down: the section says so without its address.
TEST_F(ReadMaskingFixture, SectionMessagesHoldNoPeerAddress) {
  Seed(kCases[1]);  // phone
  const int dead = testing::PickFreePort();
  ContextAssembler assembler(
      *store_,
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", dead),
                          grpc::InsecureChannelCredentials()),
      Start(&recommendation_), {});
  omnicx::v1::GetCustomerContextRequest q;
  *q.mutable_customer() = RefOf("phone", "+15551234567");
  absl::Notification done;
  absl::StatusOr<omnicx::v1::CustomerContext> out;
  assembler.Assemble(q, [&](absl::StatusOr<omnicx::v1::CustomerContext> r) {
    out = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  ASSERT_TRUE(out.ok()) << out.status();
  bool journey_down = false;
  for (const auto& section : out->sections()) {
    if (section.section() != "journey") continue;
    journey_down = section.code() != 0;
    EXPECT_THAT(section.message(), Not(HasSubstr(absl::StrCat(dead))));
    EXPECT_THAT(section.message(), Not(HasSubstr("127.0.0.1")));
  }
  EXPECT_TRUE(journey_down);
}

// A consent may be at most 5 minutes in the future (the service's clock);
// a far-future one is refused whole, with a field violation.
TEST_F(ReadMaskingFixture, FarFutureConsentIsRefusedAndWritesNothing) {
  const std::string cid = Seed(kCases[2]);
  omnicx::v1::SetConsentRequest consent;
  consent.mutable_customer()->set_customer_id(cid);
  consent.set_purpose("marketing");
  consent.set_granted(true);
  consent.set_source("agent");
  omnicx::v1::SetConsentResponse r;
  for (absl::Time at : {absl::FromCivil(absl::CivilSecond(2999, 1, 1, 0, 0, 0),
                                        absl::UTCTimeZone()),
                        kNow + absl::Minutes(5) + absl::Seconds(1)}) {
    *consent.mutable_occurred_at() = time::ToProto(at);
    auto s = stub_->SetConsent(Ctx().get(), consent, &r);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(
        status::GetFieldViolations(status::FromGrpcStatus(s)),
        ElementsAre(status::FieldViolation{
            "occurred_at", "must not be more than 5 minutes in the future"}));
  }
  auto history = store_->ConsentHistory(cid);
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_TRUE(history->empty());
  // Within the allowed skew it is recorded.
  *consent.mutable_occurred_at() = time::ToProto(kNow + absl::Minutes(5));
  auto s = stub_->SetConsent(Ctx().get(), consent, &r);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(store_->ConsentHistory(cid)->size(), 1u);
}

}  // namespace
}  // namespace omnicx::profile
