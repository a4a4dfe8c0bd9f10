// omnicx-health: asks grpc.health.v1.Health/Check on each address and prints
// the answer; with --wait, retries until every address is SERVING or the
// time is up. Exit 0 when all are SERVING, 1 otherwise. Used by ./omnicx up.
//
//   omnicx-health --wait=20s 127.0.0.1:50051 127.0.0.1:50052
//   omnicx-health --service=liveness 127.0.0.1:50051
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace {

std::string Check(const std::string& address, const std::string& service) {
  auto channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(500));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) return "UNREACHABLE (" + status.error_message() + ")";
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
      response.status());
}

}  // namespace

int main(int argc, char** argv) {
  absl::Duration wait = absl::ZeroDuration();
  std::string service;
  std::vector<std::string> addresses;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (absl::StartsWith(arg, "--wait=")) {
      if (!absl::ParseDuration(arg.substr(7), &wait)) {
        std::cerr << "omnicx-health: --wait wants a duration like 20s\n";
        return 2;
      }
    } else if (absl::StartsWith(arg, "--service=")) {
      service = arg.substr(10);
    } else if (absl::StartsWith(arg, "--")) {
      std::cerr << "usage: omnicx-health [--wait=20s] [--service=NAME] "
                   "host:port...\n";
      return 2;
    } else {
      addresses.push_back(arg);
    }
  }
  const absl::Time deadline = absl::Now() + wait;
  std::vector<std::string> answers(addresses.size());
  while (true) {
    bool all = true;
    for (size_t i = 0; i < addresses.size(); ++i) {
      if (answers[i] == "SERVING") continue;
      answers[i] = Check(addresses[i], service);
      all = all && answers[i] == "SERVING";
    }
    if (all || absl::Now() >= deadline) {
      for (size_t i = 0; i < addresses.size(); ++i) {
        std::cout << addresses[i] << " " << answers[i] << "\n";
      }
      return all ? 0 : 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}
