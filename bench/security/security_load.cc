// Load client for the security benchmark (bench/security.sh): what API keys
// and mTLS add to the CPU of a call.
//
//   security_load --mode=seed --target=INGESTION --key_file=KEYS/app.key
//       --customers=10000 --events=5 [TLS flags]
//       TrackBatch for customers 0..N-1 (phone +1556<7 digits>), E events
//       each; prints seed_events
//   security_load --mode=call --call=recommend|context --target=ADDR
//       --key_file=KEYS/service.key --customers=10000 --rate=500 --seconds=10
//       --pids=redis:PID,profile:PID,... [--warmup=300] [--start_at_ms=T]
//       [--rng_seed=42] [TLS flags]
//       Recommend (or GetCustomerContext with recommendations) for random
//       seeded customers on one reused channel, `authorization: Bearer` on
//       every call: --warmup calls in sequence, then (at unix time T ms, so
//       that two of these run their loops side by side) the open loop at
//       --rate, with the CPU of --pids read from /proc around the open loop
//       only; prints <call>_{issued,ok,errors,degraded,p50_ms,p99_ms,
//       late_ms,shed,failed_p99_ms,client_cpu_s,cpu_s_<name>} (shed:
//       refused for overload, counted in errors; p99s: answered calls,
//       failed calls; client: this process); with --concurrency=C (and no
//       --rate) the loop is closed instead: C callers back to back for
//       --seconds (bench/cost.sh's Recommend at concurrency 16), same figures
//   security_load --mode=authorize --keys_file=KEYS/api-keys.yaml
//       --keys_dir=KEYS --checks=service=/omnicx.v1.RecommendationService/
//       Recommend,... [--calls=200000]
//       Authenticator::Authorize in a loop, built from the services' own
//       settings (LoadConfig + AuthOptions: the same keys file and rate
//       limit) for each NAME=METHOD (the key in KEYS/NAME.key); prints
//       authorize_<NAME>_<Method>_us, thread CPU per call (median of 3)
//
//   security_load --mode=echo --target=ECHO_SERVER --header=with|without
//       --key_file=KEYS/service.key --rate=1000 --seconds=10
//       --pids=echo:PID [--start_at_ms=T]
//       bare gRPC echo (bench/echo), with or without the same
//       `authorization: Bearer` header: what carrying the header costs a
//       hop, beside Authorize; prints echo_{ok,errors,late_ms,cpu_s_<name>,
//       cpu_s_client} (client = this process)
//
// TLS flags: --tls_ca_file=F --tls_cert_file=F --tls_key_file=F (mTLS, as
// omnicx-health takes them); without them, plaintext.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "bench/echo/echo.grpc.pb.h"
#include "bench/lib/load.h"
#include "bench/lib/proc_cpu.h"
#include "grpcpp/grpcpp.h"
#include "libs/auth/authenticator.h"
#include "libs/config/config.h"
#include "libs/server/service_main.h"
#include "libs/server/tls.h"
#include "omnicx/v1/ingestion.grpc.pb.h"
#include "omnicx/v1/profile.grpc.pb.h"
#include "omnicx/v1/recommendation.grpc.pb.h"

