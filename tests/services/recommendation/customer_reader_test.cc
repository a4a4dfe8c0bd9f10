// The decision's inputs read straight from Redis (RedisCustomerReader) on a
// real redis-server, as the profile and journey services store them: the
// stored profile (lifetime value, consents) and journey (summary as the
// journey service derives it) are what a decision uses; a merged-away id
// and a pending merge's journey are followed; an identity finds its owner;
// an erased customer gets no decision; and a read gone stale before the
// reservation never delivers an unconsented action.
#include "services/recommendation/customer_reader.h"

#include <memory>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "libs/identity/normalize.h"
#include "libs/keys/key_builder.h"
#include "libs/metrics/registry.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/redis_test.h"
#include "libs/time/proto_time.h"
#include "omnicx/profile/v1/state.pb.h"
#include "services/journey/journey_model.h"
#include "services/journey/journey_reader.h"
#include "services/journey/journey_state.h"
#include "services/recommendation/catalog_watcher.h"
#include "services/recommendation/deadline_timer.h"
#include "services/recommendation/recommendation_store.h"
#include "services/recommendation/recommender.h"

namespace omnicx::recommendation {
namespace {

using ::omnicx::status::StatusIs;
using ::omnicx::v1::RecommendResponse;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1795000000);
constexpr char kSecret[] = "reader-test-secret";

const journey::CompiledModel& Model() {
  static const auto* model = new journey::CompiledModel(
      *journey::CompileModel(journey::DefaultJourneyModel()));
  return *model;
}

omnicx::v1::Interaction Event(const std::string& id, omnicx::v1::Channel ch,
                              const std::string& type, absl::Duration ago) {
  omnicx::v1::Interaction e;
  e.set_event_id(id);
  e.set_channel(ch);
  e.set_type(type);
  *e.mutable_occurred_at() =
      time::TimestampFromUnixMillis(absl::ToUnixMillis(kNow - ago));
  return e;
}

// A gRPC-free recommender over a real Redis, reading through `reader`.
struct Decider {
  std::unique_ptr<RecommendationStore> store;
  std::unique_ptr<CatalogWatcher> watcher;
  std::unique_ptr<Recommender> recommender;
  std::unique_ptr<DeadlineTimer> timer;  // destroyed before the recommender

