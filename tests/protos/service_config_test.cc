// Tests protos/omnicx/v1/service_config.json, the gRPC service config that
// ships with the protos, as compiled into the binaries
// (server::ShippedServiceConfig): gRPC accepts it, it retries exactly the
// methods that are safe to retry on the codes docs/guarantees.md lists, and
// its retry throttling stops retries once most calls fail (no retry storm).
// And the project's own clients use it: every channel server::DialService
// makes (services and tools) retries as it says.
//
// Each test talks to an in-process server on 127.0.0.1:0 that answers any
// method path with a scripted sequence of codes and counts the attempts it
// saw; the client is a generic stub, so every method of every service can be
// called by name. gRPC keeps one throttling budget per target within a
// process, so each check that must not share a budget starts its own server
// (its own port).

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "libs/server/tls.h"
#include "nlohmann/json.hpp"
#include "omnicx/v1/dead_letters.pb.h"
#include "omnicx/v1/ingestion.pb.h"
#include "omnicx/v1/journey.pb.h"
#include "omnicx/v1/profile.pb.h"
#include "omnicx/v1/recommendation.pb.h"

namespace omnicx::protos {
namespace {

constexpr char kServices[][40] = {
    "omnicx.v1.IngestionService", "omnicx.v1.ProfileService",
    "omnicx.v1.JourneyService", "omnicx.v1.RecommendationService",
    "omnicx.v1.DeadLetterService"};

// The methods a retry is safe for (reads and idempotent writes), as reviewed:
// adding one to the config means adding it here. Every other method, and any
// new one, must not be retried by the config.
const std::set<std::string>& SafeToRetry() {
  static const auto* methods = new std::set<std::string>{
      "/omnicx.v1.IngestionService/Track",
      "/omnicx.v1.IngestionService/TrackBatch",
      "/omnicx.v1.ProfileService/GetProfile",
      "/omnicx.v1.ProfileService/GetTimeline",
      "/omnicx.v1.ProfileService/ExportCustomer",
      "/omnicx.v1.ProfileService/EraseCustomer",
      "/omnicx.v1.JourneyService/GetJourney",
      "/omnicx.v1.JourneyService/ListPainPoints",
      "/omnicx.v1.JourneyService/GetFunnel",
      "/omnicx.v1.JourneyService/GetChurnModel",
      "/omnicx.v1.JourneyService/ForgetCustomer",
      "/omnicx.v1.RecommendationService/RecordOutcome",
      "/omnicx.v1.RecommendationService/ListActions",
      "/omnicx.v1.RecommendationService/GetActionStats",
      "/omnicx.v1.DeadLetterService/ListDeadLetters",
      "/omnicx.v1.DeadLetterService/GetDeadLetter",
      "/omnicx.v1.DeadLetterService/ReplayDeadLetter",
  };
  return *methods;
}

std::string ServiceConfigJson() {
  return std::string(server::ShippedServiceConfig());
}

// The generated descriptors of the five services (referencing a message of
// each file links it in).
const google::protobuf::ServiceDescriptor* FindService(
    const std::string& name) {
  const google::protobuf::DescriptorPool* pool =
      omnicx::v1::TrackRequest::descriptor()->file()->pool();
  omnicx::v1::GetProfileRequest::descriptor();
  omnicx::v1::GetJourneyRequest::descriptor();
  omnicx::v1::RecommendRequest::descriptor();
  omnicx::v1::DeadLetterRef::descriptor();
  return pool->FindServiceByName(name);
}

// A server for any method path. Each method answers `script` in turn (one
// code per attempt), then OK; it counts the attempts per method.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<grpc::StatusCode> script)
      : service_(this), script_(std::move(script)) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterCallbackGenericService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~ScriptedServer() { server_->Shutdown(); }

  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
  bool started() const { return server_ != nullptr && port_ != 0; }

  int attempts(const std::string& method) {
    absl::MutexLock lock(&mu_);
    return attempts_[method];
  }

 private:
  class Service : public grpc::CallbackGenericService {
   public:
    explicit Service(ScriptedServer* server) : server_(server) {}
    grpc::ServerGenericBidiReactor* CreateReactor(
        grpc::GenericCallbackServerContext* context) override {
      return new Reactor(server_, context->method());
    }

