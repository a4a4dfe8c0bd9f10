// The ingestion service against a real redis-server: validation errors on
// the wire, deduplication across retries, restarts and concurrency, the
// stream, back-pressure, Redis outages and trimming.
#include <atomic>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "libs/events/sharding.h"
#include "libs/keys/key_builder.h"
#include "libs/metrics/registry.h"
#include "libs/redis/client.h"
#include "libs/status/status_macros.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/retention.h"
#include "libs/testing/in_process_server.h"
#include "libs/testing/redis_cluster.h"
#include "libs/testing/redis_test.h"
#include "libs/testing/wait.h"
#include "libs/time/clock.h"
#include "libs/time/proto_time.h"
#include "omnicx/v1/ingestion.grpc.pb.h"
#include "services/ingestion/event_log.h"
#include "services/ingestion/ingestion_service.h"
#include "services/ingestion/intake.h"
#include "services/ingestion/lag_monitor.h"

namespace omnicx::ingestion {
namespace {

using ::omnicx::v1::EventResult;
using ::omnicx::v1::Interaction;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

Interaction Event(const std::string& id,
                  const std::string& customer = "anon-1") {
  Interaction e;
  e.set_event_id(id);
  e.mutable_customer()->set_anonymous_id(customer);
  e.set_channel(omnicx::v1::CHANNEL_WEB);
  e.set_type("page_view");
  *e.mutable_occurred_at() = time::ToProto(absl::Now() - absl::Seconds(10));
  return e;
}

// One running ingestion service (in-process) over a Redis it may outlive.
struct Service {
  Service(redis::Client& redis, const keys::KeyBuilder& keys,
          IntakeOptions intake_options = {}, EventLogOptions log_options = {})
      : log(redis, keys, log_options),
        queue(log, CommitQueueOptions()),
        intake(queue, intake_options, registry),
        impl(intake,
             omnicx::testing::TestCredentials::Default().authenticator(),
             /*stream_window=*/64) {
    (void)log.EnsureConsumerGroups();
    auto started = omnicx::testing::StartInProcess({&impl});
    EXPECT_TRUE(started.ok()) << started.status();
    server = std::move(*started);
    stub = omnicx::v1::IngestionService::NewStub(
        omnicx::testing::ChannelTo(*server));
  }
  metrics::Registry registry;
  EventLog log;
  CommitQueue queue;
  Intake intake;
  IngestionServiceImpl impl;
  std::unique_ptr<server::Server> server;
  std::unique_ptr<omnicx::v1::IngestionService::Stub> stub;
};

class IngestionTest : public testing::RedisTest {
 protected:
  IngestionTest()
      : RedisTest({.appendonly = true, .appendfsync = "always"}, FailFast()) {}

  void SetUp() override {
    RedisTest::SetUp();
    if (HasFatalFailure()) return;
    service_ = std::make_unique<Service>(*redis_, keys_);
  }

  // event_id -> number of stream entries holding it, over all shards.
  std::map<std::string, int> StoredIds() {
    std::map<std::string, int> out;
    for (int shard = 0; shard < 16; ++shard) {
      auto r = redis_->Command({"XRANGE", keys_.EventShard(shard), "-", "+"});
      if (!r.ok()) continue;
      for (const redis::Reply& entry : r->elements()) {
        Interaction e;
        EXPECT_TRUE(e.ParseFromString(entry.elements()[1].elements()[1].str()));
        out[e.event_id()]++;
      }
    }
    return out;
  }

  absl::StatusOr<omnicx::v1::TrackBatchResponse> Batch(
      const std::vector<Interaction>& events, Service* service = nullptr) {
    service = service ? service : service_.get();
    omnicx::v1::TrackBatchRequest request;
    for (const auto& e : events) *request.add_interactions() = e;
    omnicx::v1::TrackBatchResponse response;
    grpc::ClientContext context;
    grpc::Status s = service->stub->TrackBatch(&context, request, &response);
    if (!s.ok()) return status::FromGrpcStatus(s);
    return response;
  }

  grpc::Status Track(const Interaction& e, omnicx::v1::TrackResponse* out) {
    omnicx::v1::TrackRequest request;
    *request.mutable_interaction() = e;
    grpc::ClientContext context;
    return service_->stub->Track(&context, request, out);
  }