  absl::StatusOr<RecommendResponse> Recommend(
      const omnicx::v1::CustomerRef& ref) {
    omnicx::v1::RecommendRequest request;
    *request.mutable_customer() = ref;
    request.set_explain(true);
    request.set_max_actions(5);
    request.set_channel(omnicx::v1::CHANNEL_EMAIL);
    absl::Notification done;
    absl::StatusOr<RecommendResponse> out;
    recommender->Recommend(request, absl::Now() + absl::Seconds(5),
                           [&](absl::StatusOr<RecommendResponse> r) {
                             out = std::move(r);
                             done.Notify();
                           });
    done.WaitForNotification();
    return out;
  }
};

class CustomerReaderTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    if (HasFatalFailure()) return;
    journeys_ = std::make_unique<journey::JourneyReader>(
        *redis_, keys_, Model(), absl::Seconds(1), [] { return kNow; });
    reader_ = std::make_unique<RedisCustomerReader>(
        *redis_, keys_, kSecret, *journeys_, [] { return kNow; });
  }

  // As the profile service stores a customer: the counter state, a
  // consent per purpose (the Consent and its granted flag), an identity.
  void StoreProfile(const std::string& cid, double lifetime_value,
                    std::map<std::string, bool> consents,
                    const std::string& email = "") {
    profile::v1::ProfileState s;
    s.set_event_count(3);
    s.set_lifetime_value(lifetime_value);
    ASSERT_OK(redis_
                  ->Command({"HSET", keys_.Profile(cid), "s",
                             s.SerializeAsString(), "v", "1"})
                  .status());
    for (const auto& [purpose, granted] : consents) {
      omnicx::v1::Consent c;
      c.set_purpose(purpose);
      c.set_granted(granted);
      ASSERT_OK(redis_
                    ->Command({"HSET", keys_.Consents(cid), purpose,
                               c.SerializeAsString(), purpose + ":granted",
                               granted ? "1" : "0"})
                    .status());
    }
    if (!email.empty()) {
      const std::string normalized =
          *identity::NormalizeIdentity("email", email);
      ASSERT_OK(redis_
                    ->Command({"SET",
                               keys_.IdentityIndex(identity::IdentityDigest(
                                   kSecret, "email", normalized)),
                               cid})
                    .status());
    }
  }

  // As the journey service stores a journey; returns the state.
  journey::JourneyState StoreJourney(
      const std::string& cid, const std::vector<omnicx::v1::Interaction>& es) {
    journey::JourneyState s;
    s.set_customer_id(cid);
    for (const auto& e : es) journey::ApplyEvent(Model(), e, &s);
    journey::RefreshDerived(Model(), &s);
    EXPECT_OK(redis_
                  ->Command({"HSET", keys_.Journey(cid), "v", "1", "s",
                             s.SerializeAsString()})
                  .status());
    return s;
  }

  static omnicx::v1::CustomerRef Id(const std::string& cid) {
    omnicx::v1::CustomerRef ref;
    ref.set_customer_id(cid);
    return ref;
  }

  static std::vector<omnicx::v1::Interaction> Engaged(const std::string& p) {
    return {Event(p + "1", omnicx::v1::CHANNEL_WEB, "page_view",
                  absl::Hours(24 * 40)),
            Event(p + "2", omnicx::v1::CHANNEL_WEB, "purchase",
                  absl::Hours(24 * 39)),
            Event(p + "3", omnicx::v1::CHANNEL_MOBILE_APP, "login",
                  absl::Hours(2))};
  }

  // A catalog of education actions (no sales kind, no caps): "promo" needs
  // marketing; "staged" is eligible only in `stage`; "other_stage" never.
  Decider MakeDecider(omnicx::v1::Stage stage, CustomerReader& reader) {
    ActionCatalog catalog;
    auto add = [&](const std::string& id, double value) {
      omnicx::v1::Action* a = catalog.add_actions();
      a->set_action_id(id);
      a->set_kind(omnicx::v1::ACTION_KIND_EDUCATION);
      a->set_value(value);
      a->set_prior_accept_rate(0.5);
      return a;
    };
    add("promo", 100)->set_required_consent("marketing");
    add("staged", 50)->mutable_eligibility()->add_stages(stage);
    add("other_stage", 50)
        ->mutable_eligibility()
        ->add_stages(stage == omnicx::v1::STAGE_CHURNED
                         ? omnicx::v1::STAGE_LOYAL
                         : omnicx::v1::STAGE_CHURNED);
    add("guide", 1);
    Decider d;
    StoreOptions store_options;
    store_options.global_daily_cap = 0;
    d.store =
        std::make_unique<RecommendationStore>(*redis_, keys_, store_options);
    WatcherOptions w;
    w.seed = std::move(catalog);
    d.watcher = std::make_unique<CatalogWatcher>(*d.store, w);
    EXPECT_OK(d.watcher->Refresh());
    d.timer = std::make_unique<DeadlineTimer>();
    RecommenderOptions options;
    options.budget = absl::Seconds(5);
    options.seed = 7;
    options.clock = [] { return kNow; };
    d.recommender = std::make_unique<Recommender>(*d.store, *d.watcher, reader,
                                                  *d.timer, registry_, options);
    return d;
  }

  static std::string Reason(const RecommendResponse& r, const std::string& id) {
    for (const auto& s : r.suppressed()) {
      if (s.action_id() == id) return s.reason();
    }
    return "";
  }
  static std::vector<std::string> Chosen(const RecommendResponse& r) {
    std::vector<std::string> ids;
    for (const auto& a : r.actions()) ids.push_back(a.action_id());
    return ids;
  }
  static int Code(const RecommendResponse& r, const std::string& section) {
    for (const auto& s : r.sections()) {
      if (s.section() == section) return s.code();
    }
    return -1;
  }

  keys::KeyBuilder keys_ = *keys::KeyBuilder::Create("default");
  metrics::Registry registry_;
  std::unique_ptr<journey::JourneyReader> journeys_;
  std::unique_ptr<RedisCustomerReader> reader_;
};

