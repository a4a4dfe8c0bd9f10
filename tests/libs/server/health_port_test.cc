// The plaintext health-only port (ServerOptions::health_address) next to a
// main port that requires mTLS, as the Helm chart runs the services: it
// answers grpc.health.v1.Health with the main server's statuses, nothing
// else, and turns NOT_SERVING, then stops, on Shutdown.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "libs/server/server.h"
#include "libs/server/tls.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/certificates.h"

namespace omnicx::server {
namespace {

namespace fs = std::filesystem;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::omnicx::testing::KeyAndCert;
using ::omnicx::testing::TestCertificateAuthority;
using ::omnicx::testing::WriteFile;

constexpr char kServiceName[] = "omnicx.v1.IngestionService";
constexpr char kTrack[] = "/omnicx.v1.IngestionService/Track";
constexpr char kHeld[] = "/test.Held/Call";
// A bidi method; a unary call carrying one empty request is enough to see
// whether a port serves it at all.
constexpr char kReflection[] =
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

// Answers every method (echo) at once, except kHeld, which answers only
// after Release(): a call that is in flight while the server shuts down.
class EchoService : public grpc::CallbackGenericService {
 public:
  absl::Notification held_started;

  void Release() {
    if (!release_.HasBeenNotified()) release_.Notify();
  }

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    class Reactor : public grpc::ServerGenericBidiReactor {
     public:
      Reactor(EchoService* service, bool held)
          : service_(service), held_(held) {
        StartRead(&request_);
      }
      void OnReadDone(bool ok) override {
        if (!ok) {
          Finish(grpc::Status::OK);
          return;
        }
        if (!held_) {
          StartWriteAndFinish(&request_, grpc::WriteOptions(),
                              grpc::Status::OK);
          return;
        }
        service_->held_started.Notify();
        // Server::Shutdown waits for this reactor, so the service (owned by
        // the test fixture, destroyed after the server) outlives the thread.
        std::thread([this] {
          service_->release_.WaitForNotification();
          StartWriteAndFinish(&request_, grpc::WriteOptions(),
                              grpc::Status::OK);
        }).detach();
      }
      void OnDone() override { delete this; }

     private:
      EchoService* service_;
      bool held_;
      grpc::ByteBuffer request_;
    };
    return new Reactor(this, context->method() == kHeld);
  }

 private:
  absl::Notification release_;
};

grpc::Status UnaryCall(const std::shared_ptr<grpc::Channel>& channel,
                       const std::string& method) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  // One empty message (a valid encoding of any proto request).
  grpc::Slice empty("", 0);
  grpc::ByteBuffer request(&empty, 1), response;
  grpc::Status result;
  absl::Notification done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   result = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  return result;
}

// "SERVING", "NOT_SERVING", or "ERROR <code>".
std::string HealthOf(const std::shared_ptr<grpc::Channel>& channel,
                     const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  grpc::Status s = stub->Check(&context, request, &response);
  if (!s.ok()) return absl::StrCat("ERROR ", s.error_code());
  return HealthCheckResponse::ServingStatus_Name(response.status());
}

class HealthPortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           absl::StrCat(
               "omnicx_health_port_test_", getpid(), "_",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const absl::Time from = absl::Now() - absl::Hours(1);
    const absl::Time to = absl::Now() + absl::Hours(1);
    ASSERT_OK_AND_ASSIGN(TestCertificateAuthority ca,
                         TestCertificateAuthority::Create("omnicx test CA"));
    ASSERT_OK_AND_ASSIGN(KeyAndCert server, ca.Issue("server", 1, from, to));
    ASSERT_OK_AND_ASSIGN(KeyAndCert client, ca.Issue("client", 2, from, to));
    ASSERT_OK(WriteFile(Path("ca.pem"), ca.cert_pem()));
    ASSERT_OK(WriteFile(Path("server.crt"), server.cert_pem));
    ASSERT_OK(WriteFile(Path("server.key"), server.key_pem, 0600));
    ASSERT_OK(WriteFile(Path("client.crt"), client.cert_pem));
    ASSERT_OK(WriteFile(Path("client.key"), client.key_pem, 0600));

    config::v1::TlsConfig tls;
    tls.set_cert_file(Path("server.crt"));
    tls.set_key_file(Path("server.key"));
    tls.set_ca_file(Path("ca.pem"));
    tls.set_require_client_cert(true);
    tls.set_refresh_interval("60s");
    ServerOptions options;
    options.credentials = ServerCredentialsFor(tls);
    options.health_address = "127.0.0.1:0";
    options.health_service_names = {kServiceName};
    options.reflection = true;
    options.shutdown_grace = absl::Seconds(10);
    // Far beyond the test: readiness changes only through
    // CheckReadinessNow().
    options.health_check_interval = absl::Minutes(1);
    options.readiness_check = [this]() -> absl::Status {
      return dependency_up_ ? absl::OkStatus()
                            : absl::UnavailableError("redis down");
    };
    ASSERT_OK_AND_ASSIGN(
        server_, Server::StartWithGeneric(std::move(options), {}, &echo_));
    ASSERT_NE(server_->health_port(), 0);
    ASSERT_NE(server_->health_port(), server_->port());
    health_ = grpc::CreateChannel(server_->health_dial_address(),
                                  grpc::InsecureChannelCredentials());
    config::v1::TlsConfig client_tls;
    client_tls.set_ca_file(Path("ca.pem"));
    client_tls.set_cert_file(Path("client.crt"));
    client_tls.set_key_file(Path("client.key"));
    client_tls.set_refresh_interval("60s");
    main_ = DialService(server_->dial_address(), client_tls);
  }

  void TearDown() override {
    echo_.Release();
    server_.reset();
    fs::remove_all(dir_);
  }

  std::string Path(const std::string& name) const {
    return (dir_ / name).string();
  }

  fs::path dir_;
  std::atomic<bool> dependency_up_{true};
  EchoService echo_;                       // outlives server_
  std::unique_ptr<Server> server_;         // TLS + mTLS, plus the health port
  std::shared_ptr<grpc::Channel> health_;  // plaintext, to the health port
  std::shared_ptr<grpc::Channel> main_;    // mTLS, to the main port
};

