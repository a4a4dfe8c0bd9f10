// The profile service against a real redis-server: identity resolution by
// every identity type, the HMAC identity index, the shared-device guard,
// race-free first sightings, idempotent application, the timeline, the
// stream consumer (redelivery, recovery, dead letters) and the gRPC reads.
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "libs/events/sharding.h"
#include "libs/keys/key_builder.h"
#include "libs/metrics/registry.h"
#include "libs/redis/client.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/consumer.h"
#include "libs/testing/in_process_server.h"
#include "libs/testing/redis_server.h"
#include "libs/testing/redis_test.h"
#include "omnicx/v1/profile.grpc.pb.h"
#include "services/ingestion/validation.h"
#include "services/journey/journey_service.h"
#include "services/journey/journey_store.h"
#include "services/profile/event_applier.h"
#include "services/profile/profile_service.h"
#include "services/profile/profile_store.h"

namespace omnicx::profile {
namespace {

using ::omnicx::status::IsOkAndHolds;
using ::omnicx::status::StatusIs;
using ::omnicx::v1::Interaction;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kNow = absl::FromUnixSeconds(1795000000);

Interaction Event(const std::string& id, int64_t at_seconds,
                  omnicx::v1::Channel channel = omnicx::v1::CHANNEL_WEB) {
  Interaction e;
  e.set_event_id(id);
  e.set_channel(channel);
  e.set_type("page_view");
  e.mutable_occurred_at()->set_seconds(at_seconds);
  return e;
}

omnicx::v1::Identity Id(const std::string& type, const std::string& value) {
  omnicx::v1::Identity i;
  i.set_type(type);
  i.set_value(value);
  return i;
}

class ProfileTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    if (HasFatalFailure()) return;
    options_.identity_secret = "test-secret-0123456789";
    options_.timeline_cap = 5;
    store_ = std::make_unique<ProfileStore>(*redis_, keys_, options_);
  }

  std::vector<std::string> AllKeys() {
    std::vector<std::string> out;
    // Keep the reply alive: a range over a temporary's member dangles.
    const redis::Reply keys = *redis_->Command({"KEYS", "*"});
    for (const auto& k : keys.elements()) {
      out.push_back(k.str());
    }
    return out;
  }

  keys::KeyBuilder keys_ = *keys::KeyBuilder::Create("default");
  ProfileStoreOptions options_;
  std::unique_ptr<ProfileStore> store_;
};