namespace {

struct Flags {
  std::string mode, call, target, key_file, keys_file, keys_dir, checks, pids;
  bool header = true;
  int64_t customers = 10000, calls = 200000, warmup = 300, start_at_ms = 0;
  int concurrency = 0;
  uint64_t rng_seed = 42;
  int events = 5;
  double rate = 500, seconds = 10;
  omnicx::config::v1::TlsConfig tls;
};

std::string Phone(int64_t customer) {
  return absl::StrFormat("+1556%07d", customer);
}

// The plaintext key in `path`, read as every secret file is
// (config::ReadSecretFile); a missing key ends the run.
std::string ReadKey(const std::string& path) {
  absl::StatusOr<std::string> key =
      omnicx::config::ReadSecretFile("--key_file", path);
  if (!key.ok()) {
    std::cerr << key.status().message() << "\n";
    std::exit(2);
  }
  return std::string(absl::StripAsciiWhitespace(*key));
}

std::shared_ptr<grpc::Channel> Dial(const Flags& f) {
  // The tools' and the services' own way of dialling (libs/server/tls.h).
  return omnicx::server::DialService(f.target, f.tls);
}

const char* const kTypes[] = {"page_view", "product_view",    "add_to_cart",
                              "purchase",  "support_contact", "email_open"};
const omnicx::v1::Channel kChannels[] = {
    omnicx::v1::CHANNEL_WEB,   omnicx::v1::CHANNEL_MOBILE_APP,
    omnicx::v1::CHANNEL_EMAIL, omnicx::v1::CHANNEL_VOICE,
    omnicx::v1::CHANNEL_CHAT,  omnicx::v1::CHANNEL_STORE};

int Seed(const Flags& f) {
  auto stub = omnicx::v1::IngestionService::NewStub(Dial(f));
  const std::string bearer = absl::StrCat("Bearer ", ReadKey(f.key_file));
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  const std::string run = absl::StrCat("s", absl::ToUnixMicros(absl::Now()));
  const int64_t total = f.customers * f.events;
  std::atomic<int64_t> next{0}, accepted{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      for (;;) {
        const int64_t from = next.fetch_add(200);
        if (from >= total || failed) return;
        omnicx::v1::TrackBatchRequest request;
        for (int64_t n = from; n < std::min(total, from + 200); ++n) {
          const int64_t customer = n % f.customers;
          const int64_t k = n / f.customers;
          auto* e = request.add_interactions();
          e->set_event_id(absl::StrCat(run, "-", n));
          e->mutable_customer()->mutable_identity()->set_type("phone");
          e->mutable_customer()->mutable_identity()->set_value(Phone(customer));
          e->set_channel(kChannels[(customer + k) % 6]);
          e->set_type(kTypes[(customer + k) % 6]);
          e->set_touchpoint(k % 4 == 3 ? "delivery" : "checkout");
          e->mutable_occurred_at()->set_seconds(now - 86400 + k * 600);
        }
        grpc::Status s;
        for (int attempt = 0; attempt < 50; ++attempt) {
          omnicx::v1::TrackBatchResponse response;
          grpc::ClientContext context;
          context.AddMetadata("authorization", bearer);
          context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(10));
          s = stub->TrackBatch(&context, request, &response);
          if (s.ok()) {
            for (const auto& r : response.results()) {
              accepted += r.status() == omnicx::v1::EVENT_STATUS_ACCEPTED;
            }
            break;
          }
          // Back-pressure or a hiccup: wait and resend (deduplicated).
          absl::SleepFor(absl::Milliseconds(200));
        }
        if (!s.ok()) {
          std::fprintf(stderr, "seed: TrackBatch failed: %d %s\n",
                       s.error_code(), s.error_message().c_str());
          failed = true;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::printf("seed_events=%lld\n", static_cast<long long>(accepted.load()));
  return failed ? 1 : 0;
}

// name:pid pairs whose CPU is charged to the calls.
std::vector<std::pair<std::string, int>> ParsePids(const std::string& text) {
  std::vector<std::pair<std::string, int>> out;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, ':');
    int pid = 0;
    if (absl::SimpleAtoi(kv.second, &pid)) out.emplace_back(kv.first, pid);
  }
  return out;
}

std::vector<double> CpuOf(
    const std::vector<std::pair<std::string, int>>& pids) {
  std::vector<double> out;
  for (const auto& [name, pid] : pids) {
    absl::StatusOr<double> s = omnicx::bench::ProcessCpuSeconds(pid);
    if (!s.ok()) {
      std::fprintf(stderr, "%s (pid %d): %s\n", name.c_str(), pid,
                   std::string(s.status().message()).c_str());
      std::exit(1);
    }
    out.push_back(*s);
  }
  return out;
}

// Sleeps until --start_at_ms (at most 60 s); how late it already was.
double WaitForStart(const Flags& f) {
  if (f.start_at_ms == 0) return 0;
  const absl::Time start_at = absl::FromUnixMillis(f.start_at_ms);
  const double late_ms = absl::ToDoubleMilliseconds(absl::Now() - start_at);
  absl::SleepFor(std::min(start_at - absl::Now(), absl::Seconds(60)));
  return std::max(0.0, late_ms);
}

// One call type: how to fill a request and issue it asynchronously.
template <typename Request, typename Response>
struct Call {
  grpc::ClientContext context;
  Request request;
  Response response;
};

int Run(const Flags& f) {
  auto channel = Dial(f);
  auto reco = omnicx::v1::RecommendationService::NewStub(channel);
  auto profile = omnicx::v1::ProfileService::NewStub(channel);
  const bool context_call = f.call == "context";
  const std::string bearer = absl::StrCat("Bearer ", ReadKey(f.key_file));
  const auto pids = ParsePids(f.pids);
  std::mt19937_64 rng(f.rng_seed);
  absl::Mutex rng_mu;  // closed-loop callers pick customers concurrently

  using RecoCall =
      Call<omnicx::v1::RecommendRequest, omnicx::v1::RecommendResponse>;
  using ContextCall =
      Call<omnicx::v1::GetCustomerContextRequest, omnicx::v1::CustomerContext>;
  std::atomic<int64_t> degraded{0};
  // Calls refused for overload: RESOURCE_EXHAUSTED or UNAVAILABLE, and
  // Recommend's fallback answered because its queue was full (its decision
  // section says RESOURCE_EXHAUSTED). They count as failed.
  std::atomic<int64_t> shed{0};
  absl::Mutex first_error_mu;
  std::string first_error;
  auto note = [&](const grpc::Status& s, bool partial) {
    if (partial) degraded++;
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
        s.error_code() == grpc::StatusCode::UNAVAILABLE) {
      shed++;
    }
    if (!s.ok()) {
      absl::MutexLock lock(&first_error_mu);
      if (first_error.empty()) {
        first_error = absl::StrCat(s.error_code(), " ", s.error_message());
      }
    }
  };
  auto partial_sections = [](const auto& sections) {
    for (const auto& s : sections) {
      if (s.code() != 0) return true;
    }
    return false;
  };
  // Starts one call; `done(ok)` when it completes.
  auto issue = [&](std::function<void(bool)> done) {
    int64_t customer;
    {
      absl::MutexLock lock(&rng_mu);
      customer = static_cast<int64_t>(rng() % f.customers);
    }
    const std::string phone = Phone(customer);
    if (context_call) {
      auto call = std::make_shared<ContextCall>();
      auto* id = call->request.mutable_customer()->mutable_identity();
      id->set_type("phone");
      id->set_value(phone);
      call->request.set_channel(omnicx::v1::CHANNEL_VOICE);
      call->request.set_include_recommendations(true);
      call->context.AddMetadata("authorization", bearer);
      call->context.set_deadline(std::chrono::system_clock::now() +
                                 std::chrono::seconds(2));
      profile->async()->GetCustomerContext(
          &call->context, &call->request, &call->response,
          [call, done, &note, &partial_sections](grpc::Status s) {
            note(s, s.ok() && partial_sections(call->response.sections()));
            done(s.ok());
          });
    } else {
      auto call = std::make_shared<RecoCall>();
      auto* id = call->request.mutable_customer()->mutable_identity();
      id->set_type("phone");
      id->set_value(phone);
      call->request.set_channel(omnicx::v1::CHANNEL_VOICE);
      call->request.set_intent("inbound_call");
      call->request.set_max_actions(3);
      call->context.AddMetadata("authorization", bearer);
      call->context.set_deadline(std::chrono::system_clock::now() +
                                 std::chrono::seconds(2));
      reco->async()->Recommend(
          &call->context, &call->request, &call->response,
          [call, done, &note, &partial_sections, &shed](grpc::Status s) {
            bool refused = false;
            for (const auto& section : call->response.sections()) {
              refused |= section.section() == "decision" &&
                         section.code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
            }
            if (refused) shed++;
            note(s, s.ok() && !refused &&
                        (call->response.fallback() ||
                         partial_sections(call->response.sections())));
            done(s.ok() && !refused);
          });
    }
  };

