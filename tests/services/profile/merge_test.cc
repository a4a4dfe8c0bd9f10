// Merges against a real redis-server: chains, history kept (timelines,
// counts, traits, consents), redirects of merged ids, the merge log,
// concurrent merges, automatic merges from events, the guard, and
// redelivery after a merge.
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/keys/key_builder.h"
#include "libs/metrics/registry.h"
#include "libs/redis/client.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/in_process_server.h"
#include "libs/testing/redis_test.h"
#include "omnicx/v1/profile.grpc.pb.h"
#include "services/profile/profile_service.h"
#include "services/profile/profile_store.h"

namespace omnicx::profile {
namespace {

using ::omnicx::status::IsOkAndHolds;
using ::omnicx::status::StatusIs;
using ::omnicx::v1::Interaction;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

const absl::Time kNow = absl::FromUnixSeconds(1795000000);

omnicx::v1::Identity Id(const std::string& type, const std::string& value) {
  omnicx::v1::Identity i;
  i.set_type(type);
  i.set_value(value);
  return i;
}

class MergeTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    if (HasFatalFailure()) return;
    ProfileStoreOptions options;
    options.identity_secret = "test-secret-0123456789";
    store_ = std::make_unique<ProfileStore>(*redis_, keys_, options);
  }

  // A customer known by `email`, created at `created`, with `events`
  // touchpoints (ids <prefix>0..), each 1 minute apart from `first`.
  std::string Customer(const std::string& email, absl::Time created, int events,
                       int64_t first, const std::string& prefix) {
    omnicx::v1::CustomerRef ref;
    *ref.mutable_identity() = Id("email", email);
    google::protobuf::RepeatedPtrField<omnicx::v1::Identity> none;
    auto who = store_->Resolve(ref, none, created);
    EXPECT_TRUE(who.ok()) << who.status();
    for (int i = 0; i < events; ++i) {
      Interaction e;
      e.set_event_id(absl::StrCat(prefix, i));
      e.set_channel(omnicx::v1::CHANNEL_WEB);
      e.set_type("page_view");
      e.set_value(10);
      e.mutable_occurred_at()->set_seconds(first + 60 * i);
      *e.mutable_customer() = ref;
      EXPECT_TRUE(store_->Apply(who->customer_id, e, created).ok());
    }
    return who->customer_id;
  }

  int ProfileCount() {
    int n = 0;
    // Profile hashes are `cx:default:{p:<n>}:c:<encoded id>:profile`; the
    // encoded id holds no ':'.
    const redis::Reply keys =
        *redis_->Command({"KEYS", "cx:default:{p:*}:c:*:profile"});
    for (const auto& k : keys.elements()) {
      const std::string key = k.str();
      const size_t id = key.find("}:c:") + 4;
      n += key.find(':', id) == key.size() - std::string(":profile").size();
    }
    return n;
  }

  keys::KeyBuilder keys_ = *keys::KeyBuilder::Create("default");
  std::unique_ptr<ProfileStore> store_;
};