TEST_F(HealthPortTest, AnswersHealthInPlaintextWhileTheMainPortNeedsMtls) {
  EXPECT_EQ(HealthOf(health_, ""), "SERVING");
  EXPECT_EQ(HealthOf(health_, kLivenessService), "SERVING");
  EXPECT_EQ(HealthOf(health_, kServiceName), "SERVING");
  EXPECT_EQ(HealthOf(health_, "omnicx.v1.NoSuchService"),
            absl::StrCat("ERROR ", grpc::StatusCode::NOT_FOUND));
  // The main port: health over mTLS, nothing in plaintext.
  EXPECT_EQ(HealthOf(main_, ""), "SERVING");
  auto plaintext_main = grpc::CreateChannel(server_->dial_address(),
                                            grpc::InsecureChannelCredentials());
  EXPECT_EQ(HealthOf(plaintext_main, ""),
            absl::StrCat("ERROR ", grpc::StatusCode::UNAVAILABLE));
}

TEST_F(HealthPortTest, FollowsReadinessLikeTheMainPort) {
  dependency_up_ = false;
  server_->CheckReadinessNow();
  EXPECT_FALSE(server_->ready());
  EXPECT_EQ(HealthOf(health_, ""), "NOT_SERVING");
  EXPECT_EQ(HealthOf(health_, kServiceName), "NOT_SERVING");
  EXPECT_EQ(HealthOf(main_, ""), "NOT_SERVING");
  // Liveness never depends on the dependency.
  EXPECT_EQ(HealthOf(health_, kLivenessService), "SERVING");

  dependency_up_ = true;
  server_->CheckReadinessNow();
  EXPECT_EQ(HealthOf(health_, ""), "SERVING");
  EXPECT_EQ(HealthOf(health_, kServiceName), "SERVING");
  EXPECT_EQ(HealthOf(main_, ""), "SERVING");
}

TEST_F(HealthPortTest, ServesNothingButHealth) {
  // The main port serves these (the echo service answers any method, and
  // reflection is on)...
  EXPECT_TRUE(UnaryCall(main_, kTrack).ok());
  EXPECT_NE(UnaryCall(main_, kReflection).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  // ...the health port none of them.
  EXPECT_EQ(UnaryCall(health_, kTrack).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(UnaryCall(health_, kReflection).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(UnaryCall(health_, kHeld).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(HealthPortTest, TurnsNotServingDuringTheDrainThenStops) {
  // A call in flight on the main port keeps the server draining.
  grpc::Status held;
  std::thread caller([&] { held = UnaryCall(main_, kHeld); });
  echo_.held_started.WaitForNotification();

  auto stub = grpc::health::v1::Health::NewStub(health_);
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(30));
  HealthCheckRequest request;  // "" = overall
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> watch =
      stub->Watch(&watch_context, request);
  HealthCheckResponse status;
  ASSERT_TRUE(watch->Read(&status));
  EXPECT_EQ(status.status(), HealthCheckResponse::SERVING);

  std::thread shutdown([&] { server_->Shutdown(); });
  ASSERT_TRUE(watch->Read(&status));
  EXPECT_EQ(status.status(), HealthCheckResponse::NOT_SERVING);
  // Every status on the health port, liveness included, while the main
  // server still drains the held call.
  EXPECT_EQ(HealthOf(health_, kLivenessService), "NOT_SERVING");
  EXPECT_EQ(HealthOf(health_, kServiceName), "NOT_SERVING");

  echo_.Release();
  caller.join();
  shutdown.join();
  EXPECT_TRUE(held.ok()) << held.error_code() << " " << held.error_message();
  // The drain is over: the health port is closed.
  while (watch->Read(&status)) {
  }
  EXPECT_FALSE(watch->Finish().ok());
  EXPECT_EQ(HealthOf(health_, ""),
            absl::StrCat("ERROR ", grpc::StatusCode::UNAVAILABLE));
}

TEST(HealthPortStartTest, BusyHealthAddressIsAClearError) {
  EchoService echo, other_echo;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> first,
                       Server::StartWithGeneric(ServerOptions(), {}, &echo));
  ServerOptions options;
  options.health_address = first->dial_address();
  EXPECT_THAT(Server::StartWithGeneric(std::move(options), {}, &other_echo),
              status::StatusIs(absl::StatusCode::kUnavailable,
                               ::testing::HasSubstr("for health")));
  // Without a health address there is no health port.
  EXPECT_EQ(first->health_port(), 0);
  EXPECT_EQ(first->health_dial_address(), "");
}

}  // namespace
}  // namespace omnicx::server
