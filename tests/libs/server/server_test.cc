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
#include "libs/testing/wait.h"

namespace omnicx::server {
namespace {

// A service for any method name whose handlers answer once the test calls
// Release(), so that calls are really in flight when shutdown starts.
class SlowGenericService : public grpc::CallbackGenericService {
 public:
  std::atomic<int> started{0};

  ~SlowGenericService() { ReleaseAndJoin(); }

  // Lets every handler answer (now and from now on) and waits for them.
  void ReleaseAndJoin() {
    if (!release_.HasBeenNotified()) release_.Notify();
    absl::MutexLock lock(&mu_);
    for (std::thread& t : handlers_) t.join();
    handlers_.clear();
  }

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    class Reactor : public grpc::ServerGenericBidiReactor {
     public:
      Reactor(SlowGenericService* s) : s_(s) { StartRead(&request_); }
      void OnReadDone(bool ok) override {
        if (!ok) return;
        s_->started++;
        absl::MutexLock lock(&s_->mu_);
        s_->handlers_.emplace_back([this] {
          s_->release_.WaitForNotification();
          StartWriteAndFinish(&request_, grpc::WriteOptions(),
                              grpc::Status::OK);
        });
      }
      void OnDone() override { delete this; }

     private:
      SlowGenericService* s_;
      grpc::ByteBuffer request_;
    };
    return new Reactor(this);
  }

 private:
  absl::Notification release_;
  absl::Mutex mu_;
  std::vector<std::thread> handlers_ ABSL_GUARDED_BY(mu_);
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
  SlowGenericService slow;
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
  ASSERT_TRUE(testing::WaitUntil([&] { return slow.started.load() == 8; }));
  std::atomic<bool> shut{false};
  absl::Time shut_at;
  std::thread shutter([&] {
    server->Shutdown();
    shut_at = absl::Now();
    shut = true;
  });
  // Shutdown waits for the handlers in flight...
  EXPECT_FALSE(
      testing::WaitUntil([&] { return shut.load(); }, absl::Milliseconds(200)));
  // ...and returns once they answered, not at the end of the grace.
  const absl::Time released = absl::Now();
  slow.ReleaseAndJoin();
  shutter.join();
  EXPECT_LT(shut_at - released, absl::Seconds(4));
  for (auto& t : callers) t.join();
  for (const grpc::Status& s : results) {
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  }
  // New calls are refused once shut down.
  EXPECT_EQ(CallSlow(address).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(ServerTest, GraceBoundsShutdown) {
  SlowGenericService slow;  // handlers answer only after the call ended
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
  ASSERT_TRUE(testing::WaitUntil([&] { return slow.started.load() == 1; }));
  const absl::Time start = absl::Now();
  std::thread shutter([&] { server->Shutdown(); });
  caller.join();
  // The overdue call was cancelled at the grace, while its handler still
  // ran (it answers only after this).
  EXPECT_FALSE(result.ok());
  EXPECT_LT(answered - start, absl::Seconds(1));
  slow.ReleaseAndJoin();
  shutter.join();
}

TEST(ServerTest, ReadinessFollowsTheCheckAndLivenessDoesNot) {
  std::atomic<bool> dependency_up{true};
  ServerOptions options;
  options.health_check_interval = absl::Milliseconds(50);
  options.health_service_names = {"omnicx.v1.Test"};
  options.readiness_check = [&]() -> absl::Status {
    return dependency_up ? absl::OkStatus() : absl::UnavailableError("down");
  };
  SlowGenericService unused;
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
  SlowGenericService unused;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> first,
                       StartWith(&unused, ServerOptions()));
  ServerOptions options;
  options.address = first->dial_address();
  SlowGenericService other;
  EXPECT_THAT(StartWith(&other, std::move(options)),
              status::StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace omnicx::server
