// The per-event path against Redis Cluster's rules: a real redis-server in
// cluster mode, owning every slot, refuses (CROSSSLOT) any script,
// transaction or multi-key command whose keys are in more than one slot.
// Ingestion's append, the profile's apply, traits, consent and context
// cache, the journey's apply, forget and sweep of time-driven stage moves
// and the aggregator's fold and reads all run here.
//
// Not yet covered, because they still span slots (docs/architecture.md,
// "Scripts and hash slots"): identity linking and unlinking, the profile,
// journey and recommendation merges.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/keys/key_builder.h"
#include "libs/redis/client.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/redis_test.h"
#include "libs/testing/wait.h"
#include "services/ingestion/event_log.h"
#include "services/journey/aggregator.h"
#include "services/journey/journey_store.h"
#include "services/profile/profile_store.h"

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
    ASSERT_OK(
        redis_->Command({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"}).status());
    ASSERT_TRUE(testing::WaitUntil([&] {
      absl::StatusOr<redis::Reply> info = redis_->Command({"CLUSTER", "INFO"});
      return info.ok() &&
             info->str().find("cluster_state:ok") != std::string::npos;
    }));
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

  keys::KeyBuilder keys_ = *keys::KeyBuilder::Create("default");
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

}  // namespace
}  // namespace omnicx