  // Warm-up in sequence: connections (and TLS handshakes) between the
  // services and their first calls are not part of the figures.
  for (int64_t i = 0; i < f.warmup; ++i) {
    absl::Notification finished;
    issue([&finished](bool) { finished.Notify(); });
    finished.WaitForNotificationWithTimeout(absl::Seconds(3));
  }
  degraded = 0;
  shed = 0;
  const double late_ms = WaitForStart(f);
  const std::vector<double> before = CpuOf(pids);
  const double client_before = CpuOf({{"client", getpid()}})[0];
  omnicx::bench::LoadResult r =
      f.concurrency > 0
          ? omnicx::bench::RunClosedLoop(f.concurrency,
                                         absl::Seconds(f.seconds), 1'000'000,
                                         [&issue](int) {
                                           absl::Notification finished;
                                           bool ok = false;
                                           issue([&](bool o) {
                                             ok = o;
                                             finished.Notify();
                                           });
                                           finished.WaitForNotification();
                                           return ok;
                                         })
          : omnicx::bench::RunOpenLoop(f.rate, absl::Seconds(f.seconds),
                                       1'000'000, issue);
  const std::vector<double> after = CpuOf(pids);
  const double client_cpu_s = CpuOf({{"client", getpid()}})[0] - client_before;