TEST_F(ProfileTest, ResolvesEveryIdentityTypeToOneCustomer) {
  Interaction first = Event("e1", 1794990000);
  first.mutable_customer()->set_anonymous_id("anon-1");
  *first.add_identities() = Id("email", "jane@example.com");
  *first.add_identities() = Id("phone", "+15551234567");
  *first.add_identities() = Id("crm_id", "CRM-7");
  *first.add_identities() = Id("device_id", "dev-9");
  *first.add_identities() = Id("loyalty_id", "L-1");
  ASSERT_OK_AND_ASSIGN(Resolution r, store_->Resolve(first.customer(),
                                                     first.identities(), kNow));
  EXPECT_TRUE(r.created);
  EXPECT_THAT(r.conflicts, IsEmpty());
  const std::string cid = r.customer_id;

  // A later event by email only resolves to the same customer.
  Interaction later = Event("e2", 1794990100);
  *later.mutable_customer()->mutable_identity() =
      Id("email", "jane@example.com");
  ASSERT_OK_AND_ASSIGN(
      Resolution again,
      store_->Resolve(later.customer(), later.identities(), kNow));
  EXPECT_EQ(again.customer_id, cid);
  EXPECT_FALSE(again.created);

  // Reads normalise exactly as ingestion did.
  omnicx::v1::CustomerRef ref;
  *ref.mutable_identity() = Id("email", " Jane@Example.COM ");
  EXPECT_EQ(*store_->directory().Lookup(ref), cid);
  *ref.mutable_identity() = Id("phone", "+1 (555) 123-4567");
  EXPECT_EQ(*store_->directory().Lookup(ref), cid);
  for (const auto& [type, value] :
       std::vector<std::pair<std::string, std::string>>{
           {"crm_id", "CRM-7"},
           {"device_id", "dev-9"},
           {"loyalty_id", "L-1"}}) {
    *ref.mutable_identity() = Id(type, value);
    EXPECT_EQ(*store_->directory().Lookup(ref), cid) << type;
  }
  ref.set_anonymous_id("anon-1");
  EXPECT_EQ(*store_->directory().Lookup(ref), cid);
  ref.set_customer_id(cid);
  EXPECT_EQ(*store_->directory().Lookup(ref), cid);
  ref.set_anonymous_id("nobody");
  EXPECT_THAT(store_->directory().Lookup(ref),
              StatusIs(absl::StatusCode::kNotFound));
  *ref.mutable_identity() = Id("email", "not-an-email");
  EXPECT_THAT(store_->directory().Lookup(ref),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ProfileTest, IdentityValuesNeverAppearInKeyNames) {
  Interaction e = Event("e1", 1794990000);
  *e.mutable_customer()->mutable_identity() =
      Id("email", "jane.doe@example.com");
  *e.add_identities() = Id("phone", "+15551234567");
  ASSERT_OK(store_->Resolve(e.customer(), e.identities(), kNow).status());
  for (const std::string& key : AllKeys()) {
    EXPECT_FALSE(absl::StrContains(key, "jane")) << key;
    EXPECT_FALSE(absl::StrContains(key, "example")) << key;
    EXPECT_FALSE(absl::StrContains(key, "5551234567")) << key;
  }
  // With another secret the same identity is unknown.
  ProfileStoreOptions other = options_;
  other.identity_secret = "another-secret-0123456789";
  ProfileStore store(*redis_, keys_, other);
  EXPECT_THAT(store.directory().Lookup(e.customer()),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ProfileTest, ConcurrentFirstSightingsCreateOneCustomer) {
  std::vector<std::string> ids(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      omnicx::v1::CustomerRef ref;
      *ref.mutable_identity() = Id("email", "new@example.com");
      google::protobuf::RepeatedPtrField<omnicx::v1::Identity> more;
      *more.Add() = Id("device_id", absl::StrCat("d", t));
      auto r = store_->Resolve(ref, more, kNow);
      ASSERT_TRUE(r.ok()) << r.status();
      ids[t] = r->customer_id;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1u);
  int profiles = 0;
  for (const std::string& k : AllKeys())
    profiles += absl::EndsWith(k, ":profile");
  EXPECT_EQ(profiles, 1);
  ASSERT_OK_AND_ASSIGN(omnicx::v1::Profile p, store_->GetProfile(ids[0]));
  EXPECT_EQ(p.identities_size(), 9);  // the email and 8 devices
}

TEST_F(ProfileTest, SharedDeviceGuardRefusesBeyondTheCap) {
  omnicx::v1::CustomerRef ref;
  ref.set_anonymous_id("kiosk-browser");
  google::protobuf::RepeatedPtrField<omnicx::v1::Identity> emails;
  for (int i = 0; i < 4; ++i)
    *emails.Add() = Id("email", absl::StrCat("p", i, "@example.com"));
  ASSERT_OK_AND_ASSIGN(Resolution r, store_->Resolve(ref, emails, kNow));
  EXPECT_THAT(r.refused, ElementsAre("email"));
  ASSERT_OK_AND_ASSIGN(omnicx::v1::Profile p,
                       store_->GetProfile(r.customer_id));
  int linked_emails = 0;
  for (const auto& i : p.identities()) linked_emails += i.type() == "email";
  EXPECT_EQ(linked_emails, 3);
  omnicx::v1::CustomerRef fourth;
  *fourth.mutable_identity() = Id("email", "p3@example.com");
  EXPECT_THAT(store_->directory().Lookup(fourth),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ProfileTest, IdentitiesOwnedElsewhereAreReportedAsMergeCandidates) {
  omnicx::v1::CustomerRef a, b;
  a.set_anonymous_id("a");
  b.set_anonymous_id("b");
  google::protobuf::RepeatedPtrField<omnicx::v1::Identity> none, shared;
  ASSERT_OK_AND_ASSIGN(Resolution ra, store_->Resolve(a, none, kNow));
  ASSERT_OK_AND_ASSIGN(Resolution rb, store_->Resolve(b, none, kNow));
  EXPECT_NE(rb.customer_id, ra.customer_id);
  // B's event now carries A's identity: the anchor (b) decides, a stays A's.
  *shared.Add() = Id("anonymous_id", "a");
  ASSERT_OK_AND_ASSIGN(Resolution both, store_->Resolve(b, shared, kNow));
  EXPECT_EQ(both.customer_id, rb.customer_id);
  EXPECT_THAT(both.conflicts, ElementsAre(ra.customer_id));
  EXPECT_EQ(*store_->directory().Lookup(a), ra.customer_id);
  // An unknown reference with a known identity joins that customer.
  omnicx::v1::CustomerRef c;
  c.set_anonymous_id("c");
  ASSERT_OK_AND_ASSIGN(Resolution rc, store_->Resolve(c, shared, kNow));
  EXPECT_EQ(rc.customer_id, ra.customer_id);
  EXPECT_THAT(rc.conflicts, IsEmpty());
}

// Erase fences the customer before it deletes anything: the writes of work
// already in flight (an event resolved just before, a consent write) are
// refused afterwards instead of recreating keys.
TEST_F(ProfileTest, EraseFencesWritesThatWereInFlight) {
  omnicx::v1::CustomerRef ref;
  *ref.mutable_identity() = Id("email", "fence@example.com");
  google::protobuf::RepeatedPtrField<omnicx::v1::Identity> none;
  ASSERT_OK_AND_ASSIGN(Resolution who, store_->Resolve(ref, none, kNow));
  const std::string cid = who.customer_id;
  Interaction first = Event("f1", 1794990000, omnicx::v1::CHANNEL_WEB);
  *first.mutable_customer() = ref;
  ASSERT_OK(store_->Apply(cid, first, kNow).status());

  bool fenced = false;
  ASSERT_OK(
      store_
          ->Erase(
              cid,
              [&](const std::vector<std::string>& ids) {
                fenced = true;
                EXPECT_THAT(ids, ElementsAre(cid));
                // Tombstone set, nothing deleted yet.
                EXPECT_EQ(redis_->Command({"EXISTS", keys_.ErasedCustomer(cid)})
                              ->integer(),
                          1);
                EXPECT_EQ(
                    redis_->Command({"EXISTS", keys_.Profile(cid)})->integer(),
                    1);
                return absl::OkStatus();
              })
          .status());
  EXPECT_TRUE(fenced);
  const std::vector<std::string> after = AllKeys();

  // The event the consumer had resolved to them before the erasure.
  Interaction late = Event("f2", 1794990060, omnicx::v1::CHANNEL_WEB);
  *late.mutable_customer() = ref;
  EXPECT_THAT(store_->Apply(cid, late, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  omnicx::v1::Consent consent;
  consent.set_purpose("marketing");
  consent.set_granted(true);
  EXPECT_THAT(store_->SetConsent(cid, consent),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(AllKeys(), after);
  const std::string encoded = keys::EncodeId(cid);
  for (const std::string& key : after) {
    EXPECT_FALSE(absl::StrContains(key, encoded)) << key;
  }
}

TEST_F(ProfileTest, LifetimeValueKeepsEveryDigit) {
  const std::string cid = "c_value";
  const double values[] = {12345.67, 0.01, 987654.321, 1e-7};
  double want = 0;
  for (int i = 0; i < 4; ++i) {
    Interaction e =
        Event(absl::StrCat("v", i), 1794990000 + i, omnicx::v1::CHANNEL_STORE);
    e.set_value(values[i]);
    want += values[i];
    ASSERT_OK(store_->Apply(cid, e, kNow).status());
  }
  ASSERT_OK_AND_ASSIGN(omnicx::v1::Profile p, store_->GetProfile(cid));
  EXPECT_NEAR(p.lifetime_value(), want, 1e-9);
}

TEST_F(ProfileTest, ApplyIsIdempotentAndKeepsACappedTimeline) {
  const std::string cid = "c_test";
  for (int i = 0; i < 8; ++i) {
    Interaction e =
        Event(absl::StrCat("t", i), 1794990000 + i * 60,
              i % 2 ? omnicx::v1::CHANNEL_EMAIL : omnicx::v1::CHANNEL_WEB);
    e.set_value(i == 3 ? 10.5 : 0);
    ASSERT_OK_AND_ASSIGN(bool applied, store_->Apply(cid, e, kNow));
    EXPECT_TRUE(applied);
    ASSERT_OK_AND_ASSIGN(bool again, store_->Apply(cid, e, kNow));
    EXPECT_FALSE(again);
  }
  ASSERT_OK_AND_ASSIGN(omnicx::v1::Profile p, store_->GetProfile(cid));
  EXPECT_EQ(p.event_count(), 8);
  EXPECT_DOUBLE_EQ(p.lifetime_value(), 10.5);
  EXPECT_EQ(p.channel_counts().at("CHANNEL_EMAIL"), 4);
  EXPECT_EQ(p.first_seen().seconds(), 1794990000);
  EXPECT_EQ(p.last_seen().seconds(), 1794990000 + 7 * 60);

  // Capped at 5, newest first; pages of 2; channel filter.
  ASSERT_OK_AND_ASSIGN(
      TimelinePage page1,
      store_->GetTimeline(cid, 2, "", {}, std::nullopt, std::nullopt));
  ASSERT_EQ(page1.interactions.size(), 2u);
  EXPECT_EQ(page1.interactions[0].event_id(), "t7");
  EXPECT_EQ(page1.interactions[0].resolved_customer_id(), cid);
  EXPECT_EQ(page1.interactions[1].event_id(), "t6");
  ASSERT_OK_AND_ASSIGN(TimelinePage page2,
                       store_->GetTimeline(cid, 2, page1.next_page_token, {},
                                           std::nullopt, std::nullopt));
  EXPECT_EQ(page2.interactions[0].event_id(), "t5");
  EXPECT_EQ(page2.interactions[1].event_id(), "t4");
  ASSERT_OK_AND_ASSIGN(TimelinePage page3,
                       store_->GetTimeline(cid, 2, page2.next_page_token, {},
                                           std::nullopt, std::nullopt));
  ASSERT_EQ(page3.interactions.size(), 1u);
  EXPECT_EQ(page3.interactions[0].event_id(), "t3");
  EXPECT_TRUE(page3.next_page_token.empty());
  // A first page reads one entry past the page: exactly the five stored
  // fit a page of 5 (no next page); a page of 4 leaves one for the next.
  ASSERT_OK_AND_ASSIGN(
      TimelinePage all,
      store_->GetTimeline(cid, 5, "", {}, std::nullopt, std::nullopt));
  EXPECT_EQ(all.interactions.size(), 5u);
  EXPECT_TRUE(all.next_page_token.empty());
  ASSERT_OK_AND_ASSIGN(
      TimelinePage four,
      store_->GetTimeline(cid, 4, "", {}, std::nullopt, std::nullopt));
  EXPECT_EQ(four.interactions.size(), 4u);
  EXPECT_FALSE(four.next_page_token.empty());
  ASSERT_OK_AND_ASSIGN(
      TimelinePage email,
      store_->GetTimeline(cid, 10, "", {omnicx::v1::CHANNEL_EMAIL},
                          std::nullopt, std::nullopt));
  ASSERT_EQ(email.interactions.size(), 3u);  // t7, t5, t3
  EXPECT_EQ(email.interactions[2].event_id(), "t3");
  EXPECT_THAT(
      store_->GetTimeline(cid, 2, "garbage!", {}, std::nullopt, std::nullopt),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

class ConsumerTest : public ProfileTest {
 protected:
  void SetUp() override {
    ProfileTest::SetUp();
    streams::ConsumerOptions o;
    o.group = "profile";
    o.consumer = "test-1";
    o.streams = {keys_.EventShard(0), keys_.EventShard(1)};
    o.dead_letter = keys_.DeadLetter("profile");
    o.claim_idle = absl::ZeroDuration();
    consumer_options_ = o;
    applier_ =
        std::make_unique<EventApplier>(*store_, registry_, [] { return kNow; });
    // Whole reads, as the service runs it.
    consumer_ = std::make_unique<streams::StreamConsumer>(
        *redis_, o, streams::StreamConsumer::Batched{},
        [this](const std::vector<streams::StreamEntry>& es) {
          return applier_->HandleBatch(es);
        });
    ASSERT_OK(consumer_->EnsureGroups());
  }

  void Append(int shard, const std::string& payload) {
    ASSERT_OK(
        redis_->Command({"XADD", keys_.EventShard(shard), "*", "e", payload})
            .status());
  }

  // Validates `e` as ingestion does for a trusted or untrusted credential
  // and appends it to the log as ingestion stores it.
  void Ingest(Interaction e, bool trusted_identities) {
    ASSERT_THAT(ingestion::ValidateInteraction(kNow, {}, "interaction", &e,
                                               trusted_identities),
                IsEmpty());
    Append(events::ShardFor(e.customer(), 2), e.SerializeAsString());
  }

  int64_t EventCount(const std::string& email) {
    omnicx::v1::CustomerRef ref;
    *ref.mutable_identity() = Id("email", email);
    auto cid = store_->directory().Lookup(ref);
    if (!cid.ok()) return -1;
    return store_->GetProfile(*cid)->event_count();
  }

  metrics::Registry registry_;
  streams::ConsumerOptions consumer_options_;
  std::unique_ptr<EventApplier> applier_;
  std::unique_ptr<streams::StreamConsumer> consumer_;
};

TEST_F(ConsumerTest, AppliesAcksAndSurvivesRedelivery) {
  for (int i = 0; i < 10; ++i) {
    Interaction e = Event(absl::StrCat("c", i), 1794990000 + i);
    *e.mutable_customer()->mutable_identity() = Id("email", "con@example.com");
    Append(i % 2, e.SerializeAsString());
  }
  ASSERT_OK_AND_ASSIGN(int n, consumer_->PollOnce(absl::Milliseconds(100)));
  EXPECT_EQ(n, 10);
  EXPECT_EQ(EventCount("con@example.com"), 10);
  EXPECT_EQ(redis_->Command({"XPENDING", keys_.EventShard(0), "profile"})
                ->elements()[0]
                .integer(),
            0);

  // A consumer that applied but died before XACK: the entry is redelivered
  // to another consumer, and applying it again changes nothing.
  Interaction e = Event("crash-1", 1794990100);
  *e.mutable_customer()->mutable_identity() = Id("email", "con@example.com");
  Append(0, e.SerializeAsString());
  auto read =
      redis_->Command({"XREADGROUP", "GROUP", "profile", "dead-pod", "COUNT",
                       "10", "STREAMS", keys_.EventShard(0), ">"});
  ASSERT_TRUE(read.ok());
  streams::StreamEntry entry{
      keys_.EventShard(0),
      read->elements()[0].elements()[1].elements()[0].elements()[0].str(),
      e.SerializeAsString()};
  ASSERT_OK(applier_->Handle(entry));  // applied, never acked
  EXPECT_EQ(EventCount("con@example.com"), 11);
  ASSERT_OK_AND_ASSIGN(int claimed, consumer_->ClaimIdle());
  EXPECT_EQ(claimed, 1);
  EXPECT_EQ(EventCount("con@example.com"), 11);
  EXPECT_EQ(redis_->Command({"XPENDING", keys_.EventShard(0), "profile"})
                ->elements()[0]
                .integer(),
            0);
}

TEST_F(ConsumerTest, OneReadResolvesLikeOneEventAtATime) {
  // One read holding: a new anonymous visitor's 5 events, the last also
  // naming an email; a second visitor whose event names the same email (one
  // person on two devices); an email customer's events; a poison entry.
  std::vector<streams::StreamEntry> read;
  auto entry = [&](const Interaction& e) {
    read.push_back({keys_.EventShard(0), absl::StrCat("1-", read.size()),
                    e.SerializeAsString()});
  };
  for (int i = 0; i < 5; ++i) {
    Interaction e = Event(absl::StrCat("v", i), 1794990000 + i);
    e.mutable_customer()->set_anonymous_id("visitor-1");
    if (i == 4) *e.add_identities() = Id("email", "two@example.com");
    entry(e);
  }
  Interaction other = Event("w0", 1794990010);
  other.mutable_customer()->set_anonymous_id("visitor-2");
  *other.add_identities() = Id("email", "two@example.com");
  entry(other);
  for (int i = 0; i < 3; ++i) {
    Interaction e = Event(absl::StrCat("m", i), 1794990000 + i);
    *e.mutable_customer()->mutable_identity() = Id("email", "m@example.com");
    entry(e);
  }
  read.push_back({keys_.EventShard(0), "1-99", "not a protobuf \xff\xff"});

  std::vector<absl::Status> result = applier_->HandleBatch(read);
  ASSERT_EQ(result.size(), read.size());
  for (size_t i = 0; i + 1 < read.size(); ++i) EXPECT_OK(result[i]) << i;
  EXPECT_THAT(result.back(), StatusIs(absl::StatusCode::kDataLoss));

  // Both visitors and the email are one customer holding all 6 events.
  omnicx::v1::CustomerRef v1, v2;
  v1.set_anonymous_id("visitor-1");
  v2.set_anonymous_id("visitor-2");
  ASSERT_OK_AND_ASSIGN(std::string cid, store_->directory().Lookup(v1));
  EXPECT_THAT(store_->directory().Lookup(v2), IsOkAndHolds(cid));
  EXPECT_EQ(EventCount("two@example.com"), 6);
  EXPECT_EQ(EventCount("m@example.com"), 3);
  // Every applied event was published once for the journey service.
  int published = 0;
  for (int shard = 0; shard < options_.stream_shards; ++shard) {
    published +=
        redis_->Command({"XLEN", keys_.ResolvedShard(shard)})->integer();
  }
  EXPECT_EQ(published, 9);

  // The same read again (a consumer that died before XACK): nothing counts
  // twice, and each event is published again (the journey deduplicates).
  result = applier_->HandleBatch(read);
  for (size_t i = 0; i + 1 < read.size(); ++i) EXPECT_OK(result[i]) << i;
  EXPECT_EQ(EventCount("two@example.com"), 6);
  EXPECT_EQ(EventCount("m@example.com"), 3);
  ASSERT_OK_AND_ASSIGN(auto timeline, store_->FullTimeline(cid));
  EXPECT_EQ(timeline.size(), 5u);  // the cap of this fixture
}

// Everything Redis holds, as text: every key name and every value.
std::vector<std::string> DumpAll(redis::Client& redis) {
  std::vector<std::string> out;
  const redis::Reply keys = *redis.Command({"KEYS", "*"});
  for (const auto& k : keys.elements()) {
    const std::string key = k.str();
    out.push_back(key);
    const std::string type = redis.Command({"TYPE", key})->str();
    redis::Command read;
    if (type == "string") read = {"GET", key};
    if (type == "hash") read = {"HGETALL", key};
    if (type == "set") read = {"SMEMBERS", key};
    if (type == "zset") read = {"ZRANGE", key, "0", "-1"};
    if (type == "list") read = {"LRANGE", key, "0", "-1"};
    if (type == "stream") read = {"XRANGE", key, "-", "+"};
    if (read.empty()) continue;
    std::function<void(const redis::Reply&)> walk = [&](const redis::Reply& r) {
      if (!r.str().empty()) out.push_back(r.str());
      for (const auto& e : r.elements()) walk(e);
    };
    walk(*redis.Command(read));
  }
  return out;
}

TEST_F(ConsumerTest, EraseLeavesNothingThatReferencesTheCustomer) {
  // Customer A through the event log, and B who must be untouched.
  auto track = [&](const std::string& id, const std::string& email,
                   const std::string& phone) {
    Interaction e = Event(id, 1794990000);
    *e.mutable_customer()->mutable_identity() = Id("email", email);
    if (!phone.empty()) *e.add_identities() = Id("phone", phone);
    Append(events::ShardFor(e.customer(), 2), e.SerializeAsString());
  };
  track("a1", "jane@example.com", "+15551234567");
  track("a2", "jane@example.com", "");
  track("b1", "bob@example.com", "");
  ASSERT_OK(consumer_->PollOnce(absl::Milliseconds(100)).status());
  omnicx::v1::CustomerRef jane;
  *jane.mutable_identity() = Id("email", "jane@example.com");
  ASSERT_OK_AND_ASSIGN(std::string cid, store_->directory().Lookup(jane));
  google::protobuf::Struct traits;
  (*traits.mutable_fields())["name"].set_string_value("Jane Doe");
  ASSERT_OK(store_->UpdateTraits(cid, traits, false, kNow));
  omnicx::v1::Consent consent;
  consent.set_purpose("marketing");
  consent.set_granted(true);
  ASSERT_OK(store_->SetConsent(cid, consent));
  ASSERT_OK_AND_ASSIGN(ProfileStore::ContextRead read,
                       store_->ReadContext(cid, "sig"));
  ASSERT_THAT(store_->CacheContext(cid, "sig", read.version, "cached context",
                                   absl::Minutes(1)),
              IsOkAndHolds(true));
  // Other services' state for the customer shares their hash tag: the
  // journey service's, built from the resolved events the consumer
  // published, and the recommendation service's.
  const journey::CompiledModel model =
      *journey::CompileModel(journey::DefaultJourneyModel());
  journey::JourneyStore journeys(*redis_, keys_, model);
  int resolved = 0;
  for (int shard = 0; shard < options_.stream_shards; ++shard) {
    const redis::Reply entries =
        *redis_->Command({"XRANGE", keys_.ResolvedShard(shard), "-", "+"});
    for (const redis::Reply& entry : entries.elements()) {
      Interaction e;
      ASSERT_TRUE(e.ParseFromString(entry.elements()[1].elements()[1].str()));
      ASSERT_OK(journeys.Apply(e).status());
      ++resolved;
    }
  }
  EXPECT_EQ(resolved, 3);
  ASSERT_EQ(redis_->Command({"EXISTS", keys_.Journey(cid)})->integer(), 1);
  ASSERT_OK(
      redis_->Command({"SET", keys_.Recommendations(cid), "caps"}).status());

  ProfileServiceImpl service(
      *store_, omnicx::testing::TestCredentials::Default().authenticator());
  auto server = testing::StartInProcess({&service});
  ASSERT_TRUE(server.ok());
  auto stub = omnicx::v1::ProfileService::NewStub(testing::ChannelTo(**server));
  omnicx::v1::ExportCustomerRequest export_request;
  *export_request.mutable_customer() = jane;
  omnicx::v1::ExportCustomerResponse exported;
  grpc::ClientContext c1;
  ASSERT_TRUE(stub->ExportCustomer(&c1, export_request, &exported).ok());
  EXPECT_EQ(exported.timeline_size(), 2);
  EXPECT_EQ(exported.profile().identities(0).value(),
            "jane@example.com");  // unmasked
  EXPECT_EQ(exported.consent_history_size(), 1);
  EXPECT_EQ(exported.profile().traits().fields().at("name").string_value(),
            "Jane Doe");

  omnicx::v1::EraseCustomerRequest erase;
  *erase.mutable_customer() = jane;
  omnicx::v1::EraseCustomerResponse erased;
  grpc::ClientContext c2;
  ASSERT_TRUE(stub->EraseCustomer(&c2, erase, &erased).ok());
  // Two in the event log, two resolved copies for the journey service.
  EXPECT_EQ(erased.stream_entries_deleted(), 4);
  EXPECT_GE(erased.keys_deleted(), 10);

  const std::string encoded = keys::EncodeId(cid);
  for (const std::string& text : DumpAll(*redis_)) {
    EXPECT_FALSE(absl::StrContains(text, "jane")) << text;
    EXPECT_FALSE(absl::StrContains(text, "Jane")) << text;
    EXPECT_FALSE(absl::StrContains(text, "5551234567")) << text;
    EXPECT_FALSE(absl::StrContains(text, cid)) << text;
    EXPECT_FALSE(absl::StrContains(text, encoded)) << text;
  }
  // Every read answers NOT_FOUND.
  omnicx::v1::GetProfileRequest get;
  *get.mutable_customer() = jane;
  omnicx::v1::GetProfileResponse profile;
  grpc::ClientContext c3;
  EXPECT_EQ(stub->GetProfile(&c3, get, &profile).error_code(),
            grpc::StatusCode::NOT_FOUND);
  get.mutable_customer()->set_customer_id(cid);
  grpc::ClientContext c4;
  EXPECT_EQ(stub->GetProfile(&c4, get, &profile).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // B is untouched.
  omnicx::v1::CustomerRef bob;
  *bob.mutable_identity() = Id("email", "bob@example.com");
  EXPECT_OK(store_->directory().Lookup(bob).status());

  // A late event carrying her email does not resurrect her.
  const size_t keys_before = AllKeys().size();
  track("a3-late", "jane@example.com", "");
  Interaction by_id = Event("a4-late", 1794990000);
  by_id.mutable_customer()->set_customer_id(cid);
  Append(0, by_id.SerializeAsString());
  // Nor one from a new device that names her phone among its identities.
  Interaction new_device = Event("a5-late", 1794990000);
  new_device.mutable_customer()->set_anonymous_id("new-device");
  *new_device.add_identities() = Id("phone", "+15551234567");
  Append(events::ShardFor(new_device.customer(), 2),
         new_device.SerializeAsString());
  ASSERT_OK(consumer_->PollOnce(absl::Milliseconds(100)).status());
  EXPECT_THAT(store_->directory().Lookup(jane),
              StatusIs(absl::StatusCode::kNotFound));
  omnicx::v1::CustomerRef her_phone;
  *her_phone.mutable_identity() = Id("phone", "+15551234567");
  EXPECT_THAT(store_->directory().Lookup(her_phone),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(AllKeys().size(), keys_before);
  EXPECT_THAT(
      registry_.Render(),
      ::testing::HasSubstr("omnicx_profile_events_total{result=\"erased\"} 3"));
  // Nor does a context assembled before the erasure whose cache write (made
  // after its answer) lands after it.
  EXPECT_THAT(store_->CacheContext(cid, "sig", read.version, "late context",
                                   absl::Minutes(1)),
              IsOkAndHolds(false));
  ASSERT_OK_AND_ASSIGN(ProfileStore::ContextRead after,
                       store_->ReadContext(cid, "sig"));
  EXPECT_EQ(after.version, "0.0");  // the version went with their hashes
  EXPECT_THAT(store_->CacheContext(cid, "sig", after.version, "late context",
                                   absl::Minutes(1)),
              IsOkAndHolds(false));
  EXPECT_EQ(AllKeys().size(), keys_before);
}

// Identities sent with an untrusted credential are claims on the sender's
// subject: stored as unverified identities, never indexed, linked, merged
// or usable to find anyone.
TEST_F(ConsumerTest, UntrustedClaimsNeverLinkMergeOrServeALookup) {
  Interaction claimed = Event("u1", 1794990000);
  claimed.mutable_customer()->set_anonymous_id("browser-A");
  *claimed.add_identities() = Id("email", "Jane@Example.com");
  *claimed.add_identities() = Id("phone", "+1 555 123 4567");
  Ingest(claimed, /*trusted_identities=*/false);
  ASSERT_OK(consumer_->PollOnce(absl::Milliseconds(100)).status());

  omnicx::v1::CustomerRef a_ref, phone, email;
  a_ref.set_anonymous_id("browser-A");
  *phone.mutable_identity() = Id("phone", "+15551234567");
  *email.mutable_identity() = Id("email", "jane@example.com");
  ASSERT_OK_AND_ASSIGN(std::string a, store_->directory().Lookup(a_ref));
  ASSERT_OK_AND_ASSIGN(omnicx::v1::Profile pa, store_->GetProfile(a));
  ASSERT_EQ(pa.identities_size(), 1);
  EXPECT_EQ(pa.identities(0).type(), "anonymous_id");
  ASSERT_EQ(pa.unverified_identities_size(), 2);
  EXPECT_EQ(pa.unverified_identities(0).value(), "+15551234567");
  EXPECT_EQ(pa.unverified_identities(1).value(), "jane@example.com");
  // No index entry, so no lookup finds A by what was claimed.
  for (const auto* ref : {&phone, &email}) {
    EXPECT_EQ(
        redis_
            ->Command({"EXISTS", keys_.IdentityIndex(store_->directory().Digest(
                                     ref->identity()))})
            ->integer(),
        0);
    EXPECT_THAT(store_->directory().LookupRequest(*ref),
                StatusIs(absl::StatusCode::kNotFound));
  }

  // B owns that phone (a trusted event); A and B stay two customers, also
  // when A claims the phone again afterwards.
  Interaction owner = Event("b1", 1794990100);
  *owner.mutable_customer()->mutable_identity() =
      Id("email", "bob@example.com");
  *owner.add_identities() = Id("phone", "+15551234567");
  Ingest(owner, /*trusted_identities=*/true);
  ASSERT_OK(consumer_->PollOnce(absl::Milliseconds(100)).status());
  Interaction again = Event("u2", 1794990200);
  again.mutable_customer()->set_anonymous_id("browser-A");
  *again.add_identities() = Id("phone", "+15551234567");
  Ingest(again, /*trusted_identities=*/false);
  ASSERT_OK(consumer_->PollOnce(absl::Milliseconds(100)).status());
  ASSERT_OK_AND_ASSIGN(std::string b, store_->directory().Lookup(phone));
  EXPECT_NE(a, b);
  EXPECT_THAT(store_->directory().Lookup(a_ref), IsOkAndHolds(a));
  ASSERT_OK_AND_ASSIGN(pa, store_->GetProfile(a));
  ASSERT_OK_AND_ASSIGN(omnicx::v1::Profile pb, store_->GetProfile(b));
  EXPECT_THAT(pa.merged_ids(), IsEmpty());
  EXPECT_THAT(pb.merged_ids(), IsEmpty());
  EXPECT_EQ(pa.event_count(), 2);
  EXPECT_EQ(pb.event_count(), 1);
  EXPECT_THAT(pb.unverified_identities(), IsEmpty());
  EXPECT_EQ(pa.unverified_identities_size(), 2);  // deduplicated
  EXPECT_THAT(store_->directory().Lookup(email),
              StatusIs(absl::StatusCode::kNotFound));

  // Reads mask the claims; the subject's export has them raw.
  ProfileServiceImpl service(
      *store_, testing::TestCredentials::Default().authenticator());
  auto server = testing::StartInProcess({&service});
  ASSERT_TRUE(server.ok());
  auto stub = omnicx::v1::ProfileService::NewStub(testing::ChannelTo(**server));
  omnicx::v1::GetProfileRequest get;
  *get.mutable_customer() = a_ref;
  omnicx::v1::GetProfileResponse got;
  grpc::ClientContext c1;
  ASSERT_TRUE(stub->GetProfile(&c1, get, &got).ok());
  ASSERT_EQ(got.profile().unverified_identities_size(), 2);
  EXPECT_EQ(got.profile().unverified_identities(0).value(), "+1******4567");
  EXPECT_EQ(got.profile().unverified_identities(1).value(), "j***@example.com");
  omnicx::v1::GetTimelineRequest tl;
  *tl.mutable_customer() = a_ref;
  omnicx::v1::GetTimelineResponse timeline;
  grpc::ClientContext c2;
  ASSERT_TRUE(stub->GetTimeline(&c2, tl, &timeline).ok());
  ASSERT_EQ(timeline.interactions_size(), 2);
  EXPECT_EQ(timeline.interactions(1).claimed_identities(0).value(),
            "j***@example.com");
  omnicx::v1::ExportCustomerRequest ex;
  *ex.mutable_customer() = a_ref;
  omnicx::v1::ExportCustomerResponse exported;
  grpc::ClientContext c3;
  ASSERT_TRUE(stub->ExportCustomer(&c3, ex, &exported).ok());
  ASSERT_EQ(exported.profile().unverified_identities_size(), 2);
  EXPECT_EQ(exported.profile().unverified_identities(1).value(),
            "jane@example.com");
  // The agent's phone lookup of the claimed number finds B, never A.
  *get.mutable_customer() = phone;
  grpc::ClientContext c4;
  ASSERT_TRUE(stub->GetProfile(&c4, get, &got).ok());
  EXPECT_EQ(got.profile().customer_id(), b);
  *get.mutable_customer() = email;
  grpc::ClientContext c5;
  EXPECT_EQ(stub->GetProfile(&c5, get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// A profile keeps the latest claims (by event time), each once; a merge
// keeps them as claims.
TEST_F(ProfileTest, ClaimsKeepTheLatestTenAndSurviveAMergeAsClaims) {
  omnicx::v1::CustomerRef ref;
  ref.set_anonymous_id("browser-cap");
  google::protobuf::RepeatedPtrField<omnicx::v1::Identity> none;
  ASSERT_OK_AND_ASSIGN(Resolution who, store_->Resolve(ref, none, kNow));
  for (int i = 0; i < 12; ++i) {
    Interaction e = Event(absl::StrCat("cap", i), 1794990000 + i);
    *e.mutable_customer() = ref;
    *e.add_claimed_identities() = Id("device_id", absl::StrCat("dev-", i));
    *e.add_claimed_identities() = Id("device_id", "dev-0");  // again, newer
    ASSERT_OK(store_->Apply(who.customer_id, e, kNow).status());
  }
  ASSERT_OK_AND_ASSIGN(omnicx::v1::Profile p,
                       store_->GetProfile(who.customer_id));
  std::vector<std::string> claims;
  for (const auto& c : p.unverified_identities()) claims.push_back(c.value());
  EXPECT_THAT(claims, ElementsAre("dev-11", "dev-0", "dev-10", "dev-9", "dev-8",
                                  "dev-7", "dev-6", "dev-5", "dev-4", "dev-3"));
  EXPECT_THAT(p.identities(), ::testing::SizeIs(1));

  // Merged into an older customer: the claims move with the profile and
  // stay unverified (nothing in the index, no identity linked).
  omnicx::v1::CustomerRef older_ref;
  *older_ref.mutable_identity() = Id("email", "older@example.com");
  options_.new_customer_id = [] { return std::string("c_0older"); };
  ProfileStore older_store(*redis_, keys_, options_);
  ASSERT_OK_AND_ASSIGN(
      Resolution older,
      older_store.Resolve(older_ref, none, kNow - absl::Hours(1)));
  ASSERT_OK_AND_ASSIGN(
      MergeResult m,
      store_->Merge(older.customer_id, who.customer_id, kNow, "test"));
  ASSERT_OK_AND_ASSIGN(p, store_->GetProfile(m.survivor_id));
  EXPECT_EQ(p.unverified_identities_size(), 10);
  EXPECT_EQ(p.identities_size(), 2);  // the email and the anonymous id
  omnicx::v1::CustomerRef claimed;
  *claimed.mutable_identity() = Id("device_id", "dev-0");
  EXPECT_THAT(store_->directory().Lookup(claimed),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(redis_->Command({"EXISTS", keys_.Claims(m.merged_id)})->integer(),
            0);
}

// When the journey service cannot forget the customer, the erasure answers
// UNAVAILABLE (with RetryInfo) and stays pending: the customer is fenced
// but still found by the same reference, and a retry with the journey back
// completes it, leaving nothing that references them.
TEST_F(ConsumerTest, EraseWithTheJourneyDownIsPendingUntilARetryCompletesIt) {
  Interaction e = Event("p1", 1794990000);
  *e.mutable_customer()->mutable_identity() = Id("email", "pat@example.com");
  *e.add_identities() = Id("phone", "+15557654321");
  Ingest(e, /*trusted_identities=*/true);
  ASSERT_OK(consumer_->PollOnce(absl::Milliseconds(100)).status());
  omnicx::v1::CustomerRef pat;
  *pat.mutable_identity() = Id("email", "pat@example.com");
  ASSERT_OK_AND_ASSIGN(std::string cid, store_->directory().Lookup(pat));
  Interaction by_id = Event("p3", 1794990200);
  by_id.mutable_customer()->set_customer_id(cid);
  *by_id.add_identities() = Id("email", "pat.claimed@example.com");
  Ingest(by_id, /*trusted_identities=*/false);
  ASSERT_OK(consumer_->PollOnce(absl::Milliseconds(100)).status());
  ASSERT_EQ(store_->GetProfile(cid)->unverified_identities_size(), 1);

  // The journey service's state for Pat, from the resolved events.
  const journey::CompiledModel model =
      *journey::CompileModel(journey::DefaultJourneyModel());
  journey::JourneyStore journeys(*redis_, keys_, model);
  for (int shard = 0; shard < options_.stream_shards; ++shard) {
    const redis::Reply entries =
        *redis_->Command({"XRANGE", keys_.ResolvedShard(shard), "-", "+"});
    for (const redis::Reply& entry : entries.elements()) {
      Interaction r;
      ASSERT_TRUE(r.ParseFromString(entry.elements()[1].elements()[1].str()));
      ASSERT_OK(journeys.Apply(r).status());
    }
  }
  ASSERT_EQ(redis_->Command({"EXISTS", keys_.Journey(cid)})->integer(), 1);

  // The journey is down: nothing listens on the port of a server stopped.
  std::string dead_address;
  {
    journey::JourneyServiceImpl gone(
        journeys, store_->directory(), model,
        testing::TestCredentials::Default().authenticator());
    auto stopped = testing::StartInProcess({&gone});
    ASSERT_TRUE(stopped.ok());
    dead_address = (*stopped)->dial_address();
  }
  ProfileServiceImpl down(
      *store_, testing::TestCredentials::Default().authenticator(), nullptr,
      [] { return kNow; },
      grpc::CreateChannel(dead_address, grpc::InsecureChannelCredentials()));
  auto down_server = testing::StartInProcess({&down});
  ASSERT_TRUE(down_server.ok());
  auto down_stub =
      omnicx::v1::ProfileService::NewStub(testing::ChannelTo(**down_server));
  omnicx::v1::EraseCustomerRequest erase;
  *erase.mutable_customer() = pat;
  omnicx::v1::EraseCustomerResponse erased;
  grpc::ClientContext c1;
  grpc::Status s = down_stub->EraseCustomer(&c1, erase, &erased);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_FALSE(absl::StrContains(s.error_message(), "pat@"))
      << s.error_message();
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(s.error_details()));
  bool retry_info = false;
  for (const auto& d : details.details()) {
    retry_info = retry_info || d.Is<google::rpc::RetryInfo>();
  }
  EXPECT_TRUE(retry_info);

  // Pending: fenced (late writes refused) and nothing deleted.
  EXPECT_EQ(redis_->Command({"EXISTS", keys_.ErasedCustomer(cid)})->integer(),
            1);
  EXPECT_EQ(redis_->Command({"EXISTS", keys_.Journey(cid)})->integer(), 1);
  EXPECT_THAT(store_->directory().Lookup(pat), IsOkAndHolds(cid));
  omnicx::v1::Consent consent;
  consent.set_purpose("marketing");
  consent.set_granted(true);
  EXPECT_THAT(store_->SetConsent(cid, consent),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->UpdateTraits(cid, {}, false, kNow),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(ProfileStore::ContextRead read,
                       store_->ReadContext(cid, "sig"));
  EXPECT_THAT(store_->CacheContext(cid, "sig", read.version, "pending",
                                   absl::Minutes(1)),
              IsOkAndHolds(false));
  EXPECT_EQ(redis_->Command({"EXISTS", keys_.Context(cid)})->integer(), 0);
  Interaction late = Event("p4", 1794990300);
  *late.mutable_customer() = pat;
  Ingest(late, /*trusted_identities=*/true);
  ASSERT_OK(consumer_->PollOnce(absl::Milliseconds(100)).status());
  EXPECT_EQ(store_->GetProfile(cid)->event_count(), 2);

  // The journey is back: the retry with the same reference completes it.
  journey::JourneyServiceImpl journey_service(
      journeys, store_->directory(), model,
      testing::TestCredentials::Default().authenticator());
  auto journey_server = testing::StartInProcess({&journey_service});
  ASSERT_TRUE(journey_server.ok());
  ProfileServiceImpl up(
      *store_, testing::TestCredentials::Default().authenticator(), nullptr,
      [] { return kNow; }, testing::ChannelTo(**journey_server));
  auto up_server = testing::StartInProcess({&up});
  ASSERT_TRUE(up_server.ok());
  auto up_stub =
      omnicx::v1::ProfileService::NewStub(testing::ChannelTo(**up_server));
  grpc::ClientContext c2;
  s = up_stub->EraseCustomer(&c2, erase, &erased);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GE(erased.keys_deleted(), 7);  // applied ids live in the state
  // p1, p3 and the late p4 in the event log; p1, p3 resolved for the
  // journey.
  EXPECT_EQ(erased.stream_entries_deleted(), 5);

  const std::string encoded = keys::EncodeId(cid);
  for (const std::string& text : DumpAll(*redis_)) {
    EXPECT_FALSE(absl::StrContains(text, "pat@example")) << text;
    EXPECT_FALSE(absl::StrContains(text, "pat.claimed")) << text;
    EXPECT_FALSE(absl::StrContains(text, "5557654321")) << text;
    EXPECT_FALSE(absl::StrContains(text, cid)) << text;
    EXPECT_FALSE(absl::StrContains(text, encoded)) << text;
  }
  EXPECT_THAT(store_->directory().Lookup(pat),
              StatusIs(absl::StatusCode::kNotFound));
  // A late event from a new browser claiming her email does not store it
  // again, not even as a claim.
  Interaction claims_her = Event("p5", 1794990400);
  claims_her.mutable_customer()->set_anonymous_id("new-browser");
  *claims_her.add_identities() = Id("email", "pat@example.com");
  Ingest(claims_her, /*trusted_identities=*/false);
  ASSERT_OK(consumer_->PollOnce(absl::Milliseconds(100)).status());
  omnicx::v1::CustomerRef new_browser;
  new_browser.set_anonymous_id("new-browser");
  EXPECT_THAT(store_->directory().Lookup(new_browser),
              StatusIs(absl::StatusCode::kNotFound));
  for (const std::string& key : AllKeys()) {
    EXPECT_FALSE(absl::StrContains(key, ":claims")) << key;
  }
  // Retried once more (its answer lost): the erasure is done, so OK.
  grpc::ClientContext c3;
  EXPECT_TRUE(up_stub->EraseCustomer(&c3, erase, &erased).ok());
  EXPECT_EQ(erased.keys_deleted(), 0);
  erase.mutable_customer()->set_anonymous_id("never-seen");
  grpc::ClientContext c4;
  EXPECT_EQ(up_stub->EraseCustomer(&c4, erase, &erased).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ConsumerTest, RestartFinishesOwnPendingFirst) {
  Interaction e = Event("p1", 1794990000);
  *e.mutable_customer()->mutable_identity() = Id("email", "pend@example.com");
  Append(1, e.SerializeAsString());
  // Delivered to this consumer, then the process died before handling it.
  ASSERT_OK(redis_
                ->Command({"XREADGROUP", "GROUP", "profile", "test-1",
                           "STREAMS", keys_.EventShard(1), ">"})
                .status());
  EXPECT_EQ(EventCount("pend@example.com"), -1);
  ASSERT_OK_AND_ASSIGN(int n, consumer_->RecoverPending());
  EXPECT_EQ(n, 1);
  EXPECT_EQ(EventCount("pend@example.com"), 1);
}

TEST_F(ConsumerTest, PoisonEventGoesToTheDeadLetterStream) {
  Append(0, "this is not a protobuf \xff\xff\xff\xff");
  ASSERT_OK_AND_ASSIGN(int n, consumer_->PollOnce(absl::Milliseconds(100)));
  EXPECT_EQ(n, 0);  // failed: stays pending
  for (int i = 0; i < 4; ++i) ASSERT_OK(consumer_->ClaimIdle().status());
  auto dlq = redis_->Command({"XRANGE", keys_.DeadLetter("profile"), "-", "+"});
  ASSERT_TRUE(dlq.ok());
  ASSERT_EQ(dlq->elements().size(), 1u);
  const auto& fields = dlq->elements()[0].elements()[1].elements();
  std::map<std::string, std::string> f;
  for (size_t i = 0; i + 1 < fields.size(); i += 2)
    f[fields[i].str()] = fields[i + 1].str();
  EXPECT_EQ(f["stream"], keys_.EventShard(0));
  EXPECT_EQ(f["deliveries"], "5");
  EXPECT_EQ(f["error"], "stream entry is not an omnicx.v1.Interaction");
  EXPECT_EQ(consumer_->stats().dead_lettered.load(), 1);
  EXPECT_EQ(redis_->Command({"XPENDING", keys_.EventShard(0), "profile"})
                ->elements()[0]
                .integer(),
            0);
}

// When the dead-letter copy cannot be stored (here the key has the wrong
// type; in production Redis out of memory), the entry is not acknowledged:
// it stays pending and the next claim dead-letters it.
TEST_F(ConsumerTest, AnEntryIsAcknowledgedOnlyOnceItsDeadLetterIsStored) {
  Append(0, "this is not a protobuf \xff\xff\xff\xff");
  ASSERT_OK(consumer_->PollOnce(absl::Milliseconds(100)).status());
  ASSERT_OK(
      redis_->Command({"SET", keys_.DeadLetter("profile"), "x"}).status());
  for (int i = 0; i < 4; ++i) ASSERT_OK(consumer_->ClaimIdle().status());
  auto pending = [&] {
    return redis_->Command({"XPENDING", keys_.EventShard(0), "profile"})
        ->elements()[0]
        .integer();
  };
  EXPECT_EQ(pending(), 1);
  EXPECT_EQ(consumer_->stats().dead_lettered.load(), 0);
  ASSERT_OK(redis_->Command({"DEL", keys_.DeadLetter("profile")}).status());
  ASSERT_OK(consumer_->ClaimIdle().status());
  EXPECT_EQ(pending(), 0);
  EXPECT_EQ(consumer_->stats().dead_lettered.load(), 1);
  EXPECT_EQ(redis_->Command({"XLEN", keys_.DeadLetter("profile")})->integer(),
            1);
}

TEST_F(ProfileTest, GrpcReadsMaskIdentitiesAndMapErrors) {
  Interaction e = Event("g1", 1794990000, omnicx::v1::CHANNEL_VOICE);
  *e.mutable_customer()->mutable_identity() = Id("phone", "+15551234567");
  *e.add_identities() = Id("email", "jane@example.com");
  ASSERT_OK_AND_ASSIGN(Resolution r,
                       store_->Resolve(e.customer(), e.identities(), kNow));
  ASSERT_OK(store_->Apply(r.customer_id, e, kNow).status());

  ProfileServiceImpl service(
      *store_, omnicx::testing::TestCredentials::Default().authenticator());
  auto server = testing::StartInProcess({&service});
  ASSERT_TRUE(server.ok());
  auto stub = omnicx::v1::ProfileService::NewStub(testing::ChannelTo(**server));

  omnicx::v1::GetProfileRequest request;
  *request.mutable_customer()->mutable_identity() =
      Id("phone", "+1 555 123 4567");
  omnicx::v1::GetProfileResponse response;
  grpc::ClientContext c1;
  ASSERT_TRUE(stub->GetProfile(&c1, request, &response).ok());
  EXPECT_EQ(response.profile().customer_id(), r.customer_id);
  ASSERT_EQ(response.profile().identities_size(), 2);
  EXPECT_EQ(response.profile().identities(0).value(), "j***@example.com");
  EXPECT_EQ(response.profile().identities(1).value(), "+1******4567");
  EXPECT_EQ(response.profile().channel_counts().at("CHANNEL_VOICE"), 1);

  omnicx::v1::GetTimelineRequest tl;
  tl.mutable_customer()->set_customer_id(r.customer_id);
  omnicx::v1::GetTimelineResponse timeline;
  grpc::ClientContext c2;
  ASSERT_TRUE(stub->GetTimeline(&c2, tl, &timeline).ok());
  ASSERT_EQ(timeline.interactions_size(), 1);
  EXPECT_EQ(timeline.interactions(0).customer().identity().value(),
            "+1******4567");

  request.mutable_customer()->set_anonymous_id("unknown");
  grpc::ClientContext c3;
  EXPECT_EQ(stub->GetProfile(&c3, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  *request.mutable_customer()->mutable_identity() = Id("email", "bad");
  grpc::ClientContext c4;
  EXPECT_EQ(stub->GetProfile(&c4, request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  tl.set_page_size(501);
  grpc::ClientContext c5;
  EXPECT_EQ(stub->GetTimeline(&c5, tl, &timeline).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ProfileTest, TraitsMergeOrReplaceAndConsentKeepsHistory) {
  omnicx::v1::CustomerRef ref;
  ref.set_anonymous_id("t-1");
  google::protobuf::RepeatedPtrField<omnicx::v1::Identity> none;
  ASSERT_OK_AND_ASSIGN(Resolution r, store_->Resolve(ref, none, kNow));
  ProfileServiceImpl service(
      *store_, omnicx::testing::TestCredentials::Default().authenticator(),
      nullptr, [] { return kNow; });
  auto server = testing::StartInProcess({&service});
  ASSERT_TRUE(server.ok());
  auto stub = omnicx::v1::ProfileService::NewStub(testing::ChannelTo(**server));

  omnicx::v1::UpdateTraitsRequest traits;
  *traits.mutable_customer() = ref;
  (*traits.mutable_traits()->mutable_fields())["tier"].set_string_value("gold");
  (*traits.mutable_traits()->mutable_fields())["kids"].set_number_value(2);
  omnicx::v1::UpdateTraitsResponse traits_out;
  grpc::ClientContext c1;
  ASSERT_TRUE(stub->UpdateTraits(&c1, traits, &traits_out).ok());
  EXPECT_EQ(traits_out.profile().traits().fields().at("tier").string_value(),
            "gold");
  traits.mutable_traits()->clear_fields();
  (*traits.mutable_traits()->mutable_fields())["tier"].set_string_value(
      "platinum");
  grpc::ClientContext c2;
  ASSERT_TRUE(stub->UpdateTraits(&c2, traits, &traits_out).ok());
  EXPECT_EQ(traits_out.profile().traits().fields_size(), 2);  // merged
  EXPECT_EQ(traits_out.profile().traits().fields().at("tier").string_value(),
            "platinum");
  traits.set_replace(true);
  grpc::ClientContext c3;
  ASSERT_TRUE(stub->UpdateTraits(&c3, traits, &traits_out).ok());
  EXPECT_EQ(traits_out.profile().traits().fields_size(), 1);  // replaced
  (*traits.mutable_traits()->mutable_fields())["bad:name"].set_bool_value(true);
  grpc::ClientContext c4;
  EXPECT_EQ(stub->UpdateTraits(&c4, traits, &traits_out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  omnicx::v1::SetConsentRequest consent;
  *consent.mutable_customer() = ref;
  consent.set_purpose("marketing");
  consent.set_granted(true);
  consent.set_source("web_form");
  consent.mutable_occurred_at()->set_seconds(1794990000);
  omnicx::v1::SetConsentResponse consent_out;
  grpc::ClientContext c5;
  ASSERT_TRUE(stub->SetConsent(&c5, consent, &consent_out).ok());
  // Withdrawn later...
  consent.set_granted(false);
  consent.set_source("agent");
  consent.mutable_occurred_at()->set_seconds(1794990600);
  grpc::ClientContext c6;
  ASSERT_TRUE(stub->SetConsent(&c6, consent, &consent_out).ok());
  // ...and an older grant arriving late does not override the withdrawal.
  consent.set_granted(true);
  consent.mutable_occurred_at()->set_seconds(1794990300);
  grpc::ClientContext c7;
  ASSERT_TRUE(stub->SetConsent(&c7, consent, &consent_out).ok());
  ASSERT_EQ(consent_out.consents_size(), 1);
  EXPECT_FALSE(consent_out.consents(0).granted());
  EXPECT_EQ(consent_out.consents(0).source(), "agent");
  ASSERT_OK_AND_ASSIGN(auto history, store_->ConsentHistory(r.customer_id));
  EXPECT_EQ(history.size(), 3u);
  consent.set_purpose("Marketing!");
  grpc::ClientContext c8;
  EXPECT_EQ(stub->SetConsent(&c8, consent, &consent_out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// The profile store's Redis paths (resolution, apply, traits, consent,
// reads, merge, GDPR erase with its SCAN) as the `profile` ACL user of
// helm/omnicx/files/redis-acl.conf: nothing it sends is refused.
class ProfileAclTest : public testing::RedisTest {
 protected:
  ProfileAclTest()
      : RedisTest({.acl_passwords = testing::TestAclPasswords()},
                  AclUser("profile")) {}
};

TEST_F(ProfileAclTest, StoreRunsUnderTheProfileUser) {
  redis::Client* redis = redis_.get();
  const keys::KeyBuilder keys = *keys::KeyBuilder::Create("default");
  ProfileStoreOptions options;
  options.identity_secret = "test-secret-0123456789";
  ProfileStore store(*redis, keys, options);

  Interaction first = Event("acl-1", 1794990000);
  first.mutable_customer()->set_anonymous_id("acl-anon-1");
  *first.add_identities() = Id("email", "jane@example.com");
  ASSERT_OK_AND_ASSIGN(
      Resolution a, store.Resolve(first.customer(), first.identities(), kNow));
  ASSERT_OK(store.Apply(a.customer_id, first, kNow).status());
  Interaction second = Event("acl-2", 1794990100);
  second.mutable_customer()->set_anonymous_id("acl-anon-2");
  *second.add_identities() = Id("phone", "+15551234567");
  ASSERT_OK_AND_ASSIGN(Resolution b, store.Resolve(second.customer(),
                                                   second.identities(), kNow));
  ASSERT_OK(store.Apply(b.customer_id, second, kNow).status());
  google::protobuf::Struct traits;
  (*traits.mutable_fields())["tier"].set_string_value("gold");
  ASSERT_OK(store.UpdateTraits(a.customer_id, traits, false, kNow).status());
  omnicx::v1::Consent consent;
  consent.set_purpose("marketing");
  consent.set_granted(true);
  ASSERT_OK(store.SetConsent(a.customer_id, consent).status());
  ASSERT_OK(store.GetProfile(a.customer_id).status());
  ASSERT_OK(
      store.GetTimeline(a.customer_id, 10, "", {}, std::nullopt, std::nullopt)
          .status());
  ASSERT_OK_AND_ASSIGN(ProfileStore::ContextRead context,
                       store.ReadContext(a.customer_id, "sig"));
  EXPECT_THAT(store.CacheContext(a.customer_id, "sig", context.version, "c",
                                 absl::Minutes(1)),
              IsOkAndHolds(true));
  ASSERT_OK(store.Merge(a.customer_id, b.customer_id, kNow, "test").status());
  ASSERT_OK_AND_ASSIGN(std::string survivor, store.Canonical(a.customer_id));
  ASSERT_OK(store.Erase(survivor).status());
  // Nothing was refused along the way.
  ASSERT_OK_AND_ASSIGN(redis::Reply log,
                       NewClient(AclUser("default"))->Command({"ACL", "LOG"}));
  EXPECT_THAT(log.elements(), IsEmpty());
}

}  // namespace
}  // namespace omnicx::profile
