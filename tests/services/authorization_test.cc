// Who may call what, over gRPC, across the whole suite: the four services
// run in-process against one real redis-server, wired as in production
// (profile's context assembler and erasure call journey and recommendation,
// recommendation's inputs call profile and journey, each with its own
// internal key), and every method of every omnicx.v1 service — enumerated
// from the protobuf descriptors, so a new method is covered without editing
// this file — is called by every role, without a credential, with a
// garbage key and with another tenant's keys. The expected table is written
// out here from the security issue, independently of libs/auth/policy.cc.
// Also: another tenant's calls naming a real customer write nothing; an
// untrusted app key's identities stay unverified claims end to end while a
// trusted key links; the per-credential rate limit keeps callers apart.
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "libs/audit/audit_log.h"
#include "libs/auth/authenticator.h"
#include "libs/identity/directory.h"
#include "libs/keys/key_builder.h"
#include "libs/metrics/registry.h"
#include "libs/redis/client.h"
#include "libs/server/dead_letter_service.h"
#include "libs/status/error_details.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/consumer.h"
#include "libs/streams/dead_letters.h"
#include "libs/testing/api_methods.h"
#include "libs/testing/in_process_server.h"
#include "libs/testing/redis_server.h"
#include "libs/testing/redis_test.h"
#include "libs/testing/test_credentials.h"
#include "libs/time/proto_time.h"
#include "omnicx/v1/ingestion.grpc.pb.h"
#include "omnicx/v1/journey.grpc.pb.h"
#include "omnicx/v1/profile.grpc.pb.h"
#include "omnicx/v1/recommendation.grpc.pb.h"
#include "services/ingestion/commit_queue.h"
#include "services/ingestion/event_log.h"
#include "services/ingestion/ingestion_service.h"
#include "services/ingestion/intake.h"
#include "services/journey/event_consumer.h"
#include "services/journey/journey_model.h"
#include "services/journey/journey_service.h"
#include "services/journey/journey_store.h"
#include "services/profile/context_assembler.h"
#include "services/profile/event_applier.h"
#include "services/profile/profile_service.h"
#include "services/profile/profile_store.h"
#include "services/recommendation/catalog.h"
#include "services/recommendation/catalog_watcher.h"
#include "services/recommendation/customer_reader.h"
#include "services/recommendation/deadline_timer.h"
#include "services/recommendation/merge_handler.h"
#include "services/recommendation/recommendation_service.h"
#include "services/recommendation/recommendation_store.h"
#include "services/recommendation/recommender.h"