  const std::string& c = f.call;
  const int64_t calls = r.ok + r.errors;
  for (size_t i = 0; i < pids.size(); ++i) {
    std::printf("%s_cpu_s_%s=%.2f\n", c.c_str(), pids[i].first.c_str(),
                after[i] - before[i]);
  }
  std::printf(
      "%s_issued=%lld\n%s_ok=%lld\n%s_errors=%lld\n%s_degraded=%lld\n"
      "%s_qps=%.1f\n%s_p50_ms=%.3f\n%s_p99_ms=%.3f\n%s_late_ms=%.0f\n"
      "%s_shed=%lld\n%s_failed_p99_ms=%.3f\n%s_client_cpu_s=%.2f\n",
      c.c_str(), static_cast<long long>(calls + f.warmup), c.c_str(),
      static_cast<long long>(r.ok), c.c_str(), static_cast<long long>(r.errors),
      c.c_str(), static_cast<long long>(degraded.load()), c.c_str(), r.qps(),
      c.c_str(), r.p50_ms(), c.c_str(), r.p99_ms(), c.c_str(),
      std::max(0.0, late_ms), c.c_str(), static_cast<long long>(shed.load()),
      c.c_str(), r.failed_p99_ms(), c.c_str(), client_cpu_s);
  absl::MutexLock lock(&first_error_mu);
  if (!first_error.empty()) {
    std::fprintf(stderr, "%s: first failed call: %s\n", c.c_str(),
                 first_error.c_str());
  }
  return 0;
}