   private:
    ScriptedServer* server_;
  };

  class Reactor : public grpc::ServerGenericBidiReactor {
   public:
    Reactor(ScriptedServer* server, std::string method)
        : server_(server), method_(std::move(method)) {
      StartRead(&request_);
    }
    void OnReadDone(bool ok) override {
      if (!ok) {
        Finish(grpc::Status(grpc::StatusCode::INTERNAL, "no request"));
        return;
      }
      grpc::StatusCode code = server_->NextCode(method_);
      if (code == grpc::StatusCode::OK) {
        StartWriteAndFinish(&request_, grpc::WriteOptions(), grpc::Status::OK);
      } else {
        Finish(grpc::Status(code, "scripted"));
      }
    }
    void OnDone() override { delete this; }

   private:
    ScriptedServer* server_;
    std::string method_;
    grpc::ByteBuffer request_;
  };

  grpc::StatusCode NextCode(const std::string& method) {
    absl::MutexLock lock(&mu_);
    const size_t attempt = attempts_[method]++;
    return attempt < script_.size() ? script_[attempt] : grpc::StatusCode::OK;
  }

  Service service_;
  const std::vector<grpc::StatusCode> script_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  absl::Mutex mu_;
  std::map<std::string, int> attempts_ ABSL_GUARDED_BY(mu_);
};

std::shared_ptr<grpc::Channel> Channel(const std::string& target,
                                       const std::string& service_config) {
  grpc::ChannelArguments args;
  if (!service_config.empty()) args.SetServiceConfigJSON(service_config);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(),
                                   args);
}

// One unary call of `method` (a path, "/package.Service/Method") with an
// empty request; its final status.
grpc::Status Call(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
    std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  return status;
}

TEST(ServiceConfigTest, NamesOnlyUnaryMethodsOfTheServicesOnce) {
  const nlohmann::json config =
      nlohmann::json::parse(ServiceConfigJson(), nullptr, false);
  ASSERT_FALSE(config.is_discarded()) << "not JSON";
  std::set<std::string> named;
  for (const auto& method_config : config.at("methodConfig")) {
    ASSERT_TRUE(method_config.contains("retryPolicy"));
    for (const auto& name : method_config.at("name")) {
      const std::string service = name.at("service");
      const std::string method = name.at("method");
      const google::protobuf::ServiceDescriptor* descriptor =
          FindService(service);
      ASSERT_NE(descriptor, nullptr) << service;
      const google::protobuf::MethodDescriptor* m =
          descriptor->FindMethodByName(method);
      ASSERT_NE(m, nullptr) << service << "/" << method;
      EXPECT_FALSE(m->client_streaming() || m->server_streaming())
          << service << "/" << method << " streams";
      EXPECT_TRUE(named.insert("/" + service + "/" + method).second)
          << service << "/" << method << " named twice";
    }
  }
  EXPECT_EQ(named, SafeToRetry());
  ASSERT_TRUE(config.contains("retryThrottling"));
  EXPECT_EQ(config["retryThrottling"]["maxTokens"], 10);
  EXPECT_EQ(config["retryThrottling"]["tokenRatio"], 0.1);
}

// A config gRPC refuses makes the channel fail every call before sending it:
// the checks below, which see calls reach the server and get retried, would
// catch an invalid service_config.json.
TEST(ServiceConfigTest, AnInvalidConfigFailsCallsBeforeTheServer) {
  ScriptedServer server({});
  ASSERT_TRUE(server.started());
  auto channel =
      Channel(server.target(), R"({"retryThrottling": {"maxTokens": -1}})");
  EXPECT_FALSE(Call(channel, "/omnicx.v1.IngestionService/Track").ok());
  EXPECT_EQ(server.attempts("/omnicx.v1.IngestionService/Track"), 0);
}