namespace omnicx {
namespace {

using ::omnicx::testing::TestCredentials;
using ::testing::IsEmpty;

constexpr char kIdentitySecret[] = "authorization-test-secret-0123";
constexpr int kShards = 4;
constexpr absl::Duration kCallDeadline = absl::Seconds(10);

// Every method of every omnicx.v1 service, as gRPC full names.
std::vector<std::string> AllMethods() {
  return omnicx::testing::AllApiMethods();
}

std::string ServiceOf(const std::string& method) {
  return method.substr(1, method.rfind('/') - 1);
}

std::string ShortName(const std::string& method) {
  return method.substr(method.rfind('/') + 1);
}

bool IsStreaming(const std::string& method) {
  const google::protobuf::MethodDescriptor* m =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
          absl::StrReplaceAll(method.substr(1), {{"/", "."}}));
  return m != nullptr && (m->client_streaming() || m->server_streaming());
}

// The security issue's table, by caller: the methods each may call (short
// names are unique across the services). Admin may call every method;
// a method named nowhere here is admin-only.
const std::map<std::string, std::set<std::string>>& ExpectedAllowed() {
  static const auto* table = new std::map<std::string, std::set<std::string>>{
      {"app", {"Track", "TrackBatch", "TrackStream"}},
      {"app-trusted", {"Track", "TrackBatch", "TrackStream"}},
      {"agent",
       {"GetCustomerContext", "GetProfile", "GetTimeline", "GetJourney",
        "Recommend", "RecordOutcome", "SetConsent"}},
      {"service", {"Recommend", "RecordOutcome", "GetJourney", "GetProfile"}},
      {"analyst",
       {"ListPainPoints", "GetFunnel", "GetChurnModel", "GetActionStats",
        "ListActions"}},
      {"internal-profile",
       {"GetJourney", "ForgetCustomer", "Recommend", "DecideForContext"}},
      // Journey and recommendation call no other service (the
      // recommendation reads the profile and journey from Redis).
      {"internal-recommendation", {}},
      {"internal-journey", {}},
  };
  return *table;
}

bool Allowed(const std::string& caller, const std::string& method) {
  if (caller == "admin") return true;
  return ExpectedAllowed().at(caller).count(ShortName(method)) > 0;
}

// The callers of the matrix and their plaintext keys.
std::vector<std::pair<std::string, std::string>> Callers(
    const TestCredentials& creds) {
  return {
      {"app", creds.key(auth::Role::kApp)},
      {"app-trusted", creds.trusted_app_key()},
      {"agent", creds.key(auth::Role::kAgent)},
      {"service", creds.key(auth::Role::kService)},
      {"analyst", creds.key(auth::Role::kAnalyst)},
      {"admin", creds.key(auth::Role::kAdmin)},
      {"internal-profile", creds.internal_key("profile")},
      {"internal-recommendation", creds.internal_key("recommendation")},
      {"internal-journey", creds.internal_key("journey")},
  };
}

std::shared_ptr<grpc::Channel> Plain(const std::string& address) {
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

// The four services over one Redis, wired as their main.cc files wire them
// (consumers are driven by CatchUp() instead of their own threads, so tests
// need not wait for them).
class Suite {
 public:
  Suite(int redis_port, auth::Authenticator& auth, const TestCredentials& creds)
      : keys_(*keys::KeyBuilder::Create(creds.tenant())) {
    redis::ClientOptions o;
    o.port = redis_port;
    o.pool_size = 16;
    o.command_timeout = absl::Seconds(5);
    redis_ = redis::Client::Create(o);

    // --- ingestion ---
    ingestion::EventLogOptions log_options;
    log_options.shards = kShards;
    event_log_ =
        std::make_unique<ingestion::EventLog>(*redis_, keys_, log_options);
    EXPECT_OK(event_log_->EnsureConsumerGroups());
    queue_ = std::make_unique<ingestion::CommitQueue>(
        *event_log_, ingestion::CommitQueueOptions());
    intake_ = std::make_unique<ingestion::Intake>(
        *queue_, ingestion::IntakeOptions(), registry_);
    ingestion_ =
        std::make_unique<ingestion::IngestionServiceImpl>(*intake_, auth);
    ingestion_server_ = Start({ingestion_.get()});

    // --- journey ---
    journey_model_ = std::make_unique<journey::CompiledModel>(
        *journey::LoadJourneyModel(""));
    journey_store_ = std::make_unique<journey::JourneyStore>(*redis_, keys_,
                                                             *journey_model_);
    journey_directory_ = std::make_unique<identity::CustomerDirectory>(
        *redis_, keys_, kIdentitySecret);
    journey_handlers_ =
        std::make_unique<journey::JourneyHandlers>(*journey_store_, registry_);
    streams::ConsumerOptions resolved;
    resolved.group = "journey";
    resolved.consumer = "test-journey";
    for (int shard = 0; shard < kShards; ++shard) {
      resolved.streams.push_back(keys_.ResolvedShard(shard));
    }
    resolved.dead_letter = keys_.DeadLetter("journey");
    journey_events_ = std::make_unique<streams::StreamConsumer>(
        *redis_, resolved, streams::StreamConsumer::Batched{},
        [this](const std::vector<streams::StreamEntry>& es) {
          return journey_handlers_->HandleEvents(es);
        });
    streams::ConsumerOptions merges = resolved;
    merges.consumer = "test-journey-merges";
    merges.streams = {keys_.MergeLog()};
    journey_merges_ = std::make_unique<streams::StreamConsumer>(
        *redis_, merges, [this](const streams::StreamEntry& e) {
          return journey_handlers_->HandleMerge(e);
        });
    journey_ = std::make_unique<journey::JourneyServiceImpl>(
        *journey_store_, *journey_directory_, *journey_model_, auth);
    // Every consumer service serves its dead letters; the journey's stand
    // for all three here.
    journey_dead_letters_ = std::make_unique<streams::DeadLetterQueue>(
        *redis_, keys_.DeadLetter("journey"),
        std::vector<streams::StreamConsumer*>{journey_events_.get(),
                                              journey_merges_.get()});
    journey_dead_letter_service_ =
        std::make_unique<server::DeadLetterServiceImpl>(*journey_dead_letters_,
                                                        auth);
    journey_server_ =
        Start({journey_.get(), journey_dead_letter_service_.get()});

    // --- recommendation ---
    recommendation_store_ =
        std::make_unique<recommendation::RecommendationStore>(
            *redis_, keys_, recommendation::StoreOptions());
    recommendation::WatcherOptions watcher_options;
    watcher_options.seed = recommendation::DefaultCatalog();
    watcher_ = std::make_unique<recommendation::CatalogWatcher>(
        *recommendation_store_, watcher_options);
    EXPECT_OK(watcher_->Refresh());
    journey_reader_ = std::make_unique<journey::JourneyReader>(*redis_, keys_,
                                                               *journey_model_);
    inputs_ = std::make_unique<recommendation::RedisCustomerReader>(
        *redis_, keys_, kIdentitySecret, *journey_reader_);
    timer_ = std::make_unique<recommendation::DeadlineTimer>();
    recommendation::RecommenderOptions recommender_options;
    recommender_options.budget = absl::Seconds(8);
    recommender_options.seed = 7;
    recommender_ = std::make_unique<recommendation::Recommender>(
        *recommendation_store_, *watcher_, *inputs_, *timer_, registry_,
        recommender_options);
    streams::ConsumerOptions recommendation_merges;
    recommendation_merges.group = "recommendation";
    recommendation_merges.consumer = "test-recommendation";
    recommendation_merges.streams = {keys_.MergeLog()};
    recommendation_merges.dead_letter = keys_.DeadLetter("recommendation");
    recommendation_merges_ = std::make_unique<streams::StreamConsumer>(
        *redis_, recommendation_merges, [this](const streams::StreamEntry& e) {
          return recommendation::ApplyMergeRecord(*recommendation_store_, e);
        });
    recommendation_audit_ =
        *audit::AuditLog::Create(redis_.get(), keys_, audit::AuditOptions());
    recommendation_ =
        std::make_unique<recommendation::RecommendationServiceImpl>(
            *recommender_, *recommendation_store_, *watcher_, 10, auth,
            recommendation_audit_.get());
    recommendation_server_ = Start({recommendation_.get()});

    // --- profile ---
    profile::ProfileStoreOptions store_options;
    store_options.identity_secret = kIdentitySecret;
    store_options.stream_shards = kShards;
    profile_store_ =
        std::make_unique<profile::ProfileStore>(*redis_, keys_, store_options);
    applier_ =
        std::make_unique<profile::EventApplier>(*profile_store_, registry_);
    streams::ConsumerOptions events;
    events.group = "profile";
    events.consumer = "test-profile";
    for (int shard = 0; shard < kShards; ++shard) {
      events.streams.push_back(keys_.EventShard(shard));
    }
    events.dead_letter = keys_.DeadLetter("profile");
    profile_events_ = std::make_unique<streams::StreamConsumer>(
        *redis_, events, streams::StreamConsumer::Batched{},
        [this](const std::vector<streams::StreamEntry>& es) {
          return applier_->HandleBatch(es);
        });
    const auth::ServiceCredential profile_credential =
        auth::ServiceCredential::FromString(creds.internal_key("profile"));
    profile::ContextOptions context_options;
    context_options.journey_timeout = absl::Seconds(5);
    context_options.recommendation_timeout = absl::Seconds(5);
    context_options.total_timeout = absl::Seconds(8);
    context_options.cache_ttl = absl::ZeroDuration();
    const std::shared_ptr<grpc::Channel> journey_channel =
        Plain(journey_server_->dial_address());
    assembler_ = std::make_unique<profile::ContextAssembler>(
        *profile_store_, journey_channel,
        Plain(recommendation_server_->dial_address()), context_options,
        profile_credential);
    audit::AuditOptions audit_options;
    audit_options.customer_secret = kIdentitySecret;
    profile_audit_ =
        *audit::AuditLog::Create(redis_.get(), keys_, audit_options);
    profile_ = std::make_unique<profile::ProfileServiceImpl>(
        *profile_store_, auth, assembler_.get(), absl::Now, journey_channel,
        profile_credential, profile_audit_.get());
    profile_server_ = Start({profile_.get()});

    for (streams::StreamConsumer* c :
         {journey_events_.get(), journey_merges_.get(),
          recommendation_merges_.get(), profile_events_.get()}) {
      EXPECT_OK(c->EnsureGroups());
    }
  }

  ~Suite() {
    for (auto* server : {profile_server_.get(), recommendation_server_.get(),
                         journey_server_.get(), ingestion_server_.get()}) {
      if (server != nullptr) server->Shutdown();
    }
    // The timer goes before the recommender (which waits for leftovers).
    timer_.reset();
  }

  bool ok() const {
    return ingestion_server_ && profile_server_ && journey_server_ &&
           recommendation_server_;
  }

  // Applies everything logged so far: the profile consumer, then what it
  // resolved and merged for journey and recommendation. Bounded: each round
  // reads up to a batch per consumer, and stops once nothing is left.
  void CatchUp() {
    for (int round = 0; round < 50; ++round) {
      int handled = 0;
      for (streams::StreamConsumer* c :
           {profile_events_.get(), journey_events_.get(), journey_merges_.get(),
            recommendation_merges_.get()}) {
        absl::StatusOr<int> n = c->PollOnce(absl::Milliseconds(1));
        ASSERT_TRUE(n.ok()) << n.status();
        handled += *n;
      }
      if (handled == 0) return;
    }
    FAIL() << "the consumers did not catch up";
  }

  const server::Server& ServerFor(const std::string& method) const {
    const std::string service = ServiceOf(method);
    if (service == "omnicx.v1.IngestionService") return *ingestion_server_;
    if (service == "omnicx.v1.ProfileService") return *profile_server_;
    if (service == "omnicx.v1.JourneyService" ||
        service == "omnicx.v1.DeadLetterService") {
      return *journey_server_;
    }
    return *recommendation_server_;
  }

  // A channel to `server` that sends `key` (none when empty), cached.
  std::shared_ptr<grpc::Channel> Channel(const server::Server& server,
                                         const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto& channel = channels_[{server.dial_address(), key}];
    if (channel == nullptr) {
      channel = key.empty()
                    ? Plain(server.dial_address())
                    : testing::ChannelWithKey(server.dial_address(), key);
    }
    return channel;
  }

  redis::Client& redis() { return *redis_; }
  const keys::KeyBuilder& keys() const { return keys_; }
  profile::ProfileStore& profile_store() { return *profile_store_; }
  const server::Server& ingestion_server() const { return *ingestion_server_; }
  const server::Server& profile_server() const { return *profile_server_; }
  const server::Server& journey_server() const { return *journey_server_; }
  const server::Server& recommendation_server() const {
    return *recommendation_server_;
  }

 private:
  std::unique_ptr<server::Server> Start(std::vector<grpc::Service*> services) {
    server::ServerOptions options;
    options.address = "127.0.0.1:0";
    options.shutdown_grace = absl::Seconds(1);
    absl::StatusOr<std::unique_ptr<server::Server>> started =
        server::Server::Start(std::move(options), std::move(services));
    EXPECT_TRUE(started.ok()) << started.status();
    return started.ok() ? std::move(*started) : nullptr;
  }

  keys::KeyBuilder keys_;
  metrics::Registry registry_;
  std::unique_ptr<redis::Client> redis_;

  std::unique_ptr<ingestion::EventLog> event_log_;
  std::unique_ptr<ingestion::CommitQueue> queue_;
  std::unique_ptr<ingestion::Intake> intake_;
  std::unique_ptr<ingestion::IngestionServiceImpl> ingestion_;

  std::unique_ptr<journey::CompiledModel> journey_model_;
  std::unique_ptr<journey::JourneyStore> journey_store_;
  std::unique_ptr<identity::CustomerDirectory> journey_directory_;
  std::unique_ptr<journey::JourneyHandlers> journey_handlers_;
  std::unique_ptr<streams::StreamConsumer> journey_events_;
  std::unique_ptr<streams::StreamConsumer> journey_merges_;
  std::unique_ptr<journey::JourneyServiceImpl> journey_;
  std::unique_ptr<streams::DeadLetterQueue> journey_dead_letters_;
  std::unique_ptr<server::DeadLetterServiceImpl> journey_dead_letter_service_;

  std::unique_ptr<recommendation::RecommendationStore> recommendation_store_;
  std::unique_ptr<recommendation::CatalogWatcher> watcher_;
  std::unique_ptr<journey::JourneyReader> journey_reader_;
  std::unique_ptr<recommendation::RedisCustomerReader> inputs_;
  std::unique_ptr<recommendation::Recommender> recommender_;
  std::unique_ptr<recommendation::DeadlineTimer> timer_;
  std::unique_ptr<streams::StreamConsumer> recommendation_merges_;
  std::unique_ptr<audit::AuditLog> recommendation_audit_;
  std::unique_ptr<recommendation::RecommendationServiceImpl> recommendation_;

  std::unique_ptr<profile::ProfileStore> profile_store_;
  std::unique_ptr<profile::EventApplier> applier_;
  std::unique_ptr<streams::StreamConsumer> profile_events_;
  std::unique_ptr<profile::ContextAssembler> assembler_;
  std::unique_ptr<audit::AuditLog> profile_audit_;
  std::unique_ptr<profile::ProfileServiceImpl> profile_;

  // Declared last: shut down (in ~Suite) and destroyed first.
  std::unique_ptr<server::Server> journey_server_;
  std::unique_ptr<server::Server> recommendation_server_;
  std::unique_ptr<server::Server> profile_server_;
  std::unique_ptr<server::Server> ingestion_server_;

  absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<grpc::Channel>>
      channels_ ABSL_GUARDED_BY(mu_);
};

// Calls `method` with an empty request: unary methods through the generic
// stub (zero bytes are the default message), the bidi TrackStream through
// the typed stub, opened and half-closed at once.
grpc::Status CallEmpty(const std::shared_ptr<grpc::Channel>& channel,
                       const std::string& method) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
  if (IsStreaming(method)) {
    if (method != "/omnicx.v1.IngestionService/TrackStream") {
      return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                          "test: no client for streaming method " + method);
    }
    auto stub = omnicx::v1::IngestionService::NewStub(channel);
    auto stream = stub->TrackStream(&context);
    stream->WritesDone();
    return stream->Finish();
  }
  grpc::GenericStub stub(channel);
  grpc::Slice empty(std::string{});
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  // The deadline bounds the call; this bounds the wait for its callback.
  if (!done.WaitForNotificationWithTimeout(kCallDeadline + absl::Seconds(5))) {
    context.TryCancel();
    done.WaitForNotification();
  }
  return status;
}

