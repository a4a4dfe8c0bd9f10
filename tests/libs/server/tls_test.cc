// TLS and mTLS on a real server started through Server::Start, with
// certificates made in the test: who gets in, and certificate rotation from
// files without a restart. Also: reflection is served only when enabled.
#include "libs/server/tls.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "libs/server/server.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/certificates.h"
#include "libs/testing/wait.h"
#include "omnicx/v1/ingestion.grpc.pb.h"

namespace omnicx::server {
namespace {

namespace fs = std::filesystem;
using ::omnicx::testing::KeyAndCert;
using ::omnicx::testing::TestCertificateAuthority;
using ::omnicx::testing::WriteFile;

// A server needs at least one service of its own besides health; its
// methods are never called here.
class IdleService : public omnicx::v1::IngestionService::CallbackService {};

struct CallResult {
  grpc::Status status;
  // The server's certificate as this connection saw it (PEM).
  std::string server_cert_pem;
};

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           absl::StrCat(
               "omnicx_tls_test_", getpid(), "_",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "server");
    const absl::Time now = absl::Now();
    const absl::Time from = now - absl::Hours(1), to = now + absl::Hours(1);
    ASSERT_OK_AND_ASSIGN(TestCertificateAuthority ca,
                         TestCertificateAuthority::Create("omnicx test CA"));
    ASSERT_OK_AND_ASSIGN(TestCertificateAuthority wrong_ca,
                         TestCertificateAuthority::Create("some other CA"));
    ASSERT_OK_AND_ASSIGN(server_v1_, ca.Issue("server", 100, from, to));
    ASSERT_OK_AND_ASSIGN(server_v2_, ca.Issue("server", 200, from, to));
    ASSERT_OK_AND_ASSIGN(KeyAndCert elsewhere, ca.Issue("server", 300, from, to,
                                                        "DNS:elsewhere.test"));
    ASSERT_OK_AND_ASSIGN(KeyAndCert client, ca.Issue("client", 101, from, to));
    ASSERT_OK_AND_ASSIGN(
        KeyAndCert expired,
        ca.Issue("client", 102, now - absl::Hours(2), now - absl::Hours(1)));
    ASSERT_OK_AND_ASSIGN(KeyAndCert stranger,
                         wrong_ca.Issue("client", 103, from, to));
    ASSERT_OK(WriteFile(Path("ca.pem"), ca.cert_pem()));
    ASSERT_OK(WriteFile(Path("wrong-ca.pem"), wrong_ca.cert_pem()));
    WritePair("client", client);
    WritePair("expired", expired);
    WritePair("stranger", stranger);
    // Like a Kubernetes secret volume: the files sit behind a directory
    // symlink that is swapped in one rename when the secret changes.
    WritePair("server/v1", server_v1_);
    WritePair("server/elsewhere", elsewhere);
    fs::create_directory_symlink("v1", dir_ / "server" / "live");
  }

  void TearDown() override { fs::remove_all(dir_); }

  std::string Path(const std::string& name) const {
    return (dir_ / name).string();
  }

  void WritePair(const std::string& subdir, const KeyAndCert& pair) {
    fs::create_directories(dir_ / subdir);
    ASSERT_OK(WriteFile(Path(subdir + "/tls.crt"), pair.cert_pem));
    ASSERT_OK(WriteFile(Path(subdir + "/tls.key"), pair.key_pem, 0600));
  }

  config::v1::TlsConfig ServerTls() const {
    config::v1::TlsConfig tls;
    tls.set_cert_file(Path("server/live/tls.crt"));
    tls.set_key_file(Path("server/live/tls.key"));
    tls.set_ca_file(Path("ca.pem"));
    tls.set_require_client_cert(true);
    tls.set_refresh_interval("1s");
    return tls;
  }

  // Client settings presenting <who>/tls.{crt,key} ("" = no certificate).
  config::v1::TlsConfig ClientTls(const std::string& who) const {
    config::v1::TlsConfig tls;
    tls.set_ca_file(Path("ca.pem"));
    if (!who.empty()) {
      tls.set_cert_file(Path(who + "/tls.crt"));
      tls.set_key_file(Path(who + "/tls.key"));
    }
    tls.set_refresh_interval("1s");
    return tls;
  }

  void StartServer(bool require_client_cert = true) {
    config::v1::TlsConfig tls = ServerTls();
    tls.set_require_client_cert(require_client_cert);
    ServerOptions options;
    options.credentials = ServerCredentialsFor(tls);
    ASSERT_OK_AND_ASSIGN(server_,
                         Server::Start(std::move(options), {&service_}));
  }

  // A channel with its own connection (no subchannel shared with earlier
  // channels), so each one makes a new handshake.
  std::shared_ptr<grpc::Channel> FreshChannel(
      std::shared_ptr<grpc::ChannelCredentials> credentials) const {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel(server_->dial_address(), credentials,
                                     args);
  }

  static CallResult HealthCheck(const std::shared_ptr<grpc::Channel>& channel) {
    auto stub = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    CallResult result;
    result.status = stub->Check(&context, request, &response);
    if (result.status.ok()) {
      EXPECT_EQ(response.status(),
                grpc::health::v1::HealthCheckResponse::SERVING);
      auto auth = context.auth_context();
      if (auth != nullptr) {
        for (const grpc::string_ref& pem :
             auth->FindPropertyValues("x509_pem_cert")) {
          result.server_cert_pem.assign(pem.data(), pem.size());
        }
      }
    }
    return result;
  }

  fs::path dir_;
  IdleService service_;
  KeyAndCert server_v1_, server_v2_;
  std::unique_ptr<Server> server_;
};