// A replica remembers which customer an identity gave (skipping the resolve
// reads). Another replica merging that customer away, or erasing the
// survivor, is still honoured: the commit refuses the stale customer, and
// the event goes to the survivor, or is dropped.
TEST_F(MergeTest, AReplicasRememberedIdentityFollowsAMergeAndAnErasure) {
  ProfileStoreOptions options;
  options.identity_secret = "test-secret-0123456789";
  ProfileStore replica(*redis_, keys_, options);
  const std::string survivor =
      Customer("s@example.com", kNow - absl::Hours(3), 1, 1794000000, "s");
  const std::string merged =
      Customer("m@example.com", kNow - absl::Hours(2), 1, 1794000000, "m");
  omnicx::v1::CustomerRef ref;
  *ref.mutable_identity() = Id("email", "m@example.com");
  google::protobuf::RepeatedPtrField<omnicx::v1::Identity> none;
  const ProfileStore::ResolveInput input{&ref, &none, "event:test"};
  auto resolve = [&](absl::Time at = kNow) {
    std::vector<absl::StatusOr<Resolution>> r =
        replica.ResolveBatch({input}, at);
    EXPECT_TRUE(r[0].ok()) << r[0].status();
    return r[0].ok() ? r[0]->customer_id : "";
  };
  EXPECT_EQ(resolve(), merged);  // read, and remembered
  ASSERT_OK(redis_->Command({"CONFIG", "RESETSTAT"}).status());
  EXPECT_EQ(resolve(), merged);  // from memory: no read
  EXPECT_EQ(
      redis_->Command({"INFO", "commandstats"})->str().find("cmdstat_get"),
      std::string::npos);
  // Remembered for an hour only (erasure tombstones outlive it by far).
  EXPECT_EQ(resolve(kNow + absl::Minutes(61)), merged);
  EXPECT_NE(
      redis_->Command({"INFO", "commandstats"})->str().find("cmdstat_get"),
      std::string::npos);

  ASSERT_OK(store_->Merge(survivor, merged, kNow, "call:test").status());
  EXPECT_EQ(resolve(), merged);  // stale, until the commit says otherwise
  Interaction e;
  e.set_event_id("after-merge");
  e.set_channel(omnicx::v1::CHANNEL_WEB);
  e.set_type("page_view");
  e.mutable_occurred_at()->set_seconds(1794000600);
  *e.mutable_customer() = ref;
  EXPECT_THAT(replica.Apply(merged, e, kNow),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(resolve(), survivor);  // forgotten, read again
  ASSERT_OK_AND_ASSIGN(bool applied, replica.Apply(survivor, e, kNow));
  EXPECT_TRUE(applied);
  EXPECT_EQ(resolve(), survivor);  // remembered again

  ASSERT_OK(store_
                ->Erase(survivor,
                        [](const std::vector<std::string>&) {
                          return absl::OkStatus();
                        })
                .status());
  e.set_event_id("after-erase");
  EXPECT_THAT(replica.Apply(resolve(), e, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(MergeTest, ChainKeepsAllHistoryAndTheOldestSurvives) {
  const std::string a =
      Customer("a@example.com", kNow - absl::Hours(3), 2, 1794000000, "a");
  const std::string b =
      Customer("b@example.com", kNow - absl::Hours(2), 2, 1794000030, "b");
  const std::string c =
      Customer("c@example.com", kNow - absl::Hours(1), 1, 1794000010, "c");
  ASSERT_OK_AND_ASSIGN(MergeResult ab, store_->Merge(b, a, kNow, "call:test"));
  EXPECT_EQ(ab.survivor_id, a);  // older
  EXPECT_EQ(ab.merged_id, b);
  ASSERT_OK_AND_ASSIGN(MergeResult abc, store_->Merge(c, b, kNow, "call:test"));
  EXPECT_EQ(abc.survivor_id, a);  // b redirects to a
  EXPECT_EQ(ProfileCount(), 1);

  ASSERT_OK_AND_ASSIGN(omnicx::v1::Profile p, store_->GetProfile(a));
  EXPECT_EQ(p.event_count(), 5);
  EXPECT_DOUBLE_EQ(p.lifetime_value(), 50);
  EXPECT_THAT(p.merged_ids(), UnorderedElementsAre(b, c));
  EXPECT_EQ(p.identities_size(), 3);
  EXPECT_EQ(p.first_seen().seconds(), 1794000000);
  // Timelines interleaved by time.
  ASSERT_OK_AND_ASSIGN(auto timeline, store_->FullTimeline(a));
  std::vector<std::string> ids;
  for (const auto& e : timeline) ids.push_back(e.event_id());
  EXPECT_THAT(ids, ElementsAre("b1", "a1", "b0", "c0", "a0"));
  // Every identity and every old id finds the survivor.
  for (const char* email :
       {"a@example.com", "b@example.com", "c@example.com"}) {
    omnicx::v1::CustomerRef ref;
    *ref.mutable_identity() = Id("email", email);
    EXPECT_EQ(*store_->directory().Lookup(ref), a) << email;
  }
  omnicx::v1::CustomerRef old;
  old.set_customer_id(c);
  EXPECT_EQ(*store_->directory().Lookup(old), a);
  // The other services learn of both merges.
  auto log = redis_->Command({"XRANGE", keys_.MergeLog(), "-", "+"});
  ASSERT_EQ(log->elements().size(), 2u);
  // Provenance of the links survives for audit/unmerge.
  int from_b = 0;
  for (const auto& l : p.links())
    from_b += l.identity().value() == "b@example.com";
  EXPECT_EQ(from_b, 1);
}

TEST_F(MergeTest, TraitsNewestWinsAndConsentWithdrawalWins) {
  const std::string a =
      Customer("a@example.com", kNow - absl::Hours(3), 0, 0, "a");
  const std::string b =
      Customer("b@example.com", kNow - absl::Hours(2), 0, 0, "b");
  google::protobuf::Struct t;
  (*t.mutable_fields())["tier"].set_string_value("silver");
  ASSERT_OK(store_->UpdateTraits(a, t, false, kNow - absl::Minutes(10)));
  (*t.mutable_fields())["tier"].set_string_value("gold");
  (*t.mutable_fields())["city"].set_string_value("Leeds");
  ASSERT_OK(store_->UpdateTraits(b, t, false, kNow - absl::Minutes(5)));
  omnicx::v1::Consent granted, withdrawn;
  granted.set_purpose("marketing");
  granted.set_granted(true);
  granted.mutable_updated_at()->set_seconds(1794999000);  // newer grant on A
  withdrawn.set_purpose("marketing");
  withdrawn.set_granted(false);
  withdrawn.mutable_updated_at()->set_seconds(
      1794990000);  // older withdrawal on B
  ASSERT_OK(store_->SetConsent(a, granted));
  ASSERT_OK(store_->SetConsent(b, withdrawn));
  ASSERT_OK(store_->Merge(a, b, kNow, "call:test").status());
  ASSERT_OK_AND_ASSIGN(omnicx::v1::Profile p, store_->GetProfile(a));
  EXPECT_EQ(p.traits().fields().at("tier").string_value(), "gold");
  EXPECT_EQ(p.traits().fields().at("city").string_value(), "Leeds");
  ASSERT_EQ(p.consents_size(), 1);
  EXPECT_FALSE(p.consents(0).granted());  // conservative: the withdrawal wins
  ASSERT_OK_AND_ASSIGN(auto history, store_->ConsentHistory(a));
  EXPECT_EQ(history.size(), 2u);
}

// A consent or trait write that looked the customer up just before a merge
// moved them lands on the survivor, never on the merged-away id; a write for
// a customer without a profile writes nothing; both change the survivor's
// context version, so the context cached before is no longer served.
TEST_F(MergeTest, WritesAfterAMergeReachTheSurvivor) {
  const std::string a =
      Customer("a@example.com", kNow - absl::Hours(3), 0, 0, "a");
  const std::string b =
      Customer("b@example.com", kNow - absl::Hours(2), 0, 0, "b");
  omnicx::v1::Consent granted;
  granted.set_purpose("marketing");
  granted.set_granted(true);
  granted.mutable_updated_at()->set_seconds(1794990000);
  ASSERT_OK(store_->SetConsent(a, granted).status());
  ASSERT_OK(store_->Merge(a, b, kNow, "call:test").status());
  ASSERT_OK_AND_ASSIGN(ProfileStore::ContextRead read,
                       store_->ReadContext(a, "sig"));
  ASSERT_THAT(
      store_->CacheContext(a, "sig", read.version, "cached", absl::Minutes(1)),
      IsOkAndHolds(true));
  ASSERT_OK_AND_ASSIGN(read, store_->ReadContext(a, "sig"));
  ASSERT_EQ(read.cached, "cached");

  omnicx::v1::Consent withdrawn = granted;
  withdrawn.set_granted(false);
  withdrawn.mutable_updated_at()->set_seconds(1794999000);
  EXPECT_THAT(store_->SetConsent(b, withdrawn), IsOkAndHolds(a));
  google::protobuf::Struct t;
  (*t.mutable_fields())["tier"].set_string_value("gold");
  EXPECT_THAT(store_->UpdateTraits(b, t, false, kNow), IsOkAndHolds(a));
  ASSERT_OK_AND_ASSIGN(omnicx::v1::Profile p, store_->GetProfile(a));
  ASSERT_EQ(p.consents_size(), 1);
  EXPECT_FALSE(p.consents(0).granted());
  EXPECT_EQ(p.traits().fields().at("tier").string_value(), "gold");
  for (const std::string& key :
       {keys_.Consents(b), keys_.ConsentLog(b), keys_.Traits(b)}) {
    EXPECT_EQ(redis_->Command({"EXISTS", key})->integer(), 0) << key;
  }
  ASSERT_OK_AND_ASSIGN(read, store_->ReadContext(a, "sig"));
  EXPECT_EQ(read.cached, std::nullopt);

  EXPECT_THAT(store_->SetConsent("c_nobody", granted),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->UpdateTraits("c_nobody", t, true, kNow),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(redis_->Command({"KEYS", "*c_nobody*"})->elements().size(), 0u);
}

// An identity linked to the merged customer while the merge runs ends up
// owned by the survivor: its index entry is repointed like the others (a
// stale entry would outlive the survivor's erasure). A race, run a bounded
// number of times; before the fix it showed within the first few.
TEST_F(MergeTest, AnIdentityLinkedDuringAMergeFollowsTheSurvivor) {
  for (int it = 0; it < 100; ++it) {
    const std::string s = Customer(absl::StrCat("s", it, "@example.com"),
                                   kNow - absl::Hours(2), 0, 0, "s");
    const std::string m = Customer(absl::StrCat("m", it, "@example.com"),
                                   kNow - absl::Hours(1), 0, 0, "m");
    const omnicx::v1::Identity x = Id("crm_id", absl::StrCat("crm-", it));
    std::thread link([&] {
      omnicx::v1::CustomerRef ref;
      ref.set_customer_id(m);
      google::protobuf::RepeatedPtrField<omnicx::v1::Identity> ids;
      *ids.Add() = x;
      EXPECT_OK(store_->Resolve(ref, ids, kNow).status());
    });
    ASSERT_OK(store_->Merge(s, m, kNow, "call:test").status());
    link.join();
    const redis::Reply owner = *redis_->Command(
        {"GET", keys_.IdentityIndex(store_->directory().Digest(x))});
    ASSERT_FALSE(owner.is_nil()) << "iteration " << it;
    ASSERT_EQ(owner.str(), s) << "iteration " << it;
    ASSERT_EQ(redis_
                  ->Command({"SISMEMBER", keys_.Identities(s),
                             absl::StrCat("crm_id:crm-", it)})
                  ->integer(),
              1)
        << "iteration " << it;
  }
}

TEST_F(MergeTest, AMergeWithAnErasedCustomerWritesNothing) {
  const std::string a =
      Customer("a@example.com", kNow - absl::Hours(3), 1, 1794990000, "a");
  const std::string b =
      Customer("b@example.com", kNow - absl::Hours(2), 1, 1794990000, "b");
  ASSERT_OK(store_->Erase(a).status());
  EXPECT_THAT(store_->Merge(a, b, kNow, "call:test"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(
      redis_->Command({"KEYS", keys_.CustomerKeyPattern(a)})->elements().size(),
      0u);
  EXPECT_OK(store_->GetProfile(b).status());
}

TEST_F(MergeTest, ConcurrentMergesLoseNothingAndLeaveOneProfile) {
  // Six emails on one profile: lift the guard for this test.
  ProfileStoreOptions options;
  options.identity_secret = "test-secret-0123456789";
  options.max_per_type.clear();
  store_ = std::make_unique<ProfileStore>(*redis_, keys_, options);
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(Customer(absl::StrCat("u", i, "@example.com"),
                           kNow - absl::Hours(10 - i), 3, 1794000000 + i,
                           absl::StrCat("e", i, "-")));
  }
  // Overlapping merges from 6 threads: a chain and a star at once.
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      auto r = store_->Merge(ids[i], ids[(i + 1) % 6], kNow, "call:test");
      EXPECT_TRUE(r.ok()) << r.status();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ProfileCount(), 1);
  ASSERT_OK_AND_ASSIGN(std::string survivor, store_->Canonical(ids[3]));
  EXPECT_EQ(survivor, ids[0]);  // the oldest
  ASSERT_OK_AND_ASSIGN(omnicx::v1::Profile p, store_->GetProfile(survivor));
  EXPECT_EQ(p.event_count(), 18);
  EXPECT_EQ(p.merged_ids_size(), 5);
  ASSERT_OK_AND_ASSIGN(auto timeline, store_->FullTimeline(survivor));
  EXPECT_EQ(timeline.size(), 18u);
}

TEST_F(MergeTest, EventLinkingAnOwnedIdentityMergesAndRedeliveryCountsOnce) {
  const std::string a =
      Customer("a@example.com", kNow - absl::Hours(3), 1, 1794000000, "a");
  const std::string b =
      Customer("b@example.com", kNow - absl::Hours(2), 1, 1794000100, "b");
  // An event for b that also carries a's email: the two are one person.
  omnicx::v1::CustomerRef ref;
  *ref.mutable_identity() = Id("email", "b@example.com");
  google::protobuf::RepeatedPtrField<omnicx::v1::Identity> ids;
  *ids.Add() = Id("email", "a@example.com");
  ASSERT_OK_AND_ASSIGN(Resolution r,
                       store_->ResolveAndMerge(ref, ids, kNow, "event:x"));
  EXPECT_EQ(r.customer_id, a);
  EXPECT_THAT(r.merged, ElementsAre(b));
  // b's event "b0" is redelivered after the merge: not counted again.
  Interaction b0;
  b0.set_event_id("b0");
  b0.set_channel(omnicx::v1::CHANNEL_WEB);
  b0.set_type("page_view");
  b0.mutable_occurred_at()->set_seconds(1794000100);
  ASSERT_OK_AND_ASSIGN(bool applied, store_->Apply(r.customer_id, b0, kNow));
  EXPECT_FALSE(applied);
  // Applying to the merged-away id is refused (the caller re-resolves).
  EXPECT_THAT(store_->Apply(b, b0, kNow), StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(store_->GetProfile(a)->event_count(), 2);
}

TEST_F(MergeTest, GuardRefusesMergesThatWouldChainStrangers) {
  omnicx::v1::CustomerRef kiosk;
  kiosk.set_anonymous_id("kiosk");
  google::protobuf::RepeatedPtrField<omnicx::v1::Identity> three;
  for (int i = 0; i < 3; ++i)
    *three.Add() = Id("email", absl::StrCat("k", i, "@example.com"));
  ASSERT_OK_AND_ASSIGN(Resolution k, store_->Resolve(kiosk, three, kNow));
  const std::string other = Customer("z@example.com", kNow, 0, 0, "z");
  EXPECT_THAT(store_->Merge(k.customer_id, other, kNow, "call:test"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ProfileCount(), 2);

  ProfileServiceImpl service(
      *store_, omnicx::testing::TestCredentials::Default().authenticator());
  auto server = testing::StartInProcess({&service});
  ASSERT_TRUE(server.ok());
  auto stub = omnicx::v1::ProfileService::NewStub(testing::ChannelTo(**server));
  omnicx::v1::LinkIdentitiesRequest link;
  link.mutable_customer()->set_customer_id(k.customer_id);
  *link.add_identities() = Id("email", " Z@example.com ");
  omnicx::v1::LinkIdentitiesResponse linked;
  grpc::ClientContext c1;
  ASSERT_TRUE(stub->LinkIdentities(&c1, link, &linked).ok());
  EXPECT_EQ(linked.customer_id(), k.customer_id);
  EXPECT_TRUE(linked.merged_ids().empty());
  ASSERT_EQ(linked.refused_size(), 1);
  EXPECT_THAT(linked.refused(0), ::testing::HasSubstr("shared-device guard"));
  *link.mutable_identities(0) = Id("phone", "12");
  grpc::ClientContext c2;
  EXPECT_EQ(stub->LinkIdentities(&c2, link, &linked).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  omnicx::v1::MergeProfilesRequest merge;
  merge.mutable_a()->set_customer_id(other);
  *merge.mutable_b()->mutable_identity() = Id("email", "k0@example.com");
  omnicx::v1::MergeProfilesResponse merged;
  grpc::ClientContext c3;
  EXPECT_EQ(stub->MergeProfiles(&c3, merge, &merged).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace omnicx::profile