  keys::KeyBuilder keys_ = *keys::KeyBuilder::Create("default");
  std::unique_ptr<Service> service_;
};

TEST_F(IngestionTest, TrackStoresNormalisedEventOnce) {
  Interaction e = Event("e-1");
  e.mutable_customer()->mutable_identity()->set_type("email");
  e.mutable_customer()->mutable_identity()->set_value(" Jane@Example.COM ");
  omnicx::v1::TrackResponse response;
  ASSERT_TRUE(Track(e, &response).ok());
  EXPECT_EQ(response.result().status(), omnicx::v1::EVENT_STATUS_ACCEPTED);
  EXPECT_THAT(response.result().stream_id(),
              ::testing::MatchesRegex("[0-9]+/[0-9]+-[0-9]+"));

  omnicx::v1::TrackResponse again;
  ASSERT_TRUE(Track(e, &again).ok());
  EXPECT_EQ(again.result().status(), omnicx::v1::EVENT_STATUS_DUPLICATE);
  EXPECT_EQ(again.result().stream_id(), response.result().stream_id());

  EXPECT_EQ(StoredIds(), (std::map<std::string, int>{{"e-1", 1}}));
  const int shard = std::stoi(response.result().stream_id());
  auto entries = redis_->Command({"XRANGE", keys_.EventShard(shard), "-", "+"});
  Interaction stored;
  ASSERT_TRUE(stored.ParseFromString(
      entries->elements()[0].elements()[1].elements()[1].str()));
  EXPECT_EQ(stored.customer().identity().value(), "jane@example.com");
  EXPECT_GT(stored.received_at().seconds(), 0);
}

TEST_F(IngestionTest, TrackRejectsWithBadRequestAndWritesNothing) {
  Interaction e = Event("bad-1");
  e.mutable_feedback()->set_nps(11);
  e.clear_channel();
  auto before = redis_->Command({"DBSIZE"})->integer();
  omnicx::v1::TrackResponse response;
  grpc::Status s = Track(e, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(s.error_details()));
  google::rpc::BadRequest bad;
  ASSERT_TRUE(details.details(0).UnpackTo(&bad));
  ASSERT_EQ(bad.field_violations_size(), 2);
  EXPECT_EQ(bad.field_violations(0).field(), "interaction.channel");
  EXPECT_EQ(bad.field_violations(1).field(), "interaction.feedback.nps");
  EXPECT_EQ(bad.field_violations(1).description(), "must be between 0 and 10");
  EXPECT_EQ(redis_->Command({"DBSIZE"})->integer(), before);
  EXPECT_TRUE(StoredIds().empty());
}

// An untrusted credential's events: identities are stored as claims only,
// and an event naming its subject by identity is rejected with nothing
// written, while the rest of the batch is stored.
TEST_F(IngestionTest, UntrustedIdentitiesAreStoredAsClaimsOnly) {
  Interaction claimed = Event("u-1", "anon-A");
  claimed.add_identities()->set_type("email");
  claimed.mutable_identities(0)->set_value("Jane@Example.com");
  claimed.add_identities()->set_type("phone");
  claimed.mutable_identities(1)->set_value("+1 555 123 4567");
  Interaction lookup = Event("u-2");
  lookup.mutable_customer()->mutable_identity()->set_type("phone");
  lookup.mutable_customer()->mutable_identity()->set_value("+15551234567");
  std::vector<Interaction*> events = {&claimed, &lookup};
  ASSERT_OK_AND_ASSIGN(std::vector<EventResult> results,
                       service_->intake.Process(events, "interactions",
                                                /*trusted_identities=*/false));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].status(), omnicx::v1::EVENT_STATUS_ACCEPTED);
  EXPECT_EQ(results[1].status(), omnicx::v1::EVENT_STATUS_REJECTED);
  ASSERT_EQ(results[1].violations_size(), 1);
  EXPECT_EQ(results[1].violations(0).field(),
            "interactions[1].customer.identity");
  EXPECT_EQ(results[1].violations(0).description(),
            "an untrusted credential may name the customer only by "
            "customer_id or anonymous_id");
  EXPECT_EQ(StoredIds(), (std::map<std::string, int>{{"u-1", 1}}));

  const int shard = std::stoi(results[0].stream_id());
  auto entries = redis_->Command({"XRANGE", keys_.EventShard(shard), "-", "+"});
  Interaction stored;
  ASSERT_TRUE(stored.ParseFromString(
      entries->elements()[0].elements()[1].elements()[1].str()));
  EXPECT_EQ(stored.customer().anonymous_id(), "anon-A");
  EXPECT_EQ(stored.identities_size(), 0);
  ASSERT_EQ(stored.claimed_identities_size(), 2);
  EXPECT_EQ(stored.claimed_identities(0).value(), "jane@example.com");
  EXPECT_EQ(stored.claimed_identities(1).value(), "+15551234567");

  // Trusted, the same identities stay identities (linked downstream).
  Interaction trusted = Event("t-1", "anon-A");
  trusted.add_identities()->set_type("email");
  trusted.mutable_identities(0)->set_value("jane@example.com");
  ASSERT_OK_AND_ASSIGN(results,
                       service_->intake.Process({&trusted}, "interaction",
                                                /*trusted_identities=*/true));
  EXPECT_EQ(results[0].status(), omnicx::v1::EVENT_STATUS_ACCEPTED);
  entries = redis_->Command(
      {"XRANGE", keys_.EventShard(std::stoi(results[0].stream_id())), "-",
       "+"});
  ASSERT_TRUE(stored.ParseFromString(
      entries->elements().back().elements()[1].elements()[1].str()));
  EXPECT_EQ(stored.event_id(), "t-1");
  EXPECT_EQ(stored.identities_size(), 1);
  EXPECT_EQ(stored.claimed_identities_size(), 0);
}

