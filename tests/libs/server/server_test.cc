#include "libs/server/server.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"

namespace omnicx::server {
namespace {

// A service for any method name that answers after `delay`, so that calls
// are really in flight when shutdown starts.
class SlowGenericService : public grpc::CallbackGenericService {
 public:
  explicit SlowGenericService(absl::Duration delay) : delay_(delay) {}
  std::atomic<int> started{0};

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    class Reactor : public grpc::ServerGenericBidiReactor {
     public:
      Reactor(SlowGenericService* s) : s_(s) { StartRead(&request_); }
      void OnReadDone(bool ok) override {
        if (!ok) return;
        s_->started++;
        std::thread([this] {
          absl::SleepFor(s_->delay_);
          StartWriteAndFinish(&request_, grpc::WriteOptions(),
                              grpc::Status::OK);
        }).detach();
      }
      void OnDone() override { delete this; }

     private:
      SlowGenericService* s_;
      grpc::ByteBuffer request_;
    };
    return new Reactor(this);
  }

 private:
  absl::Duration delay_;
};

grpc::Status CallSlow(const std::string& address) {
  auto channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  grpc::Slice slice("ping", 4);
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::Status result;
  absl::Notification done;
  stub.UnaryCall(&context, "/test.Slow/Call", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status s) {
                   result = s;
                   done.Notify();
                 });
  done.WaitForNotification();
  return result;
}

std::string HealthOf(const std::string& address, const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(2));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status s = stub->Check(&context, request, &response);
  if (!s.ok()) return "ERROR " + s.error_message();
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
      response.status());
}

absl::StatusOr<std::unique_ptr<Server>> StartWith(
    grpc::CallbackGenericService* generic, ServerOptions options) {
  // Generic services register through the builder; Server::Start takes
  // typed services, so this test uses a thin subclass hook.
  return Server::StartWithGeneric(std::move(options), {}, generic);
}

TEST(ServerTest, InFlightCallsFinishOnShutdown) {
  SlowGenericService slow(absl::Milliseconds(500));
  ServerOptions options;
  options.shutdown_grace = absl::Seconds(5);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> server,
                       StartWith(&slow, std::move(options)));
  const std::string address = server->dial_address();
  std::vector<grpc::Status> results(8);
  std::vector<std::thread> callers;
  for (int i = 0; i < 8; ++i) {
    callers.emplace_back([&, i] { results[i] = CallSlow(address); });
  }
  while (slow.started.load() < 8) absl::SleepFor(absl::Milliseconds(5));
  const absl::Time start = absl::Now();
  server->Shutdown();
  // Shutdown waited for the handlers (about 500 ms), not the whole grace.
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
  for (auto& t : callers) t.join();
  for (const grpc::Status& s : results) {
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  }
  // New calls are refused once shut down.
  EXPECT_EQ(CallSlow(address).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(ServerTest, GraceBoundsShutdown) {
  SlowGenericService slow(absl::Seconds(3));
  ServerOptions options;
  options.shutdown_grace = absl::Milliseconds(200);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> server,
                       StartWith(&slow, std::move(options)));
  grpc::Status result;
  absl::Time answered;
  std::thread caller([&] {
    result = CallSlow(server->dial_address());
    answered = absl::Now();
  });
  while (slow.started.load() < 1) absl::SleepFor(absl::Milliseconds(5));
  const absl::Time start = absl::Now();
  server->Shutdown();
  caller.join();
  // The overdue call was cancelled at the grace, not left to run 3 s.
  EXPECT_FALSE(result.ok());
  EXPECT_LT(answered - start, absl::Seconds(1));
}

TEST(ServerTest, ReadinessFollowsTheCheckAndLivenessDoesNot) {
  std::atomic<bool> dependency_up{true};
  ServerOptions options;
  options.health_check_interval = absl::Milliseconds(50);
  options.health_service_names = {"omnicx.v1.Test"};
  options.readiness_check = [&]() -> absl::Status {
    return dependency_up ? absl::OkStatus() : absl::UnavailableError("down");
  };
  SlowGenericService unused(absl::ZeroDuration());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> server,
                       StartWith(&unused, std::move(options)));
  const std::string a = server->dial_address();
  EXPECT_EQ(HealthOf(a, ""), "SERVING");
  EXPECT_EQ(HealthOf(a, "omnicx.v1.Test"), "SERVING");
  dependency_up = false;
  server->CheckReadinessNow();
  EXPECT_EQ(HealthOf(a, ""), "NOT_SERVING");
  EXPECT_EQ(HealthOf(a, "omnicx.v1.Test"), "NOT_SERVING");
  EXPECT_EQ(HealthOf(a, kLivenessService), "SERVING");
  dependency_up = true;
  server->CheckReadinessNow();
  EXPECT_EQ(HealthOf(a, ""), "SERVING");
  EXPECT_TRUE(server->ready());
}

TEST(ServerTest, BusyPortIsAClearError) {
  SlowGenericService unused(absl::ZeroDuration());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> first,
                       StartWith(&unused, ServerOptions()));
  ServerOptions options;
  options.address = first->dial_address();
  SlowGenericService other(absl::ZeroDuration());
  EXPECT_THAT(StartWith(&other, std::move(options)),
              status::StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace omnicx::server