TEST(ServiceConfigTest, RetriesExactlyTheMethodsSafeToRetry) {
  const std::string config = ServiceConfigJson();
  std::vector<std::unique_ptr<ScriptedServer>> servers;
  int unary = 0;
  for (const char* service_name : kServices) {
    const google::protobuf::ServiceDescriptor* service =
        FindService(service_name);
    ASSERT_NE(service, nullptr) << service_name;
    for (int i = 0; i < service->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* m = service->method(i);
      if (m->client_streaming() || m->server_streaming()) continue;
      ++unary;
      const std::string path = "/" + service->full_name() + "/" + m->name();
      // A server of its own, kept until the end so that no port (the key
      // of a budget) is reused: a fresh throttling budget for each method.
      servers.push_back(std::make_unique<ScriptedServer>(
          std::vector<grpc::StatusCode>{grpc::StatusCode::UNAVAILABLE}));
      ScriptedServer& server = *servers.back();
      ASSERT_TRUE(server.started());
      auto channel = Channel(server.target(), config);
      const grpc::Status status = Call(channel, path);
      if (SafeToRetry().count(path) > 0) {
        EXPECT_TRUE(status.ok()) << path << ": " << status.error_message();
        EXPECT_EQ(server.attempts(path), 2) << path;
      } else {
        EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << path;
        EXPECT_EQ(server.attempts(path), 1) << path;
      }
    }
  }
  EXPECT_GT(unary, static_cast<int>(SafeToRetry().size()));
}

TEST(ServiceConfigTest, ResourceExhaustedIsRetriedUpToThreeAttempts) {
  ScriptedServer server(
      {grpc::StatusCode::RESOURCE_EXHAUSTED, grpc::StatusCode::UNAVAILABLE});
  ASSERT_TRUE(server.started());
  auto channel = Channel(server.target(), ServiceConfigJson());
  EXPECT_TRUE(Call(channel, "/omnicx.v1.ProfileService/GetProfile").ok());
  EXPECT_EQ(server.attempts("/omnicx.v1.ProfileService/GetProfile"), 3);
}

TEST(ServiceConfigTest, GivesUpAfterThreeAttempts) {
  ScriptedServer server(
      std::vector<grpc::StatusCode>(5, grpc::StatusCode::UNAVAILABLE));
  ASSERT_TRUE(server.started());
  auto channel = Channel(server.target(), ServiceConfigJson());
  EXPECT_EQ(
      Call(channel, "/omnicx.v1.IngestionService/TrackBatch").error_code(),
      grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server.attempts("/omnicx.v1.IngestionService/TrackBatch"), 3);
}