TEST_F(IngestionTest, BatchAnswersPerItemInOrder) {
  Interaction invalid = Event("b-2");
  invalid.set_type("nonsense");
  auto r = Batch({Event("b-1"), invalid, Event("b-1"), Event("b-3")});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->results_size(), 4);
  EXPECT_EQ(r->results(0).status(), omnicx::v1::EVENT_STATUS_ACCEPTED);
  EXPECT_EQ(r->results(1).status(), omnicx::v1::EVENT_STATUS_REJECTED);
  EXPECT_EQ(r->results(1).violations(0).field(), "interactions[1].type");
  EXPECT_EQ(r->results(2).status(), omnicx::v1::EVENT_STATUS_DUPLICATE);
  EXPECT_EQ(r->results(2).stream_id(), r->results(0).stream_id());
  EXPECT_EQ(r->results(3).status(), omnicx::v1::EVENT_STATUS_ACCEPTED);
  EXPECT_EQ(StoredIds(), (std::map<std::string, int>{{"b-1", 1}, {"b-3", 1}}));
  const std::string metrics = service_->registry.Render();
  EXPECT_THAT(metrics, HasSubstr("omnicx_ingestion_events_total{status="
                                 "\"accepted\",channel=\"CHANNEL_WEB\","
                                 "reason=\"\"} 2"));
  EXPECT_THAT(metrics, HasSubstr("omnicx_ingestion_events_total{status="
                                 "\"duplicate\",channel=\"CHANNEL_WEB\","
                                 "reason=\"\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("omnicx_ingestion_events_total{status="
                                 "\"rejected\",channel=\"CHANNEL_WEB\","
                                 "reason=\"type\"} 1"));

  std::vector<Interaction> too_many(501, Event("x"));
  EXPECT_THAT(Batch(too_many),
              status::StatusIs(absl::StatusCode::kInvalidArgument));
}

// The same id for customer references on different shards is two events,
// in one call as in two (the dedup records are per shard); a repeat for
// the same reference is a duplicate.
TEST_F(IngestionTest, AnIdRepeatedForAnotherCustomerInOneCallIsStored) {
  std::string other = "anon-2";
  Interaction a = Event("z-1", "anon-1");
  for (int i = 3; events::ShardFor(Event("z-1", other).customer(), 16) ==
                  events::ShardFor(a.customer(), 16);
       ++i) {
    other = absl::StrCat("anon-", i);
  }
  auto r = Batch({a, Event("z-1", other), a});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->results_size(), 3);
  EXPECT_EQ(r->results(0).status(), omnicx::v1::EVENT_STATUS_ACCEPTED);
  EXPECT_EQ(r->results(1).status(), omnicx::v1::EVENT_STATUS_ACCEPTED);
  EXPECT_NE(r->results(1).stream_id(), r->results(0).stream_id());
  EXPECT_EQ(r->results(2).status(), omnicx::v1::EVENT_STATUS_DUPLICATE);
  EXPECT_EQ(r->results(2).stream_id(), r->results(0).stream_id());
  EXPECT_EQ(StoredIds(), (std::map<std::string, int>{{"z-1", 2}}));
}

TEST_F(IngestionTest, DuplicatesAfterServiceAndRedisRestart) {
  ASSERT_TRUE(Batch({Event("r-1")}).ok());
  // A new service process over the same Redis.
  service_ = std::make_unique<Service>(*redis_, keys_);
  auto after_service = Batch({Event("r-1")});
  ASSERT_TRUE(after_service.ok());
  EXPECT_EQ(after_service->results(0).status(),
            omnicx::v1::EVENT_STATUS_DUPLICATE);
  // Redis restarts (AOF): the dedup entry survives.
  ASSERT_OK(redis_server_->Stop());
  ASSERT_OK(redis_server_->Restart());
  absl::StatusOr<omnicx::v1::TrackBatchResponse> after_redis;
  ASSERT_TRUE(testing::WaitUntil([&] {
    after_redis = Batch({Event("r-1")});
    return after_redis.ok();
  })) << after_redis.status();
  ASSERT_TRUE(after_redis.ok()) << after_redis.status();
  EXPECT_EQ(after_redis->results(0).status(),
            omnicx::v1::EVENT_STATUS_DUPLICATE);
  EXPECT_EQ(StoredIds(), (std::map<std::string, int>{{"r-1", 1}}));
}

