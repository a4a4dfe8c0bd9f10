// Load client for the echo baseline. Prints key=value figures:
//   echo_unary_c{1,16,64}_{qps,p50_ms,p99_ms}, echo_stream_msgs_per_s,
//   echo_open_{rate}_{p50_ms,p99_ms} for each --rates entry.
//
//   echo_load --target=127.0.0.1:PORT --seconds=3 --rates=500,1000,2000
//             [--scenarios=unary,stream,open]   (a subset)
//             [--concurrency=1,16,64]           (the unary levels)
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "bench/echo/echo.grpc.pb.h"
#include "bench/lib/load.h"
#include "grpcpp/grpcpp.h"

using omnicx::bench::LoadResult;

int main(int argc, char** argv) {
  std::string target;
  double seconds = 3;
  std::vector<std::string> rates;
  std::vector<std::string> scenarios = {"unary", "stream", "open"};
  std::vector<int> levels = {1, 16, 64};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (absl::StartsWith(a, "--target=")) target = a.substr(9);
    if (absl::StartsWith(a, "--seconds="))
      (void)absl::SimpleAtod(a.substr(10), &seconds);
    if (absl::StartsWith(a, "--rates=")) {
      rates = absl::StrSplit(a.substr(8), ',', absl::SkipEmpty());
    }
    if (absl::StartsWith(a, "--scenarios=")) {
      scenarios = absl::StrSplit(a.substr(12), ',', absl::SkipEmpty());
    }
    if (absl::StartsWith(a, "--concurrency=")) {
      levels.clear();
      for (absl::string_view level :
           absl::StrSplit(a.substr(14), ',', absl::SkipEmpty())) {
        int n = 0;
        if (absl::SimpleAtoi(level, &n) && n > 0) levels.push_back(n);
      }
    }
  }
  auto runs = [&](const char* scenario) {
    return std::find(scenarios.begin(), scenarios.end(), scenario) !=
           scenarios.end();
  };
  const absl::Duration duration = absl::Seconds(seconds);
  // Separate channels per worker group, as independent clients would have.
  std::vector<std::unique_ptr<omnicx::bench::EchoService::Stub>> stubs;
  for (int i = 0; i < 4; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("channel_id", i);  // distinct subchannels
    stubs.push_back(
        omnicx::bench::EchoService::NewStub(grpc::CreateCustomChannel(
            target, grpc::InsecureChannelCredentials(), args)));
  }
  const std::string payload(200, 'p');  // about one touchpoint event

  for (int concurrency : levels) {
    if (!runs("unary")) break;
    LoadResult r = omnicx::bench::RunClosedLoop(
        concurrency, duration, 50'000'000, [&](int worker) {
          omnicx::bench::EchoRequest request;
          request.set_payload(payload);
          omnicx::bench::EchoResponse response;
          grpc::ClientContext context;
          return stubs[worker % stubs.size()]
              ->Echo(&context, request, &response)
              .ok();
        });
    std::printf(
        "echo_unary_c%d_qps=%.1f\necho_unary_c%d_p50_ms=%.3f\necho_unary_c%d_"
        "p99_ms=%.3f\n",
        concurrency, r.qps(), concurrency, r.p50_ms(), concurrency, r.p99_ms());
  }

  // Client streaming: 4 streams, one per channel, writing back to back.
  if (runs("stream")) {
    std::vector<int64_t> counts(4);
    const absl::Time start = absl::Now();
    std::vector<std::thread> threads;
    for (int s = 0; s < 4; ++s) {
      threads.emplace_back([&, s] {
        grpc::ClientContext context;
        omnicx::bench::EchoSummary summary;
        auto writer = stubs[s]->EchoStream(&context, &summary);
        omnicx::bench::EchoRequest request;
        request.set_payload(payload);
        const absl::Time end = start + duration;
        int64_t n = 0;
        while (absl::Now() < end && n < 100'000'000) {
          for (int k = 0; k < 100; ++k) {
            if (!writer->Write(request)) break;
            ++n;
          }
        }
        writer->WritesDone();
        if (writer->Finish().ok()) counts[s] = summary.count();
      });
    }
    for (auto& t : threads) t.join();
    int64_t total = 0;
    for (int64_t c : counts) total += c;
    std::printf("echo_stream_msgs_per_s=%.1f\n",
                total / absl::ToDoubleSeconds(absl::Now() - start));
  }

  for (const std::string& rate_text : rates) {
    if (!runs("open")) break;
    double rate = 0;
    if (!absl::SimpleAtod(rate_text, &rate) || rate <= 0) continue;
    struct Call {
      grpc::ClientContext context;
      omnicx::bench::EchoRequest request;
      omnicx::bench::EchoResponse response;
    };
    LoadResult r = omnicx::bench::RunOpenLoop(
        rate, duration, 10'000'000, [&](std::function<void(bool)> done) {
          auto call = std::make_shared<Call>();
          call->request.set_payload(payload);
          stubs[0]->async()->Echo(
              &call->context, &call->request, &call->response,
              [call, done](grpc::Status s) { done(s.ok()); });
        });
    std::printf("echo_open_%s_p50_ms=%.3f\necho_open_%s_p99_ms=%.3f\n",
                rate_text.c_str(), r.p50_ms(), rate_text.c_str(), r.p99_ms());
  }
  return 0;
}
