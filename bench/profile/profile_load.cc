// Load client for the profile benchmark.
//
//   profile_load --mode=load --target=INGESTION --key_file=app.key
//       --customers=100000 --events=1
//       --first=0   sends events for customers first..first+customers-1
//       (phone +1555<7 digits>), prints load_events and load_events_per_s
//   profile_load --mode=context --target=PROFILE --key_file=agent.key
//       --customers=100000 --rates=500,1000,2000 --seconds=5
//       GetCustomerContext (with
//       recommendations) by phone at fixed offered loads; prints
//       context_open_<rate>_{p50_ms,p99_ms,errors}
#include <atomic>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/lib/load.h"
#include "grpcpp/grpcpp.h"
#include "libs/auth/authenticator.h"
#include "omnicx/v1/ingestion.grpc.pb.h"
#include "omnicx/v1/profile.grpc.pb.h"

namespace {

std::string Phone(int64_t customer) {
  return absl::StrFormat("+1555%07d", customer);
}

const char* const kTypes[] = {"page_view", "product_view",    "add_to_cart",
                              "purchase",  "support_contact", "email_open"};
const omnicx::v1::Channel kChannels[] = {
    omnicx::v1::CHANNEL_WEB,   omnicx::v1::CHANNEL_MOBILE_APP,
    omnicx::v1::CHANNEL_EMAIL, omnicx::v1::CHANNEL_VOICE,
    omnicx::v1::CHANNEL_CHAT,  omnicx::v1::CHANNEL_STORE};

using omnicx::auth::ServiceCredential;

int Load(const std::string& target, const ServiceCredential& key, int64_t first,
         int64_t customers, int events) {
  auto stub = omnicx::v1::IngestionService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  const std::string run = absl::StrCat("r", absl::ToUnixMicros(absl::Now()));
  std::atomic<int64_t> next{0}, accepted{0};
  const int64_t total = customers * events;
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (;;) {
        const int64_t from = next.fetch_add(200);
        if (from >= total) return;
        omnicx::v1::TrackBatchRequest request;
        for (int64_t n = from; n < std::min(total, from + 200); ++n) {
          const int64_t customer = first + n % customers;
          const int64_t k = n / customers;
          auto* e = request.add_interactions();
          e->set_event_id(absl::StrCat(run, "-", n));
          e->mutable_customer()->mutable_identity()->set_type("phone");
          e->mutable_customer()->mutable_identity()->set_value(Phone(customer));
          e->set_channel(kChannels[(customer + k) % 6]);
          e->set_type(kTypes[(customer + k) % 6]);
          e->set_touchpoint("checkout");
          e->mutable_occurred_at()->set_seconds(now - 3600 + k * 60);
          if (k == 0) {
            auto* email = e->add_identities();
            email->set_type("email");
            email->set_value(absl::StrCat("c", customer, "@example.com"));
          }
        }
        for (int attempt = 0; attempt < 50; ++attempt) {
          omnicx::v1::TrackBatchResponse response;
          grpc::ClientContext context;
          key.Attach(&context);
          grpc::Status s = stub->TrackBatch(&context, request, &response);
          if (s.ok()) {
            for (const auto& r : response.results()) {
              accepted += r.status() == omnicx::v1::EVENT_STATUS_ACCEPTED;
            }
            break;
          }
          // Back-pressure or a hiccup: wait and resend (deduplicated).
          absl::SleepFor(absl::Milliseconds(200));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf("load_events=%lld\nload_events_per_s=%.1f\n",
              static_cast<long long>(accepted.load()), accepted.load() / secs);
  return 0;
}

int Context(const std::string& target, const ServiceCredential& key,
            int64_t customers, const std::vector<std::string>& rates,
            double seconds) {
  auto stub = omnicx::v1::ProfileService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  auto phone_request = [customers](std::mt19937_64& rng,
                                   omnicx::v1::GetCustomerContextRequest* r) {
    auto* id = r->mutable_customer()->mutable_identity();
    id->set_type("phone");
    id->set_value(Phone(static_cast<int64_t>(rng() % customers)));
    r->set_include_recommendations(true);
  };
  // Warm-up, as recommendation_load does: the services' connections to each
  // other and their first calls are not part of any rate's figures.
  {
    std::mt19937_64 warm(7);
    for (int i = 0; i < 200; ++i) {
      omnicx::v1::GetCustomerContextRequest request;
      phone_request(warm, &request);
      omnicx::v1::CustomerContext response;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::seconds(2));
      key.Attach(&context);
      (void)stub->GetCustomerContext(&context, request, &response);
    }
  }
  std::mt19937_64 rng(42);
  for (const std::string& rate_text : rates) {
    double rate = 0;
    if (!absl::SimpleAtod(rate_text, &rate)) continue;
    struct Call {
      grpc::ClientContext context;
      omnicx::v1::GetCustomerContextRequest request;
      omnicx::v1::CustomerContext response;
    };
    omnicx::bench::LoadResult r = omnicx::bench::RunOpenLoop(
        rate, absl::Seconds(seconds), 1'000'000,
        [&](std::function<void(bool)> done) {
          auto call = std::make_shared<Call>();
          phone_request(rng, &call->request);
          call->context.set_deadline(std::chrono::system_clock::now() +
                                     std::chrono::seconds(2));
          key.Attach(&call->context);
          stub->async()->GetCustomerContext(
              &call->context, &call->request, &call->response,
              [call, done](grpc::Status s) { done(s.ok()); });
        });
    std::printf(
        "context_open_%s_p50_ms=%.3f\ncontext_open_%s_p99_ms=%.3f\n"
        "context_open_%s_errors=%lld\n",
        rate_text.c_str(), r.p50_ms(), rate_text.c_str(), r.p99_ms(),
        rate_text.c_str(), static_cast<long long>(r.errors));
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode, target, key_file;
  int64_t customers = 100000, first = 0;
  int events = 1;
  double seconds = 5;
  std::vector<std::string> rates = {"500", "1000", "2000"};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (absl::StartsWith(a, "--mode=")) mode = a.substr(7);
    if (absl::StartsWith(a, "--target=")) target = a.substr(9);
    if (absl::StartsWith(a, "--key_file=")) key_file = a.substr(11);
    if (absl::StartsWith(a, "--customers="))
      (void)absl::SimpleAtoi(a.substr(12), &customers);
    if (absl::StartsWith(a, "--first="))
      (void)absl::SimpleAtoi(a.substr(8), &first);
    if (absl::StartsWith(a, "--events="))
      (void)absl::SimpleAtoi(a.substr(9), &events);
    if (absl::StartsWith(a, "--seconds="))
      (void)absl::SimpleAtod(a.substr(10), &seconds);
    if (absl::StartsWith(a, "--rates="))
      rates = absl::StrSplit(a.substr(8), ',');
  }
  if (mode != "load" && mode != "context") {
    std::fprintf(stderr,
                 "usage: profile_load --mode=load|context --target=HOST:PORT "
                 "--key_file=F ...\n");
    return 2;
  }
  const absl::StatusOr<ServiceCredential> key =
      ServiceCredential::FromKeyFile(key_file);
  if (!key.ok()) {
    std::fprintf(stderr, "profile_load: %s\n",
                 std::string(key.status().message()).c_str());
    return 2;
  }
  if (mode == "load") return Load(target, *key, first, customers, events);
  return Context(target, *key, customers, rates, seconds);
}