std::string CodeName(const grpc::Status& s) {
  return status::StatusCodeName(s.error_code());
}

// The Suite connects to the fixture's server with a client of its own, as
// the services do.
class RedisBacked : public testing::RedisTest {
 protected:
  // DEBUG DIGEST (a hash of the whole dataset) shows whether a call
  // wrote. Redis times blocked reads out on its cron (hz): at 200 an empty
  // CatchUp() poll returns within 5 ms instead of 100.
  RedisBacked()
      : RedisTest(
            {.extra_args = {"--enable-debug-command", "yes", "--hz", "200"}}) {}

  std::string Digest(Suite& suite) {
    absl::StatusOr<redis::Reply> r = suite.redis().Command({"DEBUG", "DIGEST"});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->str() : "";
  }
};

// One suite whose authenticator serves tenant "default" and reads a keys
// file holding the keys of both "default" and "other".
class AuthorizationTest : public RedisBacked {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    if (HasFatalFailure()) return;
    auth::AuthenticatorOptions options;
    options.tenant = creds_.tenant();
    options.api_keys_file = creds_.WriteKeysFileWith({&other_});
    auth_ = creds_.NewAuthenticator(options);
    suite_ = std::make_unique<Suite>(redis_server_->port(), *auth_, creds_);
    ASSERT_TRUE(suite_->ok());
  }
  void TearDown() override { suite_.reset(); }

  grpc::Status Call(const std::string& method, const std::string& key) {
    return CallEmpty(suite_->Channel(suite_->ServerFor(method), key), method);
  }

  TestCredentials creds_{"default"};
  TestCredentials other_{"other"};
  std::unique_ptr<auth::Authenticator> auth_;
  std::unique_ptr<Suite> suite_;
};