TEST_F(TlsTest, ClientWithAValidCertificateIsServed) {
  StartServer();
  CallResult result =
      HealthCheck(FreshChannel(ChannelCredentialsFor(ClientTls("client"))));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.server_cert_pem, server_v1_.cert_pem);
  // The project's dialling helper makes the same connection.
  EXPECT_TRUE(
      HealthCheck(DialService(server_->dial_address(), ClientTls("client")))
          .status.ok());
}

TEST_F(TlsTest, ClientWithoutACertificateIsRefused) {
  StartServer();
  EXPECT_EQ(HealthCheck(FreshChannel(ChannelCredentialsFor(ClientTls(""))))
                .status.error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, WithoutRequireClientCertAClientWithoutOneIsServed) {
  StartServer(/*require_client_cert=*/false);
  CallResult result =
      HealthCheck(FreshChannel(ChannelCredentialsFor(ClientTls(""))));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.server_cert_pem, server_v1_.cert_pem);
  EXPECT_EQ(HealthCheck(FreshChannel(grpc::InsecureChannelCredentials()))
                .status.error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, ClientCertificateFromAnotherCaIsRefused) {
  StartServer();
  EXPECT_EQ(
      HealthCheck(FreshChannel(ChannelCredentialsFor(ClientTls("stranger"))))
          .status.error_code(),
      grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, ExpiredClientCertificateIsRefused) {
  StartServer();
  EXPECT_EQ(
      HealthCheck(FreshChannel(ChannelCredentialsFor(ClientTls("expired"))))
          .status.error_code(),
      grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, PlaintextClientIsRefused) {
  StartServer();
  EXPECT_EQ(HealthCheck(FreshChannel(grpc::InsecureChannelCredentials()))
                .status.error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, ClientRefusesAServerFromAnotherCa) {
  StartServer();
  config::v1::TlsConfig tls = ClientTls("client");
  tls.set_ca_file(Path("wrong-ca.pem"));
  EXPECT_EQ(
      HealthCheck(FreshChannel(ChannelCredentialsFor(tls))).status.error_code(),
      grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, ClientRefusesAServerCertificateForAnotherHost) {
  fs::remove(dir_ / "server" / "live");
  fs::create_directory_symlink("elsewhere", dir_ / "server" / "live");
  StartServer();
  EXPECT_EQ(
      HealthCheck(FreshChannel(ChannelCredentialsFor(ClientTls("client"))))
          .status.error_code(),
      grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, RotatedServerCertificateIsUsedWithoutRestart) {
  StartServer();
  auto kept = FreshChannel(ChannelCredentialsFor(ClientTls("client")));
  CallResult before = HealthCheck(kept);
  ASSERT_TRUE(before.status.ok()) << before.status.error_message();
  ASSERT_EQ(before.server_cert_pem, server_v1_.cert_pem);

  // Rotate: new files in a new directory, then one atomic symlink swap.
  WritePair("server/v2", server_v2_);
  fs::create_directory_symlink("v2", dir_ / "server" / "live.new");
  fs::rename(dir_ / "server" / "live.new", dir_ / "server" / "live");

  // New connections pick the new certificate up within the refresh
  // interval (1 s); poll with fresh connections until one does.
  CallResult after;
  testing::WaitUntil(
      [&] {
        after = HealthCheck(
            FreshChannel(ChannelCredentialsFor(ClientTls("client"))));
        return after.status.ok() &&
               after.server_cert_pem == server_v2_.cert_pem;
      },
      absl::Seconds(20));
  ASSERT_TRUE(after.status.ok()) << after.status.error_message();
  EXPECT_EQ(after.server_cert_pem, server_v2_.cert_pem);

  // The connection made before the rotation keeps working as it was.
  CallResult still = HealthCheck(kept);
  ASSERT_TRUE(still.status.ok()) << still.status.error_message();
  EXPECT_EQ(still.server_cert_pem, server_v1_.cert_pem);
}

// grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo with
// list_services: "" ; returns the status and the first answer's bytes.
grpc::Status ListServices(const std::string& address, std::string* answer) {
  auto channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  auto call = stub.PrepareCall(
      &context,
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag = nullptr;
  bool ok = false;
  auto step = [&](int id) {
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(tag, reinterpret_cast<void*>(id));
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  step(1);
  // Field 7 (list_services), a string: tag 0x3a, length 0.
  const char request_bytes[] = {0x3a, 0x00};
  grpc::Slice slice(request_bytes, sizeof(request_bytes));
  grpc::ByteBuffer request(&slice, 1), response;
  call->Write(request, reinterpret_cast<void*>(2));
  step(2);
  call->WritesDone(reinterpret_cast<void*>(3));
  step(3);
  call->Read(&response, reinterpret_cast<void*>(4));
  if (step(4)) {
    grpc::Slice dump;
    if (response.TrySingleSlice(&dump).ok() ||
        response.DumpToSingleSlice(&dump).ok()) {
      answer->assign(reinterpret_cast<const char*>(dump.begin()), dump.size());
    }
  }
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(5);
  return status;
}

TEST(ReflectionTest, ServedOnlyWhenEnabled) {
  IdleService service;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> off,
                       Server::Start(ServerOptions(), {&service}));
  std::string answer;
  EXPECT_EQ(ListServices(off->dial_address(), &answer).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(answer, "");

  ServerOptions options;
  options.reflection = true;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> on,
                       Server::Start(std::move(options), {&service}));
  grpc::Status status = ListServices(on->dial_address(), &answer);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(absl::StrContains(answer, "omnicx.v1.IngestionService"))
      << answer;

  // A later server without it still does not serve it.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> off_again,
                       Server::Start(ServerOptions(), {&service}));
  EXPECT_EQ(ListServices(off_again->dial_address(), &answer).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace omnicx::server
