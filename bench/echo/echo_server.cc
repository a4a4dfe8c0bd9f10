// Bare gRPC echo server (callback API, same build flags as the services):
// the baseline every omnicx latency and throughput figure is compared with.
//
//   echo_server --port=0 --max_seconds=300   # prints "PORT <n>"
#include <signal.h>

#include <cstdio>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "bench/echo/echo.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace {

class EchoServiceImpl final
    : public omnicx::bench::EchoService::CallbackService {
  grpc::ServerUnaryReactor* Echo(
      grpc::CallbackServerContext* context,
      const omnicx::bench::EchoRequest* request,
      omnicx::bench::EchoResponse* response) override {
    response->set_payload(request->payload());
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerReadReactor<omnicx::bench::EchoRequest>* EchoStream(
      grpc::CallbackServerContext* context,
      omnicx::bench::EchoSummary* summary) override {
    class Reader : public grpc::ServerReadReactor<omnicx::bench::EchoRequest> {
     public:
      explicit Reader(omnicx::bench::EchoSummary* summary) : summary_(summary) {
        StartRead(&request_);
      }
      void OnReadDone(bool ok) override {
        if (!ok) {
          summary_->set_count(count_);
          Finish(grpc::Status::OK);
          return;
        }
        ++count_;
        StartRead(&request_);
      }
      void OnDone() override { delete this; }

     private:
      omnicx::bench::EchoSummary* summary_;
      omnicx::bench::EchoRequest request_;
      int64_t count_ = 0;
    };
    return new Reader(summary);
  }
};

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  int max_seconds = 300;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (absl::StartsWith(a, "--port="))
      (void)absl::SimpleAtoi(a.substr(7), &port);
    if (absl::StartsWith(a, "--max_seconds=")) {
      (void)absl::SimpleAtoi(a.substr(14), &max_seconds);
    }
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  EchoServiceImpl service;
  grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port),
                           grpc::InsecureServerCredentials(), &bound);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server) return 1;
  std::printf("PORT %d\n", bound);
  std::fflush(stdout);
  // Stops on a signal or after max_seconds, whichever comes first.
  timespec limit{max_seconds, 0};
  sigtimedwait(&set, nullptr, &limit);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