// --- the matrix: one test per method ---

class MethodTest : public AuthorizationTest,
                   public ::testing::WithParamInterface<std::string> {};

TEST_P(MethodTest, EveryRoleGetsExactlyWhatTheTableSays) {
  const std::string& method = GetParam();
  for (const auto& [caller, key] : Callers(creds_)) {
    const grpc::Status s = Call(method, key);
    if (Allowed(caller, method)) {
      EXPECT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << caller << " " << s.error_message();
      EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
          << caller << " " << s.error_message();
      EXPECT_NE(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << caller << " " << s.error_message();
      EXPECT_NE(s.error_code(), grpc::StatusCode::UNIMPLEMENTED)
          << caller << " " << s.error_message();
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
          << caller << " got " << CodeName(s) << ": " << s.error_message();
    }
  }
}

TEST_P(MethodTest, NoCredentialOrAGarbageKeyIsUnauthenticated) {
  const std::string& method = GetParam();
  const std::string garbage = "ocx_" + std::string(43, 'A');
  for (const std::string& key : {std::string(), garbage}) {
    const grpc::Status s = Call(method, key);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << (key.empty() ? "no credential" : "garbage key") << " got "
        << CodeName(s);
    // The refusal never echoes what was presented.
    if (!key.empty()) {
      EXPECT_FALSE(absl::StrContains(s.error_message(), key));
    }
  }
}

// The other tenant's keys are known to the process (same keys file), so
// they are refused for their tenant — for every role, admin included —
// and nothing is written.
TEST_P(MethodTest, AnotherTenantsKeysAreDeniedAndWriteNothing) {
  const std::string& method = GetParam();
  for (const auto& [caller, key] : Callers(other_)) {
    const std::string before = Digest(*suite_);
    ASSERT_EQ(before.size(), 40u) << before;
    const grpc::Status s = Call(method, key);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << "other tenant's " << caller << " got " << CodeName(s);
    EXPECT_EQ(s.error_message(), "the credential is not valid for this tenant")
        << caller;
    EXPECT_EQ(Digest(*suite_), before)
        << "other tenant's " << caller << " changed Redis";
  }
}

std::string TestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param.substr(std::string("/omnicx.v1.").size());
  return absl::StrReplaceAll(name, {{"/", "_"}});
}

