// Load client for the journey benchmark.
//
//   journey_load --mode=resolved --redis=127.0.0.1:PORT --customers=N
//       --events=E [--first=K] [--shards=16] [--seed=1]
//       appends E resolved events (as the profile service publishes them)
//       spread over customers bench-K..bench-(K+N-1) straight into the
//       resolved-event shards, pipelined; prints resolved_events and
//       resolved_events_per_s. Isolates the journey consumer's cost.
//   journey_load --mode=journey --target=JOURNEY --key_file=agent.key
//       --customers=N --rates=1000 --seconds=5
//       GetJourney by phone (+1555<7 digits>, the numbering of
//       profile_load --mode=load) at fixed offered loads; prints
//       journey_open_<rate>_{p50_ms,p99_ms,errors}.
#include <atomic>
#include <cstdio>
#include <memory>
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
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "libs/auth/authenticator.h"
#include "libs/events/sharding.h"
#include "libs/keys/key_builder.h"
#include "libs/redis/client.h"
#include "omnicx/v1/journey.grpc.pb.h"

namespace {

const char* const kTypes[] = {
    "page_view", "product_view", "add_to_cart",     "purchase",
    "delivery",  "complaint",    "support_contact", "survey_response"};
const omnicx::v1::Channel kChannels[] = {
    omnicx::v1::CHANNEL_WEB,   omnicx::v1::CHANNEL_MOBILE_APP,
    omnicx::v1::CHANNEL_EMAIL, omnicx::v1::CHANNEL_VOICE,
    omnicx::v1::CHANNEL_CHAT,  omnicx::v1::CHANNEL_STORE};

int Resolved(const std::string& redis_address, int64_t first, int64_t customers,
             int64_t events, int shards, uint64_t seed) {
  omnicx::redis::ClientOptions options;
  std::pair<std::string, std::string> hp = absl::StrSplit(redis_address, ':');
  options.host = hp.first;
  if (!absl::SimpleAtoi(hp.second, &options.port)) return 2;
  options.command_timeout = absl::Seconds(10);
  auto redis = omnicx::redis::Client::Create(options);
  const auto keys = *omnicx::keys::KeyBuilder::Create("default");
  std::mt19937_64 rng(seed);
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  const std::string run = absl::StrCat("r", absl::ToUnixMicros(absl::Now()));
  const absl::Time start = absl::Now();
  std::vector<omnicx::redis::Command> batch;
  int64_t sent = 0;
  for (int64_t n = 0; n < events; ++n) {
    const int64_t customer = first + n % customers;
    omnicx::v1::Interaction e;
    e.set_event_id(absl::StrCat(run, "-", n));
    const std::string cid = absl::StrCat("bench-", customer);
    e.set_resolved_customer_id(cid);
    e.mutable_customer()->set_customer_id(cid);
    const int type = static_cast<int>(rng() % 8);
    e.set_type(kTypes[type]);
    e.set_channel(kChannels[rng() % 6]);
    e.set_touchpoint(absl::StrCat("tp", rng() % 12));
    if (rng() % 5 == 0) e.set_outcome(omnicx::v1::OUTCOME_FAILURE);
    if (type == 5 || type == 6) {
      e.set_case_id(absl::StrCat("case-", rng() % 3));
    }
    if (type == 3) e.set_value(static_cast<double>(rng() % 500));
    if (type == 7) e.mutable_feedback()->set_nps(static_cast<int>(rng() % 11));
    *e.mutable_occurred_at() =
        google::protobuf::util::TimeUtil::MillisecondsToTimestamp(
            now_ms - static_cast<int64_t>(rng() % (90LL * 86400000)));
    omnicx::v1::CustomerRef ref;
    ref.set_customer_id(cid);
    batch.push_back({"XADD",
                     keys.ResolvedShard(omnicx::events::ShardFor(ref, shards)),
                     "*", "e", e.SerializeAsString()});
    if (batch.size() == 500 || n + 1 == events) {
      auto r = redis->Pipeline(batch);
      if (!r.ok()) {
        std::fprintf(stderr, "XADD failed: %s\n",
                     r.status().ToString().c_str());
        return 1;
      }
      sent += static_cast<int64_t>(batch.size());
      batch.clear();
    }
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf("resolved_events=%lld\nresolved_events_per_s=%.1f\n",
              static_cast<long long>(sent), secs > 0 ? sent / secs : 0.0);
  return 0;
}

int Journey(const std::string& target,
            const omnicx::auth::ServiceCredential& key, int64_t customers,
            const std::vector<std::string>& rates, double seconds) {
  auto stub = omnicx::v1::JourneyService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  std::mt19937_64 rng(42);
  for (const std::string& rate_text : rates) {
    double rate = 0;
    if (!absl::SimpleAtod(rate_text, &rate)) continue;
    struct Call {
      grpc::ClientContext context;
      omnicx::v1::GetJourneyRequest request;
      omnicx::v1::GetJourneyResponse response;
    };
    omnicx::bench::LoadResult r = omnicx::bench::RunOpenLoop(
        rate, absl::Seconds(seconds), 1'000'000,
        [&](std::function<void(bool)> done) {
          auto call = std::make_shared<Call>();
          auto* id = call->request.mutable_customer()->mutable_identity();
          id->set_type("phone");
          id->set_value(absl::StrFormat(
              "+1555%07d", static_cast<int64_t>(rng() % customers)));
          call->context.set_deadline(std::chrono::system_clock::now() +
                                     std::chrono::seconds(2));
          key.Attach(&call->context);
          stub->async()->GetJourney(
              &call->context, &call->request, &call->response,
              [call, done](grpc::Status s) { done(s.ok()); });
        });
    std::printf(
        "journey_open_%s_p50_ms=%.3f\njourney_open_%s_p99_ms=%.3f\n"
        "journey_open_%s_errors=%lld\n",
        rate_text.c_str(), r.p50_ms(), rate_text.c_str(), r.p99_ms(),
        rate_text.c_str(), static_cast<long long>(r.errors));
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode, target, key_file, redis = "127.0.0.1:6379";
  int64_t customers = 10000, first = 0, events = 100000;
  int shards = 16;
  uint64_t seed = 1;
  double seconds = 5;
  std::vector<std::string> rates = {"1000"};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](absl::string_view flag) { return a.substr(flag.size()); };
    if (absl::StartsWith(a, "--mode="))
      mode = value("--mode=");
    else if (absl::StartsWith(a, "--target="))
      target = value("--target=");
    else if (absl::StartsWith(a, "--key_file="))
      key_file = value("--key_file=");
    else if (absl::StartsWith(a, "--redis="))
      redis = value("--redis=");
    else if (absl::StartsWith(a, "--customers="))
      (void)absl::SimpleAtoi(value("--customers="), &customers);
    else if (absl::StartsWith(a, "--first="))
      (void)absl::SimpleAtoi(value("--first="), &first);
    else if (absl::StartsWith(a, "--events="))
      (void)absl::SimpleAtoi(value("--events="), &events);
    else if (absl::StartsWith(a, "--shards="))
      (void)absl::SimpleAtoi(value("--shards="), &shards);
    else if (absl::StartsWith(a, "--seed="))
      (void)absl::SimpleAtoi(value("--seed="), &seed);
    else if (absl::StartsWith(a, "--seconds="))
      (void)absl::SimpleAtod(value("--seconds="), &seconds);
    else if (absl::StartsWith(a, "--rates="))
      rates = absl::StrSplit(value("--rates="), ',');
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (customers < 1 || events < 0 || shards < 1 || events > 50'000'000) {
    std::fprintf(stderr, "bad sizes\n");
    return 2;
  }
  if (mode == "resolved") {
    return Resolved(redis, first, customers, events, shards, seed);
  }
  if (mode == "journey") {
    const absl::StatusOr<omnicx::auth::ServiceCredential> key =
        omnicx::auth::ServiceCredential::FromKeyFile(key_file);
    if (!key.ok()) {
      std::fprintf(stderr, "journey_load: %s\n",
                   std::string(key.status().message()).c_str());
      return 2;
    }
    return Journey(target, *key, customers, rates, seconds);
  }
  std::fprintf(stderr,
               "usage: journey_load --mode=resolved|journey ... (see the "
               "header of bench/journey/journey_load.cc)\n");
  return 2;
}