TEST_F(CustomerReaderTest, ReadsTheStoredProfileAndJourney) {
  StoreProfile("c1", 250, {{"marketing", true}, {"research", false}});
  journey::JourneyState state = StoreJourney("c1", Engaged("e"));
  ASSERT_OK_AND_ASSIGN(CustomerInputs in, reader_->Read(Id("c1"), true));
  EXPECT_EQ(in.customer_id, "c1");
  ASSERT_OK(in.profile.status());
  EXPECT_EQ(in.profile->customer_id(), "c1");
  EXPECT_DOUBLE_EQ(in.profile->lifetime_value(), 250);
  ASSERT_EQ(in.profile->consents_size(), 2);
  EXPECT_EQ(in.profile->consents(0).purpose(), "marketing");
  EXPECT_TRUE(in.profile->consents(0).granted());
  EXPECT_EQ(in.profile->consents(1).purpose(), "research");
  EXPECT_FALSE(in.profile->consents(1).granted());
  // Exactly what GetJourney answers for the state.
  ASSERT_OK(in.journey.status());
  const omnicx::v1::JourneySummary expected =
      journey::Summarize(Model(), state, absl::ToUnixMillis(kNow));
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(*in.journey, expected))
      << in.journey->DebugString() << expected.DebugString();
  EXPECT_NE(in.journey->stage(), omnicx::v1::STAGE_UNSPECIFIED);
  EXPECT_EQ(in.journey->event_count(), 3);

  // The profile alone when the journey is not asked for.
  ASSERT_OK_AND_ASSIGN(CustomerInputs outcome, reader_->Read(Id("c1"), false));
  EXPECT_THAT(outcome.journey.status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // A known customer without touchpoints: the neutral journey.
  StoreProfile("quiet", 0, {});
  ASSERT_OK_AND_ASSIGN(CustomerInputs quiet, reader_->Read(Id("quiet"), true));
  ASSERT_OK(quiet.journey.status());
  EXPECT_EQ(quiet.journey->event_count(), 0);
}

TEST_F(CustomerReaderTest, FollowsAMergeRedirectAndAPendingMergedJourney) {
  StoreProfile("s", 90, {{"marketing", true}});
  StoreJourney("s", Engaged("s"));
  // "m" was merged into "s": its redirect is set, and the journey service
  // has not folded m's journey in yet (no f:m field on s's journey).
  StoreJourney("m", Engaged("m"));
  ASSERT_OK(redis_->Command({"SET", keys_.MergedInto("m"), "s"}).status());
  ASSERT_OK(redis_->Command({"SADD", keys_.MergedIds("s"), "m"}).status());
  ASSERT_OK_AND_ASSIGN(CustomerInputs in, reader_->Read(Id("m"), true));
  EXPECT_EQ(in.customer_id, "s");
  ASSERT_OK(in.profile.status());
  EXPECT_EQ(in.profile->customer_id(), "s");
  EXPECT_THAT(in.profile->merged_ids(), ::testing::ElementsAre("m"));
  ASSERT_OK(in.journey.status());
  EXPECT_EQ(in.journey->customer_id(), "s");
  EXPECT_EQ(in.journey->event_count(), 6);  // both customers' touchpoints
}