INSTANTIATE_TEST_SUITE_P(AllMethods, MethodTest,
                         ::testing::ValuesIn(AllMethods()), TestName);

// --- the table's own sanity ---

TEST(AuthorizationTableTest,
     EveryMethodIsEnumeratedAndTheTableNamesOnlyRealOnes) {
  const std::vector<std::string> methods = AllMethods();
  // 3 ingestion + 9 profile + 4 journey + 5 recommendation today; a new
  // method raises the count and is admin-only until the table names it.
  EXPECT_GE(methods.size(), 21u);
  std::set<std::string> short_names;
  for (const std::string& m : methods) {
    EXPECT_TRUE(short_names.insert(ShortName(m)).second)
        << "short name used twice: " << m;
  }
  for (const auto& [caller, allowed] : ExpectedAllowed()) {
    for (const std::string& m : allowed) {
      EXPECT_TRUE(short_names.count(m)) << caller << " names unknown " << m;
    }
  }
}

// --- wiring: the internal keys carry the services' own calls ---

omnicx::v1::Interaction Event(const std::string& event_id) {
  omnicx::v1::Interaction e;
  e.set_event_id(event_id);
  e.set_channel(omnicx::v1::CHANNEL_WEB);
  e.set_type("page_view");
  *e.mutable_occurred_at() = time::ToProto(absl::Now() - absl::Seconds(60));
  return e;
}

omnicx::v1::Identity Id(const std::string& type, const std::string& value) {
  omnicx::v1::Identity i;
  i.set_type(type);
  i.set_value(value);
  return i;
}

omnicx::v1::CustomerRef ByIdentity(const std::string& type,
                                   const std::string& value) {
  omnicx::v1::CustomerRef ref;
  *ref.mutable_identity() = Id(type, value);
  return ref;
}

omnicx::v1::CustomerRef ByAnonymousId(const std::string& id) {
  omnicx::v1::CustomerRef ref;
  ref.set_anonymous_id(id);
  return ref;
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
  return context;
}

class SuiteTest : public AuthorizationTest {
 protected:
  template <typename Service>
  std::unique_ptr<typename Service::Stub> Stub(const server::Server& server,
                                               const std::string& key) {
    return Service::NewStub(suite_->Channel(server, key));
  }
  std::unique_ptr<omnicx::v1::IngestionService::Stub> Ingestion(
      const std::string& key) {
    return Stub<omnicx::v1::IngestionService>(suite_->ingestion_server(), key);
  }
  std::unique_ptr<omnicx::v1::ProfileService::Stub> Profile(
      const std::string& key) {
    return Stub<omnicx::v1::ProfileService>(suite_->profile_server(), key);
  }
  std::unique_ptr<omnicx::v1::JourneyService::Stub> Journey(
      const std::string& key) {
    return Stub<omnicx::v1::JourneyService>(suite_->journey_server(), key);
  }
  std::unique_ptr<omnicx::v1::RecommendationService::Stub> Recommendation(
      const std::string& key) {
    return Stub<omnicx::v1::RecommendationService>(
        suite_->recommendation_server(), key);
  }

  grpc::Status Track(const std::string& key, const omnicx::v1::Interaction& e,
                     omnicx::v1::TrackResponse* response = nullptr) {
    omnicx::v1::TrackRequest request;
    *request.mutable_interaction() = e;
    omnicx::v1::TrackResponse ignored;
    return Ingestion(key)->Track(Context().get(), request,
                                 response ? response : &ignored);
  }

  absl::StatusOr<omnicx::v1::Profile> GetProfile(
      const omnicx::v1::CustomerRef& ref) {
    omnicx::v1::GetProfileRequest request;
    *request.mutable_customer() = ref;
    omnicx::v1::GetProfileResponse response;
    grpc::Status s = Profile(creds_.key(auth::Role::kAgent))
                         ->GetProfile(Context().get(), request, &response);
    if (!s.ok()) return status::FromGrpcStatus(s);
    return response.profile();
  }

  absl::StatusOr<omnicx::v1::GetTimelineResponse> GetTimeline(
      const omnicx::v1::CustomerRef& ref) {
    omnicx::v1::GetTimelineRequest request;
    *request.mutable_customer() = ref;
    omnicx::v1::GetTimelineResponse response;
    grpc::Status s = Profile(creds_.key(auth::Role::kAgent))
                         ->GetTimeline(Context().get(), request, &response);
    if (!s.ok()) return status::FromGrpcStatus(s);
    return response;
  }

  // One customer known by phone, with a profile, a timeline and a journey,
  // logged through the trusted app key.
  std::string SeedCustomer() {
    omnicx::v1::Interaction e = Event("seed-1");
    *e.mutable_customer()->mutable_identity() = Id("phone", "+15550001111");
    *e.add_identities() = Id("email", "seed@example.com");
    EXPECT_TRUE(Track(creds_.trusted_app_key(), e).ok());
    suite_->CatchUp();
    absl::StatusOr<omnicx::v1::Profile> p = GetProfile(SeedPhone());
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? p->customer_id() : "";
  }
  static omnicx::v1::CustomerRef SeedPhone() {
    return ByIdentity("phone", "+15550001111");
  }
};

