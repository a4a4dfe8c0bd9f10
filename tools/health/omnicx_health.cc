// omnicx-health: asks grpc.health.v1.Health/Check on each address and prints
// the answer; with --wait, retries until every address is SERVING or the
// time is up. Exit 0 when all are SERVING, 1 otherwise. Used by ./omnicx up.
// With --tls_ca_file it speaks TLS (verifying the server against that CA);
// --tls_cert_file/--tls_key_file add a client certificate for mTLS.
//
//   omnicx-health --wait=20s 127.0.0.1:50051 127.0.0.1:50052
//   omnicx-health --service=liveness 127.0.0.1:50051
//   omnicx-health --tls_ca_file=ca.pem --tls_cert_file=c.crt \
//       --tls_key_file=c.key 127.0.0.1:50051
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
#include "libs/server/tls.h"

namespace {

std::string Check(const std::string& address, const std::string& service,
                  const omnicx::config::v1::TlsConfig& tls) {
  auto channel = omnicx::server::DialService(address, tls);
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
  omnicx::config::v1::TlsConfig tls;
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
    } else if (absl::StartsWith(arg, "--tls_ca_file=")) {
      tls.set_ca_file(arg.substr(14));
    } else if (absl::StartsWith(arg, "--tls_cert_file=")) {
      tls.set_cert_file(arg.substr(16));
    } else if (absl::StartsWith(arg, "--tls_key_file=")) {
      tls.set_key_file(arg.substr(15));
    } else if (absl::StartsWith(arg, "--")) {
      std::cerr << "usage: omnicx-health [--wait=20s] [--service=NAME] "
                   "[--tls_ca_file=F [--tls_cert_file=F --tls_key_file=F]] "
                   "host:port...\n";
      return 2;
    } else {
      addresses.push_back(arg);
    }
  }
  if (tls.cert_file().empty() != tls.key_file().empty()) {
    std::cerr << "omnicx-health: --tls_cert_file and --tls_key_file go "
                 "together\n";
    return 2;
  }
  const absl::Time deadline = absl::Now() + wait;
  std::vector<std::string> answers(addresses.size());
  while (true) {
    bool all = true;
    for (size_t i = 0; i < addresses.size(); ++i) {
      if (answers[i] == "SERVING") continue;
      answers[i] = Check(addresses[i], service, tls);
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