TEST_F(CustomerReaderTest, AnIdentityFindsItsOwner) {
  StoreProfile("c1", 10, {}, "Jane@Example.com");
  omnicx::v1::CustomerRef ref;
  ref.mutable_identity()->set_type("email");
  ref.mutable_identity()->set_value(" jane@example.COM ");
  ASSERT_OK_AND_ASSIGN(CustomerInputs in, reader_->Read(ref, true));
  EXPECT_EQ(in.customer_id, "c1");
  ref.mutable_identity()->set_value("nobody@example.com");
  EXPECT_THAT(reader_->Read(ref, true), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(CustomerReaderTest, ADecisionUsesTheStoredProfileAndJourney) {
  StoreProfile("c1", 250, {{"marketing", true}});
  journey::JourneyState state = StoreJourney("c1", Engaged("e"));
  const omnicx::v1::Stage stage =
      journey::Summarize(Model(), state, absl::ToUnixMillis(kNow)).stage();
  Decider d = MakeDecider(stage, *reader_);
  ASSERT_OK_AND_ASSIGN(RecommendResponse resp, d.Recommend(Id("c1")));
  EXPECT_FALSE(resp.fallback());
  EXPECT_EQ(Code(resp, "profile"), 0);
  EXPECT_EQ(Code(resp, "journey"), 0);
  // The stored consent and the stored journey's stage decide.
  EXPECT_THAT(Chosen(resp),
              ::testing::UnorderedElementsAre("promo", "staged", "guide"));
  EXPECT_THAT(Reason(resp, "other_stage"), HasSubstr("eligibility:"));

  // The consent withdrawn in Redis: the next decision has no promo.
  ASSERT_OK(redis_
                ->Command({"HSET", keys_.Consents("c1"), "marketing",
                           [] {
                             omnicx::v1::Consent c;
                             c.set_purpose("marketing");
                             return c.SerializeAsString();
                           }(),
                           "marketing:granted", "0"})
                .status());
  ASSERT_OK_AND_ASSIGN(RecommendResponse after, d.Recommend(Id("c1")));
  EXPECT_THAT(Chosen(after), ::testing::Not(::testing::Contains("promo")));
  EXPECT_EQ(Reason(after, "promo"), "consent:marketing missing");
}

TEST_F(CustomerReaderTest, AMergedAwayIdIsDecidedForTheSurvivor) {
  StoreProfile("s", 250, {{"marketing", true}});
  StoreJourney("s", Engaged("s"));
  ASSERT_OK(redis_->Command({"SET", keys_.MergedInto("m"), "s"}).status());
  Decider d = MakeDecider(omnicx::v1::STAGE_ENGAGED, *reader_);
  ASSERT_OK_AND_ASSIGN(RecommendResponse resp, d.Recommend(Id("m")));
  EXPECT_FALSE(resp.fallback());
  // The survivor's consent counts, and the contact is booked to them.
  EXPECT_THAT(Chosen(resp), ::testing::Contains("promo"));
  ASSERT_OK_AND_ASSIGN(
      redis::Reply m_keys,
      redis_->Command({"KEYS", keys_.CustomerKeyPattern("m")}));
  for (const auto& k : m_keys.elements()) {
    EXPECT_EQ(k.str(), keys_.MergedInto("m"));  // nothing written under m
  }
}

TEST_F(CustomerReaderTest, AnErasedCustomerGetsNoDecision) {
  // Erasure deletes the customer's keys and leaves a tombstone.
  ASSERT_OK(
      redis_->Command({"SET", keys_.ErasedCustomer("gone"), "1"}).status());
  Decider d = MakeDecider(omnicx::v1::STAGE_ENGAGED, *reader_);
  ASSERT_OK_AND_ASSIGN(RecommendResponse resp, d.Recommend(Id("gone")));
  EXPECT_TRUE(resp.fallback());
  EXPECT_EQ(resp.decision_id(), "");
  EXPECT_EQ(Code(resp, "decision"),
            static_cast<int>(absl::StatusCode::kNotFound));
  for (const auto& a : resp.actions()) EXPECT_NE(a.action_id(), "promo");
  ASSERT_OK_AND_ASSIGN(
      redis::Reply left,
      redis_->Command({"KEYS", keys_.CustomerKeyPattern("gone")}));
  EXPECT_EQ(left.elements().size(), 0u);
  // By an identity the erasure removed from the index: not resolved.
  omnicx::v1::CustomerRef ref;
  ref.mutable_identity()->set_type("email");
  ref.mutable_identity()->set_value("gone@example.com");
  ASSERT_OK_AND_ASSIGN(RecommendResponse by_identity, d.Recommend(ref));
  EXPECT_TRUE(by_identity.fallback());
  EXPECT_EQ(Code(by_identity, "decision"),
            static_cast<int>(absl::StatusCode::kNotFound));
}

// Reads the real keys, then the customer withdraws consent before the
// reservation runs: what was read is stale (as a cached input or a
// profile handed in by the agent context would be).
class StaleReader final : public CustomerReader {
 public:
  StaleReader(CustomerReader& inner, std::function<void()> after)
      : inner_(inner), after_(std::move(after)) {}
  absl::StatusOr<CustomerInputs> Read(const omnicx::v1::CustomerRef& ref,
                                      bool journey) override {
    absl::StatusOr<CustomerInputs> in = inner_.Read(ref, journey);
    after_();
    return in;
  }
  absl::StatusOr<omnicx::v1::JourneySummary> ReadJourney(
      const std::string& cid) override {
    return inner_.ReadJourney(cid);
  }

 private:
  CustomerReader& inner_;
  std::function<void()> after_;
};

TEST_F(CustomerReaderTest, AStaleReadNeverDeliversAnUnconsentedAction) {
  StoreProfile("c1", 250, {{"marketing", true}});
  StoreJourney("c1", Engaged("e"));
  StaleReader stale(*reader_, [&] {
    omnicx::v1::Consent c;
    c.set_purpose("marketing");
    ASSERT_OK(redis_
                  ->Command({"HSET", keys_.Consents("c1"), "marketing",
                             c.SerializeAsString(), "marketing:granted", "0"})
                  .status());
  });
  Decider d = MakeDecider(omnicx::v1::STAGE_ENGAGED, stale);
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(RecommendResponse resp, d.Recommend(Id("c1")));
    EXPECT_FALSE(resp.fallback());
    EXPECT_THAT(Chosen(resp), ::testing::Not(::testing::Contains("promo")));
    EXPECT_EQ(Reason(resp, "promo"), "consent:marketing missing");
  }
}

}  // namespace
}  // namespace omnicx::recommendation