// An agent's context and a service's Recommend reach the other services
// with the callers' internal keys, and an admin's erasure reaches journey:
// every section present, nothing degraded for want of a credential.
TEST_F(SuiteTest, InternalCallsCarryTheServicesOwnKeys) {
  const std::string cid = SeedCustomer();
  ASSERT_FALSE(cid.empty());

  omnicx::v1::GetCustomerContextRequest context_request;
  *context_request.mutable_customer() = SeedPhone();
  context_request.set_include_recommendations(true);
  omnicx::v1::CustomerContext context;
  grpc::Status s =
      Profile(creds_.key(auth::Role::kAgent))
          ->GetCustomerContext(Context().get(), context_request, &context);
  ASSERT_TRUE(s.ok()) << CodeName(s) << " " << s.error_message();
  std::map<std::string, int> sections;
  for (const auto& section : context.sections()) {
    sections[section.section()] = section.code();
  }
  EXPECT_EQ(sections["journey"], 0) << context.DebugString();
  EXPECT_EQ(sections["recommendations"], 0) << context.DebugString();
  EXPECT_EQ(context.journey().customer_id(), cid);
  EXPECT_FALSE(context.decision_id().empty());

  omnicx::v1::RecommendRequest recommend;
  recommend.mutable_customer()->set_customer_id(cid);
  omnicx::v1::RecommendResponse decided;
  s = Recommendation(creds_.key(auth::Role::kService))
          ->Recommend(Context().get(), recommend, &decided);
  ASSERT_TRUE(s.ok()) << CodeName(s) << " " << s.error_message();
  for (const auto& section : decided.sections()) {
    EXPECT_EQ(section.code(), 0)
        << section.section() << ": " << section.message();
  }
  EXPECT_EQ(decided.sections_size(), 2);  // profile, journey

  omnicx::v1::EraseCustomerRequest erase;
  *erase.mutable_customer() = SeedPhone();
  omnicx::v1::EraseCustomerResponse erased;
  s = Profile(creds_.key(auth::Role::kAdmin))
          ->EraseCustomer(Context().get(), erase, &erased);
  ASSERT_TRUE(s.ok()) << CodeName(s) << " " << s.error_message();
  omnicx::v1::GetJourneyRequest journey;
  journey.mutable_customer()->set_customer_id(cid);
  omnicx::v1::GetJourneyResponse gone;
  s = Journey(creds_.key(auth::Role::kAgent))
          ->GetJourney(Context().get(), journey, &gone);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << CodeName(s);
}