// Only ingestion (deduplicated by event_id) retries a server's
// DEADLINE_EXCEEDED or CANCELLED; reads do not.
TEST(ServiceConfigTest, IngestionAlsoRetriesServerDeadlineAndCancel) {
  ScriptedServer server(
      {grpc::StatusCode::DEADLINE_EXCEEDED, grpc::StatusCode::CANCELLED});
  ASSERT_TRUE(server.started());
  auto channel = Channel(server.target(), ServiceConfigJson());
  EXPECT_TRUE(Call(channel, "/omnicx.v1.IngestionService/Track").ok());
  EXPECT_EQ(server.attempts("/omnicx.v1.IngestionService/Track"), 3);
  EXPECT_EQ(Call(channel, "/omnicx.v1.JourneyService/GetJourney").error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(server.attempts("/omnicx.v1.JourneyService/GetJourney"), 1);
}

TEST(ServiceConfigTest, AClientErrorIsNotRetried) {
  ScriptedServer server({grpc::StatusCode::INVALID_ARGUMENT});
  ASSERT_TRUE(server.started());
  auto channel = Channel(server.target(), ServiceConfigJson());
  EXPECT_EQ(Call(channel, "/omnicx.v1.IngestionService/Track").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(server.attempts("/omnicx.v1.IngestionService/Track"), 1);
}

TEST(ServiceConfigTest, WithoutTheConfigNothingIsRetried) {
  ScriptedServer server({grpc::StatusCode::UNAVAILABLE});
  ASSERT_TRUE(server.started());
  auto channel = Channel(server.target(), "");
  EXPECT_EQ(Call(channel, "/omnicx.v1.IngestionService/Track").error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server.attempts("/omnicx.v1.IngestionService/Track"), 1);
}

// With every call failing, the token budget (10, a failed attempt costs one,
// retries stop at half) lets the first calls retry and then no more: one
// attempt per call, whichever method, instead of three.
TEST(ServiceConfigTest, ThrottlingStopsRetriesWhenMostCallsFail) {
  ScriptedServer server(
      std::vector<grpc::StatusCode>(100, grpc::StatusCode::UNAVAILABLE));
  ASSERT_TRUE(server.started());
  auto channel = Channel(server.target(), ServiceConfigJson());
  const std::string track = "/omnicx.v1.IngestionService/Track";
  std::vector<int> per_call;
  for (int i = 0; i < 10; ++i) {
    const int before = server.attempts(track);
    EXPECT_EQ(Call(channel, track).error_code(), grpc::StatusCode::UNAVAILABLE);
    per_call.push_back(server.attempts(track) - before);
  }
  EXPECT_EQ(per_call.front(), 3);
  for (size_t i = 3; i < per_call.size(); ++i) {
    EXPECT_EQ(per_call[i], 1) << "call " << i;
  }
  EXPECT_LE(server.attempts(track), 13);

  // The budget is the channel's target's, not the method's: a read is not
  // retried either now.
  const std::string read = "/omnicx.v1.ProfileService/GetProfile";
  EXPECT_EQ(Call(channel, read).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server.attempts(read), 1);
}

// The project's clients: services dialling each other and the tools dial
// through server::DialService, whose channels carry the shipped config.
TEST(ServiceConfigTest, DialServiceChannelsRetryAsTheConfigSays) {
  ScriptedServer server({grpc::StatusCode::UNAVAILABLE});
  ASSERT_TRUE(server.started());
  auto channel = server::DialService(server.target(), config::v1::TlsConfig());
  const std::string track = "/omnicx.v1.IngestionService/Track";
  EXPECT_TRUE(Call(channel, track).ok());
  EXPECT_EQ(server.attempts(track), 2);
  // A method the config leaves out: the failure is seen at once.
  const std::string recommend = "/omnicx.v1.RecommendationService/Recommend";
  EXPECT_EQ(Call(channel, recommend).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server.attempts(recommend), 1);
}

// Readiness probes (omnicx-health, ./omnicx up) must see an outage as it is:
// the health check is not in the config, so it is never retried.
TEST(ServiceConfigTest, DialServiceNeverRetriesAHealthCheck) {
  ScriptedServer server({grpc::StatusCode::UNAVAILABLE});
  ASSERT_TRUE(server.started());
  auto channel = server::DialService(server.target(), config::v1::TlsConfig());
  const std::string check = "/grpc.health.v1.Health/Check";
  EXPECT_EQ(Call(channel, check).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server.attempts(check), 1);
}

// A call whose deadline is shorter than the first backoff (gRPC C++ waits
// 0.25 s +-20 %) cannot be retried in time: with retries it ends
// DEADLINE_EXCEEDED at its deadline after one attempt; with Retries::kNone
// (the context's fan-out, 50 ms per part) it sees the server's UNAVAILABLE
// at once.
TEST(ServiceConfigTest, DialServiceWithoutRetriesKeepsAShortCallsFailure) {
  const std::string read = "/omnicx.v1.JourneyService/GetJourney";
  const auto deadline = std::chrono::milliseconds(150);
  ScriptedServer retried(
      std::vector<grpc::StatusCode>(3, grpc::StatusCode::UNAVAILABLE));
  ScriptedServer not_retried({grpc::StatusCode::UNAVAILABLE});
  ASSERT_TRUE(retried.started() && not_retried.started());
  auto with = server::DialService(retried.target(), config::v1::TlsConfig());
  EXPECT_EQ(Call(with, read, deadline).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(retried.attempts(read), 1);
  auto without = server::DialService(
      not_retried.target(), config::v1::TlsConfig(), server::Retries::kNone);
  EXPECT_EQ(Call(without, read, deadline).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(not_retried.attempts(read), 1);
}

}  // namespace
}  // namespace omnicx::protos
