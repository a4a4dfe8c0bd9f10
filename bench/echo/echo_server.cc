// Bare gRPC echo server (callback API, same build flags as the services):
// the baseline every omnicx latency and throughput figure is compared with.
//
//   echo_server --port=0 --max_seconds=300   # prints "PORT <n>"
//
// With --forward=ADDR[,ADDR...] each Echo first calls Echo on every ADDR in
// parallel and answers when all have answered: chains of these servers have
// the shape of a service's call graph (recommendation: one call in, GetProfile
// and GetJourney out) with none of its work, so they give the floor that the
// graph alone sets on this machine (bench/call_graph.sh).
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/echo/echo.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace {

using omnicx::bench::EchoRequest;
using omnicx::bench::EchoResponse;
using omnicx::bench::EchoService;

class EchoServiceImpl final : public EchoService::CallbackService {
 public:
  explicit EchoServiceImpl(const std::vector<std::string>& forward) {
    for (const std::string& target : forward) {
      downstream_.push_back(EchoService::NewStub(
          grpc::CreateChannel(target, grpc::InsecureChannelCredentials())));
    }
  }

 private:
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const EchoRequest* request,
                                 EchoResponse* response) override {
    response->set_payload(request->payload());
    auto* reactor = context->DefaultReactor();
    if (downstream_.empty()) {
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }
    // The downstream calls, in flight together; the last to answer finishes
    // the caller's call (with the first error, if any).
    struct Fanout {
      grpc::ServerUnaryReactor* reactor;
      std::vector<grpc::ClientContext> contexts;
      std::vector<EchoResponse> responses;
      std::atomic<size_t> pending;
      std::atomic<bool> failed{false};
      Fanout(grpc::ServerUnaryReactor* r, size_t n)
          : reactor(r), contexts(n), responses(n), pending(n) {}
    };
    auto fanout = std::make_shared<Fanout>(reactor, downstream_.size());
    for (size_t i = 0; i < downstream_.size(); ++i) {
      downstream_[i]->async()->Echo(
          &fanout->contexts[i], request, &fanout->responses[i],
          [fanout](grpc::Status status) {
            if (!status.ok()) fanout->failed = true;
            if (--fanout->pending == 0) {
              fanout->reactor->Finish(
                  fanout->failed ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                                "a downstream call failed")
                                 : grpc::Status::OK);
            }
          });
    }
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

  std::vector<std::unique_ptr<EchoService::Stub>> downstream_;
};

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  int max_seconds = 300;
  std::vector<std::string> forward;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (absl::StartsWith(a, "--port="))
      (void)absl::SimpleAtoi(a.substr(7), &port);
    if (absl::StartsWith(a, "--max_seconds=")) {
      (void)absl::SimpleAtoi(a.substr(14), &max_seconds);
    }
    if (absl::StartsWith(a, "--forward=")) {
      forward = absl::StrSplit(a.substr(10), ',', absl::SkipEmpty());
    }
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  EchoServiceImpl service(forward);
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