// The other tenant's admin names a real customer of this tenant in every
// kind of request that could read or change it: each is PERMISSION_DENIED
// and Redis (profile, timeline, journey, consents, the log) is unchanged.
TEST_F(SuiteTest, AnotherTenantNamingARealCustomerChangesNothing) {
  const std::string cid = SeedCustomer();
  ASSERT_FALSE(cid.empty());
  ASSERT_OK_AND_ASSIGN(omnicx::v1::Profile profile_before,
                       GetProfile(SeedPhone()));
  ASSERT_OK_AND_ASSIGN(omnicx::v1::GetTimelineResponse timeline_before,
                       GetTimeline(SeedPhone()));
  ASSERT_EQ(timeline_before.interactions_size(), 1);

  const std::string admin = other_.key(auth::Role::kAdmin);
  const std::string app = other_.trusted_app_key();
  const omnicx::v1::CustomerRef phone = SeedPhone();
  omnicx::v1::CustomerRef by_id;
  by_id.set_customer_id(cid);

  struct NamedCall {
    std::string name;
    std::function<grpc::Status()> call;
  };
  const NamedCall calls[] = {
      {"GetProfile",
       [&] {
         omnicx::v1::GetProfileRequest r;
         *r.mutable_customer() = phone;
         omnicx::v1::GetProfileResponse out;
         return Profile(admin)->GetProfile(Context().get(), r, &out);
       }},
      {"ExportCustomer",
       [&] {
         omnicx::v1::ExportCustomerRequest r;
         *r.mutable_customer() = phone;
         omnicx::v1::ExportCustomerResponse out;
         return Profile(admin)->ExportCustomer(Context().get(), r, &out);
       }},
      {"EraseCustomer",
       [&] {
         omnicx::v1::EraseCustomerRequest r;
         *r.mutable_customer() = phone;
         omnicx::v1::EraseCustomerResponse out;
         return Profile(admin)->EraseCustomer(Context().get(), r, &out);
       }},
      {"SetConsent",
       [&] {
         omnicx::v1::SetConsentRequest r;
         *r.mutable_customer() = phone;
         r.set_purpose("marketing_email");
         r.set_granted(true);
         omnicx::v1::SetConsentResponse out;
         return Profile(admin)->SetConsent(Context().get(), r, &out);
       }},
      {"UpdateTraits",
       [&] {
         omnicx::v1::UpdateTraitsRequest r;
         *r.mutable_customer() = by_id;
         (*r.mutable_traits()->mutable_fields())["tier"].set_string_value(
             "gold");
         omnicx::v1::UpdateTraitsResponse out;
         return Profile(admin)->UpdateTraits(Context().get(), r, &out);
       }},
      {"LinkIdentities",
       [&] {
         omnicx::v1::LinkIdentitiesRequest r;
         *r.mutable_customer() = phone;
         *r.add_identities() = Id("email", "attacker@example.com");
         omnicx::v1::LinkIdentitiesResponse out;
         return Profile(admin)->LinkIdentities(Context().get(), r, &out);
       }},
      {"MergeProfiles",
       [&] {
         omnicx::v1::MergeProfilesRequest r;
         *r.mutable_a() = phone;
         *r.mutable_b() = ByIdentity("email", "seed@example.com");
         omnicx::v1::MergeProfilesResponse out;
         return Profile(admin)->MergeProfiles(Context().get(), r, &out);
       }},
      {"GetCustomerContext",
       [&] {
         omnicx::v1::GetCustomerContextRequest r;
         *r.mutable_customer() = phone;
         r.set_include_recommendations(true);
         omnicx::v1::CustomerContext out;
         return Profile(admin)->GetCustomerContext(Context().get(), r, &out);
       }},
      {"ForgetCustomer",
       [&] {
         omnicx::v1::ForgetCustomerRequest r;
         r.set_customer_id(cid);
         omnicx::v1::ForgetCustomerResponse out;
         return Journey(admin)->ForgetCustomer(Context().get(), r, &out);
       }},
      {"ForgetCustomer (other tenant's internal profile key)",
       [&] {
         omnicx::v1::ForgetCustomerRequest r;
         r.set_customer_id(cid);
         omnicx::v1::ForgetCustomerResponse out;
         return Journey(other_.internal_key("profile"))
             ->ForgetCustomer(Context().get(), r, &out);
       }},
      {"Recommend",
       [&] {
         omnicx::v1::RecommendRequest r;
         *r.mutable_customer() = by_id;
         omnicx::v1::RecommendResponse out;
         return Recommendation(admin)->Recommend(Context().get(), r, &out);
       }},
      {"Track (trusted app key)",
       [&] {
         omnicx::v1::Interaction e = Event("other-1");
         *e.mutable_customer()->mutable_identity() =
             Id("phone", "+15550001111");
         *e.add_identities() = Id("email", "attacker@example.com");
         return Track(app, e);
       }},
      {"TrackBatch (trusted app key)",
       [&] {
         omnicx::v1::TrackBatchRequest r;
         omnicx::v1::Interaction e = Event("other-2");
         e.mutable_customer()->set_customer_id(cid);
         *r.add_interactions() = e;
         omnicx::v1::TrackBatchResponse out;
         return Ingestion(app)->TrackBatch(Context().get(), r, &out);
       }},
      {"TrackStream (trusted app key)",
       [&] {
         auto context = Context();
         auto stream = Ingestion(app)->TrackStream(context.get());
         omnicx::v1::TrackRequest r;
         *r.mutable_interaction() = Event("other-3");
         r.mutable_interaction()->mutable_customer()->set_customer_id(cid);
         stream->Write(r);  // may fail once the refusal arrived
         stream->WritesDone();
         return stream->Finish();
       }},
  };
  for (const auto& [name, call] : calls) {
    const std::string before = Digest(*suite_);
    ASSERT_EQ(before.size(), 40u) << before;
    const grpc::Status s = call();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << name << " got " << CodeName(s);
    suite_->CatchUp();  // anything logged would be applied now
    EXPECT_EQ(Digest(*suite_), before) << name << " changed Redis";
  }
  ASSERT_OK_AND_ASSIGN(omnicx::v1::Profile profile_after,
                       GetProfile(SeedPhone()));
  EXPECT_EQ(profile_after.SerializeAsString(),
            profile_before.SerializeAsString());
  ASSERT_OK_AND_ASSIGN(omnicx::v1::GetTimelineResponse timeline_after,
                       GetTimeline(SeedPhone()));
  EXPECT_EQ(timeline_after.SerializeAsString(),
            timeline_before.SerializeAsString());
  // The attacker's email never became a handle on the customer.
  EXPECT_THAT(GetProfile(ByIdentity("email", "attacker@example.com")),
              status::StatusIs(absl::StatusCode::kNotFound));
  // The digest does see a write: the tenant's own admin setting a consent.
  const std::string before = Digest(*suite_);
  omnicx::v1::SetConsentRequest consent;
  *consent.mutable_customer() = phone;
  consent.set_purpose("marketing_email");
  consent.set_granted(false);
  omnicx::v1::SetConsentResponse consented;
  const grpc::Status own =
      Profile(creds_.key(auth::Role::kAdmin))
          ->SetConsent(Context().get(), consent, &consented);
  ASSERT_TRUE(own.ok()) << CodeName(own) << " " << own.error_message();
  EXPECT_NE(Digest(*suite_), before);
}

