// Load client for the recommendation benchmark.
//
//   recommendation_load --mode=catalog --actions=200 > catalog.yaml
//       a valid 200-action catalog over all kinds (seeded, reproducible)
//   recommendation_load --mode=decide --target=RECO --key_file=service.key
//       --customers=100000 --concurrency=16 --seconds=5 --rates=1000
//       Recommend for uniformly random customers: closed loop at the given
//       concurrency, then open loop at each rate; prints
//       reco_c<C>_{qps,p50_ms,p99_ms,errors,fallbacks} and
//       reco_open_<rate>_{p50_ms,p99_ms,errors,fallbacks}; with --hot=H
//       also a closed loop over customers c0..cH-1:
//       reco_hot_c<C>_{qps,...}
#include <atomic>
#include <cstdio>
#include <random>
#include <string>
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
#include "omnicx/v1/recommendation.grpc.pb.h"

namespace {

int Catalog(int actions) {
  static const char* const kKinds[] = {
      "ACTION_KIND_SERVICE_RECOVERY",   "ACTION_KIND_RETENTION_OFFER",
      "ACTION_KIND_CROSS_SELL",         "ACTION_KIND_EDUCATION",
      "ACTION_KIND_PROACTIVE_OUTREACH", "ACTION_KIND_SURVEY",
      "ACTION_KIND_HUMAN_CALLBACK"};
  static const char* const kChannels[] = {"CHANNEL_WEB",  "CHANNEL_EMAIL",
                                          "CHANNEL_SMS",  "CHANNEL_VOICE",
                                          "CHANNEL_CHAT", "CHANNEL_MOBILE_APP"};
  static const char* const kStages[] = {"STAGE_CONSIDERATION", "STAGE_PURCHASE",
                                        "STAGE_ONBOARDING",    "STAGE_ENGAGED",
                                        "STAGE_LOYAL",         "STAGE_AT_RISK"};
  std::mt19937_64 rng(200);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  std::printf("actions:\n");
  for (int i = 0; i < actions; ++i) {
    const int kind = i % 7;
    std::printf("  - action_id: a%03d_%d\n    kind: %s\n", i, kind,
                kKinds[kind]);
    std::printf("    name: Action %d\n", i);
    std::printf("    channels: [%s, %s, %s]\n", kChannels[pick(2)],
                kChannels[2 + pick(2)], kChannels[4 + pick(2)]);
    std::printf("    eligibility: {");
    std::string sep;
    if (pick(2)) {
      std::printf("stages: [%s, %s, %s]", kStages[pick(2)],
                  kStages[2 + pick(2)], kStages[4 + pick(2)]);
      sep = ", ";
    }
    if (pick(3) == 0) {
      std::printf("%smin_health: %d", sep.c_str(), pick(60));
      sep = ", ";
    }
    if (pick(4) == 0) {
      std::printf("%smax_churn_risk: 0.%d", sep.c_str(), 3 + pick(6));
      sep = ", ";
    }
    if (kind == 0 || kind == 6 || pick(6) == 0) {
      std::printf("%shas_open_case: %s", sep.c_str(),
                  kind == 0 ? "true" : (pick(2) ? "true" : "false"));
    }
    std::printf("}\n");
    const bool sales = kind == 1 || kind == 2;
    if (sales || pick(5) == 0) {
      std::printf("    required_consent: %s\n",
                  pick(4) == 0 ? "research" : "marketing");
    } else if (kind == 3 && i % 20 == 3) {
      std::printf("    fallback: true\n");
    }
    if (kind == 0 && pick(2)) std::printf("    agent_led: true\n");
    std::printf("    value: %d\n    lever: %.1f\n", 5 + pick(200),
                0.5 + pick(11) / 10.0);
    std::printf("    prior_accept_rate: %.2f\n", 0.02 + pick(40) / 100.0);
    std::printf("    talking_points: \"Talking points for action %d.\"\n", i);
    std::printf(
        "    policy: {max_per_window: %d, window_seconds: %d, "
        "cooldown_seconds: %d}\n",
        1 + pick(5), 86400 * (1 + pick(30)), pick(2) ? 86400 * pick(14) : 0);
  }
  return 0;
}

struct Counts {
  std::atomic<int64_t> fallbacks{0};
};

int Decide(const std::string& target,
           const omnicx::auth::ServiceCredential& key, int64_t customers,
           int concurrency, const std::vector<std::string>& rates,
           double seconds, int64_t hot) {
  // Several channels, as a real client pool would have.
  std::vector<std::unique_ptr<omnicx::v1::RecommendationService::Stub>> stubs;
  for (int i = 0; i < 4; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.channel_id", i);  // distinct connections
    stubs.push_back(
        omnicx::v1::RecommendationService::NewStub(grpc::CreateCustomChannel(
            target, grpc::InsecureChannelCredentials(), args)));
  }
  static const omnicx::v1::Channel kChannels[] = {
      omnicx::v1::CHANNEL_WEB, omnicx::v1::CHANNEL_EMAIL,
      omnicx::v1::CHANNEL_VOICE, omnicx::v1::CHANNEL_CHAT};
  int64_t population = customers;
  auto fill = [&population](std::mt19937_64& rng,
                            omnicx::v1::RecommendRequest* request) {
    request->mutable_customer()->set_customer_id(
        absl::StrCat("c", static_cast<int64_t>(rng() % population)));
    request->set_channel(kChannels[rng() % 4]);
    request->set_max_actions(3);
  };
  // Warm-up: connections, the service's catalog and statistics.
  {
    std::mt19937_64 rng(1);
    for (int i = 0; i < 200; ++i) {
      omnicx::v1::RecommendRequest request;
      fill(rng, &request);
      omnicx::v1::RecommendResponse response;
      grpc::ClientContext context;
      key.Attach(&context);
      (void)stubs[i % 4]->Recommend(&context, request, &response);
    }
  }
  auto closed = [&](const std::string& name) {
    Counts counts;
    std::vector<std::mt19937_64> rngs;
    for (int w = 0; w < concurrency; ++w) rngs.emplace_back(100 + w);
    omnicx::bench::LoadResult r = omnicx::bench::RunClosedLoop(
        concurrency, absl::Seconds(seconds), 10'000'000, [&](int worker) {
          omnicx::v1::RecommendRequest request;
          fill(rngs[worker], &request);
          omnicx::v1::RecommendResponse response;
          grpc::ClientContext context;
          context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(2));
          key.Attach(&context);
          grpc::Status s = stubs[worker % stubs.size()]->Recommend(
              &context, request, &response);
          if (s.ok() && response.fallback()) counts.fallbacks++;
          return s.ok();
        });
    std::printf(
        "%s_qps=%.1f\n%s_p50_ms=%.3f\n%s_p99_ms=%.3f\n%s_errors=%lld\n"
        "%s_fallbacks=%lld\n",
        name.c_str(), r.qps(), name.c_str(), r.p50_ms(), name.c_str(),
        r.p99_ms(), name.c_str(), static_cast<long long>(r.errors),
        name.c_str(), static_cast<long long>(counts.fallbacks.load()));
    std::fflush(stdout);
  };
  closed(absl::StrCat("reco_c", concurrency));
  std::mt19937_64 rng(42);
  for (const std::string& rate_text : rates) {
    population = customers;
    double rate = 0;
    if (!absl::SimpleAtod(rate_text, &rate)) continue;
    struct Call {
      grpc::ClientContext context;
      omnicx::v1::RecommendRequest request;
      omnicx::v1::RecommendResponse response;
    };
    Counts counts;
    int64_t issued = 0;
    omnicx::bench::LoadResult r = omnicx::bench::RunOpenLoop(
        rate, absl::Seconds(seconds), 1'000'000,
        [&](std::function<void(bool)> done) {
          auto call = std::make_shared<Call>();
          fill(rng, &call->request);
          call->context.set_deadline(std::chrono::system_clock::now() +
                                     std::chrono::seconds(2));
          key.Attach(&call->context);
          stubs[issued++ % stubs.size()]->async()->Recommend(
              &call->context, &call->request, &call->response,
              [call, done, &counts](grpc::Status s) {
                if (s.ok() && call->response.fallback()) counts.fallbacks++;
                done(s.ok());
              });
        });
    std::printf(
        "reco_open_%s_p50_ms=%.3f\nreco_open_%s_p99_ms=%.3f\n"
        "reco_open_%s_errors=%lld\nreco_open_%s_fallbacks=%lld\n",
        rate_text.c_str(), r.p50_ms(), rate_text.c_str(), r.p99_ms(),
        rate_text.c_str(), static_cast<long long>(r.errors), rate_text.c_str(),
        static_cast<long long>(counts.fallbacks.load()));
    std::fflush(stdout);
  }
  if (hot > 0) {
    // A hot set whose profile and journey stay in the service's 1 s cache:
    // the decision path without the two outgoing calls.
    population = hot;
    closed(absl::StrCat("reco_hot_c", concurrency));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode, target, key_file;
  int64_t customers = 100000, hot = 0;
  int concurrency = 16, actions = 200;
  double seconds = 5;
  std::vector<std::string> rates = {"1000"};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&a](absl::string_view flag) -> std::string {
      return absl::StartsWith(a, flag) ? a.substr(flag.size()) : "";
    };
    if (absl::StartsWith(a, "--mode=")) mode = value("--mode=");
    if (absl::StartsWith(a, "--target=")) target = value("--target=");
    if (absl::StartsWith(a, "--key_file=")) key_file = value("--key_file=");
    if (absl::StartsWith(a, "--customers="))
      (void)absl::SimpleAtoi(value("--customers="), &customers);
    if (absl::StartsWith(a, "--hot="))
      (void)absl::SimpleAtoi(value("--hot="), &hot);
    if (absl::StartsWith(a, "--concurrency="))
      (void)absl::SimpleAtoi(value("--concurrency="), &concurrency);
    if (absl::StartsWith(a, "--actions="))
      (void)absl::SimpleAtoi(value("--actions="), &actions);
    if (absl::StartsWith(a, "--seconds="))
      (void)absl::SimpleAtod(value("--seconds="), &seconds);
    if (absl::StartsWith(a, "--rates="))
      rates = absl::StrSplit(value("--rates="), ',');
  }
  if (mode == "catalog") return Catalog(actions);
  if (mode == "decide") {
    const absl::StatusOr<omnicx::auth::ServiceCredential> key =
        omnicx::auth::ServiceCredential::FromKeyFile(key_file);
    if (!key.ok()) {
      std::fprintf(stderr, "recommendation_load: %s\n",
                   std::string(key.status().message()).c_str());
      return 2;
    }
    return Decide(target, *key, customers, concurrency, rates, seconds, hot);
  }
  std::fprintf(stderr,
               "usage: recommendation_load --mode=catalog|decide ...\n");
  return 2;
}