int Echo(const Flags& f) {
  auto stub = omnicx::bench::EchoService::NewStub(
      grpc::CreateChannel(f.target, grpc::InsecureChannelCredentials()));
  const std::string bearer = absl::StrCat("Bearer ", ReadKey(f.key_file));
  const std::string payload(100, 'x');
  std::vector<std::pair<std::string, int>> pids = ParsePids(f.pids);
  pids.emplace_back("client", getpid());
  struct EchoCall {
    grpc::ClientContext context;
    omnicx::bench::EchoRequest request;
    omnicx::bench::EchoResponse response;
  };
  auto issue = [&](std::function<void(bool)> done) {
    auto call = std::make_shared<EchoCall>();
    call->request.set_payload(payload);
    if (f.header) call->context.AddMetadata("authorization", bearer);
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(2));
    stub->async()->Echo(&call->context, &call->request, &call->response,
                        [call, done](grpc::Status s) { done(s.ok()); });
  };
  for (int64_t i = 0; i < f.warmup; ++i) {
    absl::Notification finished;
    issue([&finished](bool) { finished.Notify(); });
    finished.WaitForNotificationWithTimeout(absl::Seconds(3));
  }
  const double late_ms = WaitForStart(f);
  const std::vector<double> before = CpuOf(pids);
  omnicx::bench::LoadResult r = omnicx::bench::RunOpenLoop(
      f.rate, absl::Seconds(f.seconds), 1'000'000, issue);
  const std::vector<double> after = CpuOf(pids);
  for (size_t i = 0; i < pids.size(); ++i) {
    std::printf("echo_cpu_s_%s=%.2f\n", pids[i].first.c_str(),
                after[i] - before[i]);
  }
  std::printf("echo_ok=%lld\necho_errors=%lld\necho_late_ms=%.0f\n",
              static_cast<long long>(r.ok), static_cast<long long>(r.errors),
              late_ms);
  return 0;
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int Authorize(const Flags& f) {
  // As ServiceMain does: Debian's Abseil would otherwise update a lock-order
  // graph on every lock the authenticator takes.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // The services' own settings: defaults + the keys file, as ServiceMain
  // reads them (rate limit and burst included).
  const std::string keys_file = f.keys_file;
  absl::StatusOr<omnicx::config::Config> cfg = omnicx::config::LoadConfig(
      omnicx::config::Service::kRecommendation, {},
      [&keys_file](const char* name) -> const char* {
        return std::string(name) == "OMNICX_AUTH_API_KEYS_FILE"
                   ? keys_file.c_str()
                   : nullptr;
      });
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s\n", std::string(cfg.status().message()).c_str());
    return 1;
  }
  omnicx::auth::AuthenticatorOptions options =
      omnicx::server::AuthOptions(*cfg);
  // The real clock, moved on 1 ms per call: every credential stays within
  // its rate limit (as at the benchmark's 500 calls/s), the limiter still
  // does its whole work, and the keys file is checked every 5,000 calls.
  int64_t offset_ns = 0;
  options.clock = [&offset_ns] {
    return absl::Now() + absl::Nanoseconds(offset_ns);
  };
  absl::StatusOr<std::unique_ptr<omnicx::auth::Authenticator>> auth =
      omnicx::auth::Authenticator::Create(options);
  if (!auth.ok()) {
    std::fprintf(stderr, "%s\n", std::string(auth.status().message()).c_str());
    return 1;
  }
  for (absl::string_view check :
       absl::StrSplit(f.checks, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> nm = absl::StrSplit(check, '=');
    const std::string bearer = absl::StrCat(
        "Bearer ", ReadKey(absl::StrCat(f.keys_dir, "/", nm.first, ".key")));
    // Internal calls from the profile service name the agent they serve.
    const std::string on_behalf_of =
        absl::StartsWith(nm.first, "internal-profile") ? "dev-agent" : "";
    int64_t refused = 0;
    auto loop = [&](int64_t n) {
      for (int64_t i = 0; i < n; ++i) {
        offset_ns += 1'000'000;
        refused += !(*auth)->Authorize(bearer, on_behalf_of, nm.second).ok();
      }
    };
    loop(1000);
    std::vector<double> us;
    for (int rep = 0; rep < 3; ++rep) {
      const double t0 = ThreadCpuSeconds();
      loop(f.calls);
      us.push_back((ThreadCpuSeconds() - t0) * 1e6 / f.calls);
    }
    std::sort(us.begin(), us.end());
    if (refused > 0) {
      std::fprintf(stderr, "authorize %s: %lld calls refused\n",
                   std::string(check).c_str(), static_cast<long long>(refused));
      return 1;
    }
    const std::string method = nm.second.substr(nm.second.rfind('/') + 1);
    std::printf("authorize_%s_%s_us=%.3f\n", nm.first.c_str(), method.c_str(),
                us[1]);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const size_t eq = a.find('=');
    const std::string name = a.substr(0, eq);
    const std::string v = eq == std::string::npos ? "" : a.substr(eq + 1);
    bool ok = true;
    if (name == "--mode")
      f.mode = v;
    else if (name == "--call")
      f.call = v;
    else if (name == "--target")
      f.target = v;
    else if (name == "--key_file")
      f.key_file = v;
    else if (name == "--keys_file")
      f.keys_file = v;
    else if (name == "--keys_dir")
      f.keys_dir = v;
    else if (name == "--checks")
      f.checks = v;
    else if (name == "--pids")
      f.pids = v;
    else if (name == "--customers")
      ok = absl::SimpleAtoi(v, &f.customers);
    else if (name == "--events")
      ok = absl::SimpleAtoi(v, &f.events);
    else if (name == "--calls")
      ok = absl::SimpleAtoi(v, &f.calls);
    else if (name == "--concurrency")
      ok = absl::SimpleAtoi(v, &f.concurrency);
    else if (name == "--warmup")
      ok = absl::SimpleAtoi(v, &f.warmup);
    else if (name == "--start_at_ms")
      ok = absl::SimpleAtoi(v, &f.start_at_ms);
    else if (name == "--header")
      f.header = v != "without";
    else if (name == "--rng_seed")
      ok = absl::SimpleAtoi(v, &f.rng_seed);
    else if (name == "--rate")
      ok = absl::SimpleAtod(v, &f.rate);
    else if (name == "--seconds")
      ok = absl::SimpleAtod(v, &f.seconds);
    else if (name == "--tls_ca_file")
      f.tls.set_ca_file(v);
    else if (name == "--tls_cert_file")
      f.tls.set_cert_file(v);
    else if (name == "--tls_key_file")
      f.tls.set_key_file(v);
    else
      ok = false;
    if (!ok) {
      std::fprintf(stderr, "security_load: bad flag %s\n", a.c_str());
      return 2;
    }
  }
  // Bounded whatever the flags say.
  f.seconds = std::min(f.seconds, 60.0);
  f.calls = std::min<int64_t>(std::max<int64_t>(f.calls, 1), 5'000'000);
  f.warmup = std::min<int64_t>(f.warmup, 5000);
  f.customers = std::max<int64_t>(f.customers, 1);
  f.concurrency = std::clamp(f.concurrency, 0, 256);
  if (f.mode == "seed") return Seed(f);
  if (f.mode == "call" && (f.call == "recommend" || f.call == "context")) {
    return Run(f);
  }
  if (f.mode == "authorize") return Authorize(f);
  if (f.mode == "echo") return Echo(f);
  std::fprintf(stderr,
               "usage: security_load --mode=seed|call|authorize ... (see the "
               "header of bench/security/security_load.cc)\n");
  return 2;
}