// An id is remembered for at least the dedup window and at most twice it
// (one hash per shard per window of Redis time; the current and the previous
// one are checked).
//
// The windows are counted on Redis's clock (TIME inside the append script),
// which a test cannot inject or advance, so this test waits on Redis-side
// conditions instead of sleeping for guessed times: for Redis's clock to
// reach the next window, and for the first window's hash to expire. Each
// append is bracketed by TIME, so the test knows which window its script ran
// in; only a stall longer than a whole window (1 s) between two Redis calls
// could leave that unknown, and the test then says so.
TEST_F(IngestionTest, AnIdIsRememberedForTheWindowAndForgottenWithinTwo) {
  constexpr int64_t kWindowMs = 1000;
  EventLogOptions options;
  options.dedup_window = absl::Milliseconds(kWindowMs);
  EventLog log(*redis_, keys_, options);
  const Interaction e = Event("w-1");
  const int shard = events::ShardFor(e.customer(), options.shards);
  // Redis's clock, in ms since the epoch.
  auto redis_ms = [&]() -> int64_t {
    absl::StatusOr<redis::Reply> t = redis_->Command({"TIME"});
    int64_t seconds = 0, micros = 0;
    EXPECT_TRUE(t.ok() && t->elements().size() == 2 &&
                absl::SimpleAtoi(t->elements()[0].str(), &seconds) &&
                absl::SimpleAtoi(t->elements()[1].str(), &micros))
        << t.status();
    return seconds * 1000 + micros / 1000;
  };
  // Appends `e`; its script ran in a window from first_window to
  // last_window (Redis's clock read just before and just after).
  struct Appended {
    AppendResult result;
    int64_t first_window = 0, last_window = 0;
  };
  auto append = [&]() -> absl::StatusOr<Appended> {
    Appended out;
    out.first_window = redis_ms() / kWindowMs;
    OMNICX_ASSIGN_OR_RETURN(std::vector<AppendResult> r, log.Append({&e}));
    out.last_window = redis_ms() / kWindowMs;
    out.result = r[0];
    return out;
  };

  ASSERT_OK_AND_ASSIGN(Appended stored, append());
  ASSERT_EQ(stored.result.status, omnicx::v1::EVENT_STATUS_ACCEPTED);
  // Recorded in its window's hash, which expires two windows after that
  // window began: at most twice the window after the append.
  const std::string entry =
      stored.result.stream_id.substr(stored.result.stream_id.find('/') + 1);
  int64_t window = stored.first_window;
  if (redis_->Command({"HGET", keys_.DedupBucket(shard, window), "w-1"})
          ->str() != entry) {
    window = stored.last_window;
  }
  const std::string bucket = keys_.DedupBucket(shard, window);
  EXPECT_EQ(redis_->Command({"HGET", bucket, "w-1"})->str(), entry);
  EXPECT_EQ(redis_->Command({"PEXPIRETIME", bucket})->integer(),
            (window + 2) * kWindowMs);

  // Remembered in its own window (or the next, if the clock moved on) and,
  // once Redis's clock is in the next window, from the previous window's
  // hash: at least a whole window after the append.
  ASSERT_OK_AND_ASSIGN(Appended again, append());
  ASSERT_LE(again.last_window, window + 1) << "stalled for a whole window";
  EXPECT_EQ(again.result.status, omnicx::v1::EVENT_STATUS_DUPLICATE);
  EXPECT_EQ(again.result.stream_id, stored.result.stream_id);
  ASSERT_TRUE(
      testing::WaitUntil([&] { return redis_ms() / kWindowMs > window; },
                         absl::Milliseconds(3 * kWindowMs)));
  ASSERT_OK_AND_ASSIGN(Appended next, append());
  ASSERT_EQ(next.last_window, window + 1) << "stalled for a whole window";
  EXPECT_EQ(next.result.status, omnicx::v1::EVENT_STATUS_DUPLICATE);
  EXPECT_EQ(next.result.stream_id, stored.result.stream_id);
  // Once its window's hash has expired (two windows after it began), no
  // check reaches it: the id is stored again.
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        return redis_->Command({"EXISTS", bucket})->integer() == 0;
      },
      absl::Milliseconds(3 * kWindowMs)));
  ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> later, log.Append({&e}));
  EXPECT_EQ(later[0].status, omnicx::v1::EVENT_STATUS_ACCEPTED);
  EXPECT_NE(later[0].stream_id, stored.result.stream_id);
}

// The commit queue joins calls, so one Append can carry an id twice, and
// more events for one shard than one script call takes: each id is stored
// once, repeats answer with the first copy's entry, and a shard's events
// keep their order across script calls.
TEST_F(IngestionTest, AppendStoresRepeatsOnceAndLargeShardGroupsInOrder) {
  EventLog log(*redis_, keys_, EventLogOptions());
  std::vector<Interaction> events;
  for (int i = 0; i < 1200; ++i) {
    events.push_back(Event(absl::StrCat("big-", i), "anon-same"));
  }
  events.push_back(Event("big-7", "anon-same"));  // a repeat, after the first
  events.push_back(Event("other-1", "anon-elsewhere"));
  std::vector<const Interaction*> pointers;
  for (const Interaction& e : events) pointers.push_back(&e);
  ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> results, log.Append(pointers));
  ASSERT_EQ(results.size(), events.size());
  for (int i = 0; i < 1200; ++i) {
    ASSERT_EQ(results[i].status, omnicx::v1::EVENT_STATUS_ACCEPTED) << i;
  }
  EXPECT_EQ(results[1200].status, omnicx::v1::EVENT_STATUS_DUPLICATE);
  EXPECT_EQ(results[1200].stream_id, results[7].stream_id);
  EXPECT_EQ(results[1201].status, omnicx::v1::EVENT_STATUS_ACCEPTED);

  // One shard holds the 1,200 in input order.
  const int shard = std::stoi(results[0].stream_id);
  ASSERT_OK_AND_ASSIGN(
      redis::Reply entries,
      redis_->Command({"XRANGE", keys_.EventShard(shard), "-", "+"}));
  std::vector<std::string> order;
  for (const redis::Reply& entry : entries.elements()) {
    Interaction e;
    ASSERT_TRUE(e.ParseFromString(entry.elements()[1].elements()[1].str()));
    if (absl::StartsWith(e.event_id(), "big-")) order.push_back(e.event_id());
  }
  ASSERT_EQ(order.size(), 1200u);
  for (int i = 0; i < 1200; ++i) EXPECT_EQ(order[i], absl::StrCat("big-", i));
  std::map<std::string, int> stored = StoredIds();
  EXPECT_EQ(stored.size(), 1201u);
  EXPECT_EQ(stored["big-7"], 1);

  // Sent again, all of them are duplicates of the entries first stored.
  ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> again, log.Append(pointers));
  for (size_t i = 0; i < again.size(); ++i) {
    ASSERT_EQ(again[i].status, omnicx::v1::EVENT_STATUS_DUPLICATE) << i;
    ASSERT_EQ(again[i].stream_id, results[i].stream_id) << i;
  }
}