// Through the real ingestion service and profile consumer: identities from
// the untrusted app key are unverified claims on its subject (no index
// entry, no lookup), naming the subject by identity is refused, and the
// trusted key links as before.
TEST_F(SuiteTest, UntrustedAppKeyIdentitiesStayClaimsTrustedOnesLink) {
  const std::string untrusted = creds_.key(auth::Role::kApp);
  const std::string trusted = creds_.trusted_app_key();

  omnicx::v1::Interaction claim = Event("u-1");
  claim.mutable_customer()->set_anonymous_id("browser-A");
  *claim.add_identities() = Id("phone", "+1 555 123 4567");
  omnicx::v1::TrackResponse accepted;
  grpc::Status s = Track(untrusted, claim, &accepted);
  ASSERT_TRUE(s.ok()) << CodeName(s) << " " << s.error_message();
  EXPECT_EQ(accepted.result().status(), omnicx::v1::EVENT_STATUS_ACCEPTED);
  suite_->CatchUp();

  const omnicx::v1::Identity phone = Id("phone", "+15551234567");
  EXPECT_EQ(
      suite_->redis()
          .Command({"EXISTS",
                    suite_->keys().IdentityIndex(
                        suite_->profile_store().directory().Digest(phone))})
          ->integer(),
      0);
  EXPECT_THAT(GetProfile(ByIdentity("phone", "+15551234567")),
              status::StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(omnicx::v1::Profile a,
                       GetProfile(ByAnonymousId("browser-A")));
  ASSERT_EQ(a.identities_size(), 1);
  EXPECT_EQ(a.identities(0).type(), "anonymous_id");
  ASSERT_EQ(a.unverified_identities_size(), 1);
  EXPECT_EQ(a.unverified_identities(0).type(), "phone");
  EXPECT_EQ(a.unverified_identities(0).value(), "+1******4567");  // masked

  // Naming the subject by identity: refused from the untrusted key, for
  // Track with the field named, for TrackBatch per event.
  omnicx::v1::Interaction lookup = Event("u-2");
  *lookup.mutable_customer()->mutable_identity() = phone;
  s = Track(untrusted, lookup);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << CodeName(s);
  EXPECT_THAT(
      status::GetFieldViolations(status::FromGrpcStatus(s)),
      ::testing::Contains(::testing::Field(&status::FieldViolation::field,
                                           "interaction.customer.identity")));
  omnicx::v1::TrackBatchRequest batch;
  *batch.add_interactions() = lookup;
  omnicx::v1::TrackBatchResponse results;
  s = Ingestion(untrusted)->TrackBatch(Context().get(), batch, &results);
  ASSERT_TRUE(s.ok()) << CodeName(s);
  ASSERT_EQ(results.results_size(), 1);
  EXPECT_EQ(results.results(0).status(), omnicx::v1::EVENT_STATUS_REJECTED);

  // The trusted key links the same kind of claim and may name by identity.
  omnicx::v1::Interaction linked = Event("t-1");
  linked.mutable_customer()->set_anonymous_id("server-B");
  *linked.add_identities() = Id("phone", "+1 555 765 4321");
  s = Track(trusted, linked);
  ASSERT_TRUE(s.ok()) << CodeName(s) << " " << s.error_message();
  omnicx::v1::Interaction named = Event("t-2");
  *named.mutable_customer()->mutable_identity() = Id("phone", "+15557654321");
  s = Track(trusted, named);
  ASSERT_TRUE(s.ok()) << CodeName(s) << " " << s.error_message();
  suite_->CatchUp();
  ASSERT_OK_AND_ASSIGN(omnicx::v1::Profile b,
                       GetProfile(ByAnonymousId("server-B")));
  ASSERT_OK_AND_ASSIGN(omnicx::v1::Profile by_phone,
                       GetProfile(ByIdentity("phone", "+15557654321")));
  EXPECT_EQ(by_phone.customer_id(), b.customer_id());
  EXPECT_EQ(by_phone.event_count(), 2);
  EXPECT_THAT(by_phone.unverified_identities(), IsEmpty());
  // A's claim is still only a claim.
  EXPECT_THAT(GetProfile(ByIdentity("phone", "+15551234567")),
              status::StatusIs(absl::StatusCode::kNotFound));
}

// --- the per-credential rate limit over gRPC ---

class RateLimitTest : public RedisBacked {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    if (HasFatalFailure()) return;
    auth::AuthenticatorOptions options;
    options.tenant = creds_.tenant();
    options.rate_limit = 1;  // per second
    options.rate_limit_burst = 2;
    options.clock = [this] {
      absl::MutexLock lock(&mu_);
      return now_;
    };
    auth_ = creds_.NewAuthenticator(options);
    suite_ = std::make_unique<Suite>(redis_server_->port(), *auth_, creds_);
    ASSERT_TRUE(suite_->ok());
  }
  void TearDown() override { suite_.reset(); }

  grpc::Status ListActions(const std::string& key) {
    omnicx::v1::ListActionsRequest request;
    omnicx::v1::ListActionsResponse response;
    return omnicx::v1::RecommendationService::NewStub(
               suite_->Channel(suite_->recommendation_server(), key))
        ->ListActions(Context().get(), request, &response);
  }

  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

  TestCredentials creds_{"default"};
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = absl::FromUnixSeconds(1795000000);
  std::unique_ptr<auth::Authenticator> auth_;
  std::unique_ptr<Suite> suite_;
};

TEST_F(RateLimitTest, OneExhaustedKeyDoesNotSlowAnother) {
  const std::string analyst = creds_.key(auth::Role::kAnalyst);
  const std::string admin = creds_.key(auth::Role::kAdmin);
  // The burst, then the refusal with when to retry.
  EXPECT_TRUE(ListActions(analyst).ok());
  EXPECT_TRUE(ListActions(analyst).ok());
  const grpc::Status refused = ListActions(analyst);
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << CodeName(refused);
  EXPECT_EQ(status::GetRetryDelay(status::FromGrpcStatus(refused)),
            absl::Seconds(1));
  // Another key of the same tenant is untouched, also on another service
  // (one authenticator serves the four here; each process has its own in
  // production).
  EXPECT_TRUE(ListActions(admin).ok());
  omnicx::v1::GetFunnelRequest funnel;
  omnicx::v1::GetFunnelResponse got;
  EXPECT_TRUE(omnicx::v1::JourneyService::NewStub(
                  suite_->Channel(suite_->journey_server(), admin))
                  ->GetFunnel(Context().get(), funnel, &got)
                  .ok());
  // Internal calls are limited at the edge only: an internal key is never
  // refused for rate.
  for (int i = 0; i < 5; ++i) {
    const grpc::Status s =
        CallEmpty(suite_->Channel(suite_->journey_server(),
                                  creds_.internal_key("profile")),
                  "/omnicx.v1.JourneyService/GetJourney");
    EXPECT_NE(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << i;
  }
  // A second later the analyst has a token again.
  EXPECT_EQ(ListActions(analyst).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  Advance(absl::Seconds(1));
  EXPECT_TRUE(ListActions(analyst).ok());
  EXPECT_EQ(ListActions(analyst).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

}  // namespace
}  // namespace omnicx