TEST_F(IngestionTest, ConcurrentClientsWithOverlappingIdsStoreEachOnce) {
  std::atomic<int> accepted{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      // Every client sends ids 0..199 in a different order and grouping.
      std::vector<Interaction> batch;
      for (int i = 0; i < 200; ++i) {
        const int id = (i * (c + 1) + c * 7) % 200;
        batch.push_back(
            Event(absl::StrCat("c-", id), absl::StrCat("cust-", id % 13)));
        if (batch.size() == 25) {
          auto r = Batch(batch);
          ASSERT_TRUE(r.ok()) << r.status();
          for (const auto& res : r->results()) {
            if (res.status() == omnicx::v1::EVENT_STATUS_ACCEPTED) accepted++;
          }
          batch.clear();
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  std::map<std::string, int> stored = StoredIds();
  EXPECT_EQ(stored.size(), 200u);
  for (const auto& [id, n] : stored) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(accepted.load(), 200);
}

TEST_F(IngestionTest, StreamAnswersEveryEventInOrder) {
  grpc::ClientContext context;
  auto stream = service_->stub->TrackStream(&context);
  std::vector<std::string> sent;
  std::thread writer([&] {
    for (int i = 0; i < 1000; ++i) {
      omnicx::v1::TrackRequest request;
      // Every 10th event repeats the previous id; one in 100 is invalid.
      const int id = i % 10 == 9 ? i - 1 : i;
      *request.mutable_interaction() = Event(absl::StrCat("s-", id));
      if (i % 100 == 50) request.mutable_interaction()->clear_channel();
      ASSERT_TRUE(stream->Write(request));
    }
    stream->WritesDone();
  });
  std::vector<EventResult> results;
  omnicx::v1::TrackResponse response;
  while (stream->Read(&response)) results.push_back(response.result());
  writer.join();
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_EQ(results.size(), 1000u);
  int accepted = 0, duplicate = 0, rejected = 0;
  for (int i = 0; i < 1000; ++i) {
    const int id = i % 10 == 9 ? i - 1 : i;
    EXPECT_EQ(results[i].event_id(), absl::StrCat("s-", id)) << i;
    switch (results[i].status()) {
      case omnicx::v1::EVENT_STATUS_ACCEPTED:
        accepted++;
        break;
      case omnicx::v1::EVENT_STATUS_DUPLICATE:
        duplicate++;
        break;
      case omnicx::v1::EVENT_STATUS_REJECTED:
        rejected++;
        EXPECT_EQ(results[i].violations(0).field(), "interaction.channel");
        break;
      default:
        ADD_FAILURE() << "no status for " << i;
    }
  }
  EXPECT_EQ(rejected, 10);
  EXPECT_EQ(duplicate, 100);
  EXPECT_EQ(accepted, 890);
  EXPECT_EQ(StoredIds().size(), 890u);
}

TEST_F(IngestionTest, RedisDownMidStreamThenResendIsExactlyOnce) {
  std::vector<Interaction> all;
  for (int i = 0; i < 300; ++i)
    all.push_back(Event(absl::StrCat("o-", i), absl::StrCat("k", i % 7)));
  grpc::Status end;
  {
    grpc::ClientContext context;
    auto stream = service_->stub->TrackStream(&context);
    omnicx::v1::TrackResponse response;
    for (int i = 0; i < 100; ++i) {
      omnicx::v1::TrackRequest request;
      *request.mutable_interaction() = all[i];
      ASSERT_TRUE(stream->Write(request));
    }
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(stream->Read(&response));
    ASSERT_OK(redis_server_->Kill());
    for (int i = 100; i < 300; ++i) {
      omnicx::v1::TrackRequest request;
      *request.mutable_interaction() = all[i];
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
    while (stream->Read(&response)) {
    }
    end = stream->Finish();
  }
  EXPECT_EQ(end.error_code(), grpc::StatusCode::UNAVAILABLE)
      << end.error_message();
  ASSERT_OK(redis_server_->Restart());
  // The client resends everything; retries until Redis answers again.
  absl::StatusOr<omnicx::v1::TrackBatchResponse> r;
  ASSERT_TRUE(testing::WaitUntil([&] {
    r = Batch(std::vector<Interaction>(all.begin(), all.begin() + 300));
    EXPECT_TRUE(r.ok() || r.status().code() == absl::StatusCode::kUnavailable)
        << r.status();
    return r.ok();
  })) << r.status();
  ASSERT_TRUE(r.ok()) << r.status();
  int accepted = 0;
  for (const auto& res : r->results()) {
    accepted += res.status() == omnicx::v1::EVENT_STATUS_ACCEPTED;
  }
  EXPECT_EQ(accepted, 200);  // the first 100 were stored before the outage
  std::map<std::string, int> stored = StoredIds();
  EXPECT_EQ(stored.size(), 300u);
  for (const auto& [id, n] : stored) EXPECT_EQ(n, 1) << id;
}

TEST_F(IngestionTest, LaggingConsumersCauseResourceExhaustedWithRetryInfo) {
  IntakeOptions options;
  options.max_consumer_lag = 5;
  Service service(*redis_, keys_, options);
  LagMonitor monitor(service.log, service.intake, service.registry,
                     absl::Hours(1), absl::Hours(1));
  std::vector<Interaction> events;
  for (int i = 0; i < 10; ++i) events.push_back(Event(absl::StrCat("l-", i)));
  ASSERT_TRUE(Batch(events, &service).ok());
  monitor.RefreshNow();
  auto refused = Batch({Event("l-next")}, &service);
  EXPECT_THAT(refused, status::StatusIs(absl::StatusCode::kResourceExhausted,
                                        HasSubstr("behind by 10 events")));
  EXPECT_EQ(status::GetRetryDelay(refused.status()), absl::Seconds(1));
  EXPECT_EQ(StoredIds().count("l-next"), 0u);
  EXPECT_THAT(service.registry.Render(),
              HasSubstr("omnicx_ingestion_consumer_lag{group=\"profile\"} 10"));
}

// The monitor's loop reads lag once per interval of its clock: simulated
// here, so the read happens when the test advances time, not after a wait.
TEST_F(IngestionTest, LagMonitorReadsLagEachIntervalOfItsClock) {
  IntakeOptions options;
  options.max_consumer_lag = 5;
  Service service(*redis_, keys_, options);
  time::SimulatedClock clock(absl::FromUnixSeconds(1000));
  LagMonitor monitor(service.log, service.intake, service.registry,
                     absl::Seconds(1), absl::Hours(1), clock);
  std::vector<Interaction> events;
  for (int i = 0; i < 10; ++i) events.push_back(Event(absl::StrCat("m-", i)));
  ASSERT_TRUE(Batch(events, &service).ok());
  ASSERT_TRUE(testing::WaitUntil([&] { return clock.waiters() == 1; }));
  // No simulated time has passed: the lag is not read yet.
  EXPECT_TRUE(Batch({Event("m-before")}, &service).ok());
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(testing::WaitUntil([&] {
    return absl::StrContains(
        service.registry.Render(),
        "omnicx_ingestion_consumer_lag{group=\"profile\"} 11");
  }));
  EXPECT_THAT(Batch({Event("m-after")}, &service),
              status::StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST_F(IngestionTest, TrimKeepsEverythingAConsumerHasNotAcknowledged) {
  std::vector<Interaction> events;
  for (int i = 0; i < 400; ++i)
    events.push_back(Event(absl::StrCat("t-", i), "one-customer"));
  for (int i = 0; i < 400; i += 100) {
    ASSERT_TRUE(Batch(std::vector<Interaction>(events.begin() + i,
                                               events.begin() + i + 100))
                    .ok());
  }
  const int shard = std::stoi(Batch({events[0]})->results(0).stream_id());
  const std::string stream = keys_.EventShard(shard);
  // The consumer reads everything and acknowledges the first 250.
  auto read = redis_->Command({"XREADGROUP", "GROUP", "profile", "c1", "COUNT",
                               "1000", "STREAMS", stream, ">"});
  ASSERT_TRUE(read.ok()) << read.status();
  const auto& entries = read->elements()[0].elements()[1].elements();
  ASSERT_EQ(entries.size(), 400u);
  std::vector<std::string> ack = {"XACK", stream, "profile"};
  for (int i = 0; i < 250; ++i) ack.push_back(entries[i].elements()[0].str());
  ASSERT_OK(redis_->Command(ack).status());

  ASSERT_OK_AND_ASSIGN(int64_t trimmed, service_->log.Trim());
  EXPECT_GE(trimmed, 100);
  EXPECT_LE(trimmed, 250);
  // Every unacknowledged entry is still there.
  auto rest = redis_->Command(
      {"XRANGE", stream, entries[250].elements()[0].str(), "+"});
  EXPECT_EQ(rest->elements().size(), 150u);
  EXPECT_EQ(redis_->Command({"XLEN", stream})->integer(), 400 - trimmed);
}

// A large acknowledged backlog goes in bounded steps (XTRIM … LIMIT), so no
// single command stalls Redis; what is unacknowledged stays.
TEST_F(IngestionTest, ALargeBacklogIsTrimmedInBoundedSteps) {
  const std::string stream = keys_.EventShard(0);
  std::vector<redis::Command> adds;
  for (int i = 0; i < 2500; ++i) {
    adds.push_back({"XADD", stream, "*", "e", absl::StrCat("x", i)});
  }
  ASSERT_OK(redis_->Pipeline(adds).status());
  auto read = redis_->Command({"XREADGROUP", "GROUP", "profile", "c1", "COUNT",
                               "5000", "STREAMS", stream, ">"});
  ASSERT_TRUE(read.ok()) << read.status();
  const auto& entries = read->elements()[0].elements()[1].elements();
  ASSERT_EQ(entries.size(), 2500u);
  std::vector<std::string> ack = {"XACK", stream, "profile"};
  for (int i = 0; i < 2300; ++i) ack.push_back(entries[i].elements()[0].str());
  ASSERT_OK(redis_->Command(ack).status());
  ASSERT_OK(redis_->Command({"CONFIG", "RESETSTAT"}).status());

  ASSERT_OK_AND_ASSIGN(int64_t trimmed,
                       streams::TrimAcknowledged(*redis_, stream));
  EXPECT_GE(trimmed, 2000);
  EXPECT_LE(trimmed, 2300);
  auto rest = redis_->Command(
      {"XRANGE", stream, entries[2300].elements()[0].str(), "+"});
  EXPECT_EQ(rest->elements().size(), 200u);
  // At most kTrimStep (200) entries per command: ten or more commands.
  auto stats = redis_->Command({"INFO", "commandstats"});
  ASSERT_TRUE(stats.ok());
  int xtrims = 0;
  const size_t at = stats->str().find("cmdstat_xtrim:calls=");
  ASSERT_NE(at, std::string::npos);
  ASSERT_TRUE(absl::SimpleAtoi(
      stats->str().substr(at + 20, stats->str().find(',', at) - at - 20),
      &xtrims));
  EXPECT_GE(xtrims, 10);
}

// Two groups: a lagging one that reads and acknowledges entry by entry,
// and one that starts at the end. A trim that runs while the lagging group
// acknowledges its last pending entry (between XINFO GROUPS and XPENDING)
// must not fall back to the other group's position. A race, bounded to 3 s;
// before the fix the lagging group missed entries within a few hundred
// milliseconds.
TEST_F(IngestionTest, TrimmingNeverOvertakesALaggingGroup) {
  const std::string stream = "cx:default:trim-test";  // only these groups
  std::vector<std::string> ids;
  for (int chunk = 0; chunk < 3; ++chunk) {
    std::vector<redis::Command> adds;
    for (int i = 0; i < 10000; ++i) {
      adds.push_back({"XADD", stream, "*", "e", "x"});
    }
    ASSERT_OK_AND_ASSIGN(redis::PipelineReplies added, redis_->Pipeline(adds));
    for (const auto& one : added) ids.push_back(one->str());
  }
  ASSERT_OK(
      redis_->Command({"XGROUP", "CREATE", stream, "a-lag", "0"}).status());
  ASSERT_OK(
      redis_->Command({"XGROUP", "CREATE", stream, "zz-fast", "$"}).status());
  std::unique_ptr<redis::Client> reader = NewClient();
  std::atomic<bool> stop{false};
  std::atomic<int64_t> skipped{0};
  std::thread lagging([&] {
    for (size_t k = 0; k < ids.size() && !stop.load(); ++k) {
      auto r = reader->Command({"XREADGROUP", "GROUP", "a-lag", "c", "COUNT",
                                "1", "STREAMS", stream, ">"});
      if (!r.ok() || r->is_nil()) break;
      const auto& got = r->elements()[0].elements()[1].elements();
      if (got.empty()) break;
      const std::string id = got[0].elements()[0].str();
      if (id != ids[k]) {
        ++skipped;
        break;
      }
      (void)reader->Command({"XACK", stream, "a-lag", id});
    }
  });
  const absl::Time until = absl::Now() + absl::Seconds(3);
  while (absl::Now() < until && skipped.load() == 0) {
    (void)streams::TrimAcknowledged(*redis_, stream);
  }
  stop = true;
  lagging.join();
  EXPECT_EQ(skipped.load(), 0);
}

TEST_F(IngestionTest, StrictWithoutReplicasNeedsAppendfsyncAlways) {
  EventLogOptions strict;
  strict.strict = true;
  EventLog log(*redis_, keys_, strict);
  EXPECT_OK(log.CheckDurability());  // this fixture runs appendfsync always
  ASSERT_OK(
      redis_->Command({"CONFIG", "SET", "appendfsync", "everysec"}).status());
  EXPECT_THAT(log.CheckDurability(),
              status::StatusIs(absl::StatusCode::kFailedPrecondition,
                               HasSubstr("appendfsync always")));
  // A service that started while Redis was down never ran the check: its
  // first Append runs it and acknowledges nothing it cannot guarantee.
  EventLog unchecked(*redis_, keys_, strict);
  Interaction early = Event("early-1");
  EXPECT_THAT(unchecked.Append({&early}),
              status::StatusIs(absl::StatusCode::kUnavailable,
                               HasSubstr("appendfsync always")));
  EXPECT_TRUE(StoredIds().empty());
  strict.strict_replicas = 1;
  strict.strict_wait_timeout = absl::Milliseconds(50);
  EventLog with_replica(*redis_, keys_, strict);
  Interaction e = Event("w-1");
  // No replica exists: WAIT times out and the call is UNAVAILABLE; the event
  // is stored on the primary and a retry reports it DUPLICATE.
  EXPECT_THAT(with_replica.Append({&e}),
              status::StatusIs(absl::StatusCode::kUnavailable,
                               HasSubstr("0 of 1 replicas")));
}

// On a Redis Cluster every primary holds part of the log: each must run
// appendfsync always, and the one that does not is named.
TEST(IngestionClusterTest, StrictWithoutReplicasChecksEveryPrimary) {
  ASSERT_OK_AND_ASSIGN(
      auto cluster,
      testing::RedisCluster::Start(
          {.primaries = 3,
           .server = {.appendonly = true, .appendfsync = "always"}}));
  auto redis = redis::Client::Create(cluster->ClientOptions());
  const keys::KeyBuilder keys = *keys::KeyBuilder::Create("default");
  EventLogOptions strict;
  strict.strict = true;
  EXPECT_OK(EventLog(*redis, keys, strict).CheckDurability());
  ASSERT_OK(cluster->NodeClient(2)
                ->Command({"CONFIG", "SET", "appendfsync", "everysec"})
                .status());
  EXPECT_THAT(EventLog(*redis, keys, strict).CheckDurability(),
              status::StatusIs(absl::StatusCode::kFailedPrecondition,
                               AllOf(HasSubstr("appendfsync always"),
                                     HasSubstr(cluster->node(2).address()))));
}

// A refused WAIT (here an ACL without it; also a replica instance) fails
// the strict append as UNAVAILABLE instead of aborting the process.
TEST_F(IngestionTest, ARefusedWaitIsUnavailable) {
  ASSERT_OK(redis_->Command({"ACL", "SETUSER", "default", "-wait"}).status());
  EventLogOptions strict;
  strict.strict = true;
  strict.strict_replicas = 1;
  EventLog log(*redis_, keys_, strict);
  Interaction e = Event("acl-1");
  EXPECT_THAT(log.Append({&e}), status::StatusIs(absl::StatusCode::kUnavailable,
                                                 HasSubstr("WAIT failed")));
}

// The event log's whole Redis path (groups, strict durability check,
// append script, lag, trim, replica WAIT) as the `ingestion` ACL user of
// helm/omnicx/files/redis-acl.conf: nothing it sends is refused.
class IngestionAclTest : public testing::RedisTest {
 protected:
  IngestionAclTest()
      : RedisTest({.appendonly = true,
                   .appendfsync = "always",
                   .acl_passwords = testing::TestAclPasswords()},
                  AclUser("ingestion")) {}
};

TEST_F(IngestionAclTest, EventLogRunsUnderTheIngestionUser) {
  redis::Client* redis = redis_.get();
  const keys::KeyBuilder keys = *keys::KeyBuilder::Create("default");
  EventLogOptions strict;
  strict.strict = true;
  EventLog log(*redis, keys, strict);
  ASSERT_OK(log.EnsureConsumerGroups());
  EXPECT_OK(log.CheckDurability());
  Interaction a = Event("acl-a");
  Interaction b = Event("acl-b", "anon-2");
  ASSERT_OK_AND_ASSIGN(auto appended, log.Append({&a, &b, &a}));
  ASSERT_EQ(appended.size(), 3u);
  ASSERT_OK_AND_ASSIGN(std::vector<GroupLag> lag, log.ConsumerLag());
  ASSERT_FALSE(lag.empty());
  EXPECT_EQ(lag[0].lag, 2);
  EXPECT_OK(log.Trim().status());
  EventLogOptions replicated = strict;
  replicated.strict_replicas = 1;
  replicated.strict_wait_timeout = absl::Milliseconds(10);
  EventLog waiting(*redis, keys, replicated);
  Interaction c = Event("acl-c");
  // No replica: WAIT runs (it is allowed) and reports too few.
  EXPECT_THAT(waiting.Append({&c}),
              status::StatusIs(absl::StatusCode::kUnavailable,
                               Not(HasSubstr("NOPERM"))));
  // Nothing was refused along the way.
  ASSERT_OK_AND_ASSIGN(redis::Reply denied,
                       NewClient(AclUser("default"))->Command({"ACL", "LOG"}));
  EXPECT_TRUE(denied.elements().empty());
}

}  // namespace
}  // namespace omnicx::ingestion
