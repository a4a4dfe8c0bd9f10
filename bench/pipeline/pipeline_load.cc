// Load client and probes for the pipeline benchmark (bench/pipeline.sh):
// ingestion → profile consumer → journey consumer, measured from outside.
// Every RPC carries `authorization: Bearer <key>` read from --key_file (an
// `app` key for Track*, --agent_key_file for GetJourney). Customers are
// phone +1555<7 digits>, numbered 0..customers-1 (as profile_load).
//
//   pipeline_load --mode=populate --target=INGESTION --key_file=app.key
//       --customers=N --events=E
//       N×E events flat out (TrackBatch, 500 per call, 4 callers); each
//       customer's first event also names an email. Prints populate_events,
//       populate_events_per_s.
//   pipeline_load --mode=ingest --target=INGESTION --key_file=app.key
//       --redis=HOST:PORT --customers=N --seconds=S --max_events=M
//       closed loop, 4 callers × TrackBatch of 100 events for existing
//       customers; prints ingest_events_per_s, ingest_errors and Redis
//       main-thread µs per accepted event (ingest_redis_us_per_event).
//   pipeline_load --mode=drain --redis=HOST:PORT --groups=profile,journey
//       --timeout=S
//       waits until those consumer groups have acknowledged everything
//       (twice in a row, 100 ms apart); prints drain_events (backlog at
//       start), drain_seconds, drain_redis_us_per_event. Exit 1 on timeout.
//   pipeline_load --mode=steps --target=INGESTION --key_file=app.key
//       --redis=HOST:PORT --customers=N --start=R --factor=1.25
//       --step_seconds=15 --bound=2 --max_steps=10
//       open loop at fixed offered rates (TrackBatch of 100 events), stepped
//       up by --factor from --start until one step fails, then one step
//       between the last pass and the first failure. A step passes when
//       every event was accepted at the offered rate and both groups'
//       backlog is zero within --bound seconds of the load stopping. Prints
//       a line per step and e2e_events_per_s (highest passing rate),
//       e2e_redis_us_per_event (at that rate), e2e_steps.
//   pipeline_load --mode=fresh --target=INGESTION --journey=JOURNEY
//       --key_file=app.key --agent_key_file=agent.key --customers=N
//       --rate=R --seconds=S --probes=P
//       background open-loop load at R events/s for S seconds; meanwhile,
//       one after another, a probe Track (a support contact on a unique
//       case id) for a random customer, then GetJourney (agent key) every
//       10 ms until the case shows (at most 10 s). Prints fresh_p50_ms,
//       fresh_p99_ms, fresh_max_ms, fresh_probes, fresh_timeouts,
//       fresh_load_errors.
//   pipeline_load --mode=memory --redis=HOST:PORT --events=E
//       waits (≤ 60 s) until the consumers' trimmers leave at most 1% of
//       E (or 3,200) entries in the streams, then prints used_memory,
//       dedup_bytes (ingestion's dedup hashes), stream_bytes.
//
// Redis Cluster (--cluster): --redis lists every primary, comma-separated.
// Stream backlogs go through the cluster client; INFO figures (main-thread
// CPU, used_memory) are summed over one standalone connection per listed
// node, and the dedup SCAN runs on each. --pids=NAME:PID,... (steps): each
// process's CPU from /proc per step, and at the highest bounded step
// e2e_cpu_us_per_event_NAME (e.g. each redis-server of a cluster).
//
// Every loop is bounded in time and count.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/lib/load.h"
#include "bench/lib/proc_cpu.h"
#include "grpcpp/grpcpp.h"
#include "libs/auth/authenticator.h"
#include "libs/keys/key_builder.h"
#include "libs/redis/client.h"
#include "libs/streams/retention.h"
#include "omnicx/v1/ingestion.grpc.pb.h"
#include "omnicx/v1/journey.grpc.pb.h"

namespace {

using omnicx::auth::ServiceCredential;

constexpr int kShards = 16;  // OMNICX_STREAM_SHARDS default

const char* const kTypes[] = {"page_view", "product_view",    "add_to_cart",
                              "purchase",  "support_contact", "email_open",
                              "delivery",  "survey_response"};
const omnicx::v1::Channel kChannels[] = {
    omnicx::v1::CHANNEL_WEB,   omnicx::v1::CHANNEL_MOBILE_APP,
    omnicx::v1::CHANNEL_EMAIL, omnicx::v1::CHANNEL_VOICE,
    omnicx::v1::CHANNEL_CHAT,  omnicx::v1::CHANNEL_STORE};

std::string Phone(int64_t customer) {
  return absl::StrFormat("+1555%07d", customer);
}

// One touchpoint of `customer`, k-th of its run, `age` seconds old.
void FillEvent(const std::string& id, int64_t customer, int64_t k,
               int64_t now_s, int64_t age_s, omnicx::v1::Interaction* e) {
  e->set_event_id(id);
  e->mutable_customer()->mutable_identity()->set_type("phone");
  e->mutable_customer()->mutable_identity()->set_value(Phone(customer));
  e->set_channel(kChannels[(customer + k) % 6]);
  e->set_type(kTypes[(customer + k) % 8]);
  e->set_touchpoint(absl::StrCat("tp", (customer * 7 + k) % 12));
  if ((customer + k) % 5 == 0) e->set_outcome(omnicx::v1::OUTCOME_FAILURE);
  if ((customer + k) % 8 == 3) e->set_value(static_cast<double>(k % 500));
  e->mutable_occurred_at()->set_seconds(now_s - age_s);
}

// The calling role's key on every call.
struct Ingestion {
  std::unique_ptr<omnicx::v1::IngestionService::Stub> stub;
  ServiceCredential credential;
};

absl::StatusOr<Ingestion> ConnectIngestion(const std::string& target,
                                           const std::string& key_file) {
  auto credential = ServiceCredential::FromFile(key_file, "--key_file");
  if (!credential.ok()) return credential.status();
  Ingestion out;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  out.stub = omnicx::v1::IngestionService::NewStub(grpc::CreateCustomChannel(
      target, grpc::InsecureChannelCredentials(), args));
  out.credential = *std::move(credential);
  return out;
}

// One address ("host:port") as a standalone client, or with `cluster` a
// comma-separated list as a cluster client seeded by every address.
std::unique_ptr<omnicx::redis::Client> ConnectRedis(const std::string& address,
                                                    bool cluster = false) {
  omnicx::redis::ClientOptions options;
  options.command_timeout = absl::Seconds(30);
  options.cluster = cluster;
  bool first = true;
  for (absl::string_view a : absl::StrSplit(address, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> hp = absl::StrSplit(a, ':');
    int port = 0;
    if (!absl::SimpleAtoi(hp.second, &port)) return nullptr;
    if (first) {
      options.host = hp.first;
      options.port = port;
      first = false;
    } else if (cluster) {
      options.seeds.emplace_back(hp.first, port);
    } else {
      return nullptr;  // several addresses need --cluster
    }
  }
  if (first) return nullptr;
  return omnicx::redis::Client::Create(options);
}

// The Redis of a run: `routed` for keyed commands (standalone, or the
// cluster client), `nodes` one standalone client per listed address for
// node-wide figures (INFO, SCAN).
struct Redis {
  std::unique_ptr<omnicx::redis::Client> routed;
  std::vector<std::unique_ptr<omnicx::redis::Client>> nodes;
};

std::unique_ptr<Redis> ConnectAll(const std::string& address, bool cluster) {
  auto out = std::make_unique<Redis>();
  out->routed = ConnectRedis(address, cluster);
  if (out->routed == nullptr) return nullptr;
  for (absl::string_view a : absl::StrSplit(address, ',', absl::SkipEmpty())) {
    out->nodes.push_back(ConnectRedis(std::string(a)));
    if (out->nodes.back() == nullptr) return nullptr;
  }
  return out;
}

// A field of INFO (e.g. "used_cpu_user_main_thread"), 0 when missing.
double InfoField(omnicx::redis::Client& redis, const std::string& section,
                 const std::string& field) {
  auto r = redis.Command({"INFO", section});
  if (!r.ok()) return 0;
  for (absl::string_view line : absl::StrSplit(r->str(), "\r\n")) {
    if (absl::StartsWith(line, field + ":")) {
      double v = 0;
      (void)absl::SimpleAtod(line.substr(field.size() + 1), &v);
      return v;
    }
  }
  return 0;
}

// CPU seconds of Redis's main thread (user + system), summed over nodes.
double MainThreadCpu(Redis& redis) {
  double total = 0;
  for (auto& node : redis.nodes) {
    total += InfoField(*node, "cpu", "used_cpu_user_main_thread") +
             InfoField(*node, "cpu", "used_cpu_sys_main_thread");
  }
  return total;
}

// Entries `group` has not acknowledged, summed over its shards (lag +
// pending); a shard without the group counts whole. "profile" reads the
// event log, "journey" the resolved events.
int64_t Backlog(omnicx::redis::Client& redis, const std::string& group) {
  const auto keys = *omnicx::keys::KeyBuilder::Create("default");
  std::vector<omnicx::redis::Command> commands;
  for (int s = 0; s < kShards; ++s) {
    const std::string key =
        group == "profile" ? keys.EventShard(s) : keys.ResolvedShard(s);
    commands.push_back({"XINFO", "GROUPS", key});
    commands.push_back({"XLEN", key});
  }
  auto replies = redis.Pipeline(commands);
  if (!replies.ok()) return -1;
  int64_t total = 0;
  for (int s = 0; s < kShards; ++s) {
    const auto& groups = (*replies)[2 * s];
    const int64_t length =
        (*replies)[2 * s + 1].ok() ? (*replies)[2 * s + 1]->integer() : 0;
    bool found = false;
    if (groups.ok()) {
      for (const omnicx::redis::Reply& g : groups->elements()) {
        auto f = omnicx::streams::InfoFields(g);
        if (f["name"].str() != group) continue;
        found = true;
        total += f["pending"].integer() +
                 (f["lag"].is_nil() ? length : f["lag"].integer());
      }
    }
    if (!found) total += length;
  }
  return total;
}

int64_t Backlogs(omnicx::redis::Client& redis,
                 const std::vector<std::string>& groups) {
  int64_t total = 0;
  for (const std::string& g : groups) {
    const int64_t n = Backlog(redis, g);
    if (n < 0) return -1;
    total += n;
  }
  return total;
}

// Polls until the groups' backlog is zero twice in a row; the seconds it
// took, or -1 after `timeout`.
double WaitDrained(omnicx::redis::Client& redis,
                   const std::vector<std::string>& groups,
                   absl::Duration timeout, absl::Duration poll) {
  const absl::Time start = absl::Now();
  int clean = 0;
  absl::Time first_zero;
  while (absl::Now() - start < timeout) {
    const int64_t n = Backlogs(redis, groups);
    if (n == 0) {
      if (clean++ == 0) first_zero = absl::Now();
      if (clean >= 2) return absl::ToDoubleSeconds(first_zero - start);
    } else {
      clean = 0;
    }
    absl::SleepFor(poll);
  }
  return -1;
}

// Sends `batch`-event TrackBatch calls for random existing customers;
// counts accepted events.
class Sender {
 public:
  Sender(Ingestion& ingestion, int64_t customers, int batch)
      : ingestion_(ingestion),
        customers_(customers),
        batch_(batch),
        run_(absl::StrCat("pl", absl::ToUnixMicros(absl::Now()))) {}

  void Fill(std::mt19937_64& rng, omnicx::v1::TrackBatchRequest* request) {
    const int64_t now_s = absl::ToUnixSeconds(absl::Now());
    const int64_t base = next_.fetch_add(batch_);
    for (int i = 0; i < batch_; ++i) {
      const int64_t customer = static_cast<int64_t>(rng() % customers_);
      // At least an hour old, so a probe's case (stamped now) is the
      // customer's most recent.
      FillEvent(absl::StrCat(run_, "-", base + i), customer, base + i, now_s,
                3600 + static_cast<int64_t>(rng() % (30 * 86400)),
                request->add_interactions());
    }
  }

  // Blocking call; returns accepted events (0 on failure).
  int64_t Send(std::mt19937_64& rng) {
    omnicx::v1::TrackBatchRequest request;
    Fill(rng, &request);
    omnicx::v1::TrackBatchResponse response;
    grpc::ClientContext context;
    ingestion_.credential.Attach(&context);
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    grpc::Status s = ingestion_.stub->TrackBatch(&context, request, &response);
    if (!s.ok()) {
      NoteError(s);
      return 0;
    }
    return Accepted(response);
  }

  // Asynchronous call; done(accepted events, 0 on failure).
  void SendAsync(std::mt19937_64& rng, std::function<void(int64_t)> done) {
    struct Call {
      grpc::ClientContext context;
      omnicx::v1::TrackBatchRequest request;
      omnicx::v1::TrackBatchResponse response;
    };
    auto call = std::make_shared<Call>();
    Fill(rng, &call->request);
    ingestion_.credential.Attach(&call->context);
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(10));
    ingestion_.stub->async()->TrackBatch(
        &call->context, &call->request, &call->response,
        [this, call, done](grpc::Status s) {
          if (!s.ok()) NoteError(s);
          done(s.ok() ? Accepted(call->response) : 0);
        });
  }

  std::string first_error() {
    absl::MutexLock lock(&mu_);
    return first_error_;
  }

 private:
  static int64_t Accepted(const omnicx::v1::TrackBatchResponse& response) {
    int64_t n = 0;
    for (const auto& r : response.results()) {
      n += r.status() == omnicx::v1::EVENT_STATUS_ACCEPTED;
    }
    return n;
  }
  void NoteError(const grpc::Status& s) {
    absl::MutexLock lock(&mu_);
    if (first_error_.empty()) {
      first_error_ = absl::StrCat(s.error_code(), " ", s.error_message());
    }
  }

  Ingestion& ingestion_;
  const int64_t customers_;
  const int batch_;
  const std::string run_;
  std::atomic<int64_t> next_{0};
  absl::Mutex mu_;
  std::string first_error_;
};

struct Flags {
  std::string mode, target, journey, key_file, agent_key_file, redis;
  bool cluster = false;
  std::vector<std::string> groups = {"profile", "journey"};
  // --pids: (name, pid) of processes whose CPU the steps charge per event.
  std::vector<std::pair<std::string, int>> pids;
  int64_t customers = 10000, events = 1, max_events = 2'000'000;
  int probes = 100, max_steps = 10;
  double seconds = 5, timeout = 600, start = 4000, factor = 1.25,
         step_seconds = 15, bound = 2, rate = 1000;
};

int Populate(const Flags& f) {
  auto ingestion = ConnectIngestion(f.target, f.key_file);
  if (!ingestion.ok()) {
    std::fprintf(stderr, "%s\n", ingestion.status().ToString().c_str());
    return 2;
  }
  const int64_t now_s = absl::ToUnixSeconds(absl::Now());
  const std::string run = absl::StrCat("pp", absl::ToUnixMicros(absl::Now()));
  const int64_t total = f.customers * f.events;
  std::atomic<int64_t> next{0}, accepted{0};
  std::atomic<bool> failed{false};
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!failed) {
        const int64_t from = next.fetch_add(500);
        if (from >= total) return;
        omnicx::v1::TrackBatchRequest request;
        for (int64_t n = from; n < std::min(total, from + 500); ++n) {
          const int64_t customer = n % f.customers;
          const int64_t k = n / f.customers;
          auto* e = request.add_interactions();
          FillEvent(absl::StrCat(run, "-", n), customer, k, now_s,
                    7200 + (f.events - k) * 600, e);
          if (k == 0) {
            auto* email = e->add_identities();
            email->set_type("email");
            email->set_value(absl::StrCat("c", customer, "@example.com"));
          }
        }
        bool sent = false;
        for (int attempt = 0; attempt < 50 && !sent; ++attempt) {
          omnicx::v1::TrackBatchResponse response;
          grpc::ClientContext context;
          ingestion->credential.Attach(&context);
          context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(10));
          grpc::Status s =
              ingestion->stub->TrackBatch(&context, request, &response);
          if (s.ok()) {
            for (const auto& r : response.results()) {
              // A resend after a lost answer comes back as a duplicate.
              accepted += r.status() == omnicx::v1::EVENT_STATUS_ACCEPTED ||
                          r.status() == omnicx::v1::EVENT_STATUS_DUPLICATE;
            }
            sent = true;
          } else if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
                     s.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
                     s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
            std::fprintf(stderr, "TrackBatch: %s\n", s.error_message().c_str());
            failed = true;
            return;
          } else {
            absl::SleepFor(absl::Milliseconds(200));  // back-pressure
          }
        }
        if (!sent) failed = true;
      }
    });
  }
  for (auto& t : threads) t.join();
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf("populate_events=%lld\npopulate_events_per_s=%.1f\n",
              static_cast<long long>(accepted.load()), accepted.load() / secs);
  return failed ? 1 : 0;
}

int Ingest(const Flags& f) {
  auto ingestion = ConnectIngestion(f.target, f.key_file);
  auto redis = ConnectAll(f.redis, f.cluster);
  if (!ingestion.ok() || redis == nullptr) {
    std::fprintf(stderr, "cannot connect\n");
    return 2;
  }
  Sender sender(*ingestion, f.customers, 100);
  std::atomic<int64_t> accepted{0};
  const double cpu0 = MainThreadCpu(*redis);
  omnicx::bench::LoadResult r = omnicx::bench::RunClosedLoop(
      4, absl::Seconds(f.seconds), std::max<int64_t>(1, f.max_events / 100),
      [&](int worker) {
        thread_local std::mt19937_64 rng(1000 + worker);
        const int64_t n = sender.Send(rng);
        accepted += n;
        return n > 0;
      });
  const double cpu = MainThreadCpu(*redis) - cpu0;
  const double secs = absl::ToDoubleSeconds(r.elapsed);
  const double events = static_cast<double>(accepted.load());
  std::printf(
      "ingest_events=%.0f\ningest_events_per_s=%.1f\ningest_errors=%lld\n"
      "ingest_redis_us_per_event=%.2f\n",
      events, secs > 0 ? events / secs : 0, static_cast<long long>(r.errors),
      events > 0 ? cpu * 1e6 / events : 0);
  if (r.errors > 0) {
    std::fprintf(stderr, "first error: %s\n", sender.first_error().c_str());
  }
  return 0;
}

int Drain(const Flags& f) {
  auto redis = ConnectAll(f.redis, f.cluster);
  if (redis == nullptr) return 2;
  const int64_t events = Backlogs(*redis->routed, f.groups);
  const double cpu0 = MainThreadCpu(*redis);
  const double secs =
      WaitDrained(*redis->routed, f.groups, absl::Seconds(f.timeout),
                  absl::Milliseconds(100));
  const double cpu = MainThreadCpu(*redis) - cpu0;
  std::printf(
      "drain_events=%lld\ndrain_seconds=%.2f\ndrain_events_per_s=%.1f\n"
      "drain_redis_us_per_event=%.2f\n",
      static_cast<long long>(events), secs,
      secs > 0 ? static_cast<double>(events) / secs : 0,
      events > 0 ? cpu * 1e6 / static_cast<double>(events) : 0);
  if (secs < 0) {
    std::fprintf(stderr, "backlog of %s not drained in %.0f s\n",
                 absl::StrJoin(f.groups, ",").c_str(), f.timeout);
    return 1;
  }
  return 0;
}

struct StepResult {
  bool pass = false;
  double accepted_per_s = 0, drain_s = -1, us_per_event = 0;
  int64_t max_backlog = 0, errors = 0;
  // CPU µs per accepted event of each --pids process.
  std::vector<double> pid_us_per_event;
};

// CPU seconds of each --pids process (-1 when unreadable).
std::vector<double> PidsCpu(const Flags& f) {
  std::vector<double> out;
  for (const auto& [name, pid] : f.pids) {
    absl::StatusOr<double> s = omnicx::bench::ProcessCpuSeconds(pid);
    out.push_back(s.ok() ? *s : -1);
  }
  return out;
}

StepResult Step(Sender& sender, Redis& redis, double rate, const Flags& f) {
  StepResult out;
  const double cpu0 = MainThreadCpu(redis);
  const std::vector<double> pids0 = PidsCpu(f);
  // The backlog, sampled once a second on the side (from its own
  // connection).
  std::atomic<bool> running{true};
  std::atomic<int64_t> max_backlog{0};
  std::thread sampler([&] {
    auto own = ConnectRedis(f.redis, f.cluster);
    for (int i = 0; running && own != nullptr && i < 3600; ++i) {
      const int64_t n = Backlogs(*own, f.groups);
      if (n > max_backlog) max_backlog = n;
      for (int j = 0; running && j < 10; ++j) {
        absl::SleepFor(absl::Milliseconds(100));
      }
    }
  });
  std::atomic<int64_t> accepted{0};
  std::mt19937_64 rng(static_cast<uint64_t>(rate));
  const double calls_per_s = rate / 100;
  omnicx::bench::LoadResult r = omnicx::bench::RunOpenLoop(
      calls_per_s, absl::Seconds(f.step_seconds),
      static_cast<int64_t>(calls_per_s * f.step_seconds) + 1,
      [&](std::function<void(bool)> done) {
        sender.SendAsync(rng, [&accepted, done](int64_t n) {
          accepted += n;
          done(n == 100);
        });
      });
  running = false;
  sampler.join();
  // Lag bounded: back to zero within `bound` of the load stopping. If not,
  // wait for the rest (so the next step starts clean) and report it.
  out.drain_s = WaitDrained(*redis.routed, f.groups, absl::Seconds(300),
                            absl::Milliseconds(50));
  const double cpu = MainThreadCpu(redis) - cpu0;
  const std::vector<double> pids1 = PidsCpu(f);
  for (size_t i = 0; i < pids1.size(); ++i) {
    out.pid_us_per_event.push_back(
        accepted > 0 && pids0[i] >= 0 && pids1[i] >= 0
            ? (pids1[i] - pids0[i]) * 1e6 / accepted.load()
            : 0);
  }
  out.errors = r.errors;
  out.max_backlog = max_backlog;
  out.accepted_per_s = accepted.load() / f.step_seconds;
  out.us_per_event = accepted > 0 ? cpu * 1e6 / accepted.load() : 0;
  const double offered = calls_per_s * f.step_seconds * 100;
  out.pass = r.errors == 0 && accepted.load() >= 0.99 * offered &&
             out.drain_s >= 0 && out.drain_s <= f.bound;
  return out;
}

int Steps(const Flags& f) {
  auto ingestion = ConnectIngestion(f.target, f.key_file);
  auto redis = ConnectAll(f.redis, f.cluster);
  if (!ingestion.ok() || redis == nullptr) {
    std::fprintf(stderr, "cannot connect\n");
    return 2;
  }
  Sender sender(*ingestion, f.customers, 100);
  double lo = 0, hi = 0, rate = f.start, best_us = 0;
  std::vector<double> best_pids(f.pids.size(), 0);
  int steps = 0;
  while (steps < f.max_steps) {
    // Offered rates are whole hundreds (TrackBatch of 100 events).
    rate = std::max(100.0, std::round(rate / 100) * 100);
    if ((lo > 0 && rate <= lo) || (hi > 0 && rate >= hi)) break;
    StepResult s = Step(sender, *redis, rate, f);
    ++steps;
    std::printf(
        "# step %d: offered %.0f events/s, accepted %.0f/s, errors %lld, "
        "max backlog %lld, back to zero in %.2f s, Redis %.1f us/event: %s\n",
        steps, rate, s.accepted_per_s, static_cast<long long>(s.errors),
        static_cast<long long>(s.max_backlog), s.drain_s, s.us_per_event,
        s.pass ? "bounded" : "NOT bounded");
    if (!f.pids.empty()) {
      std::vector<std::string> parts;
      for (size_t i = 0; i < f.pids.size(); ++i) {
        parts.push_back(
            absl::StrFormat("%s %.1f", f.pids[i].first, s.pid_us_per_event[i]));
      }
      std::printf("#   CPU us/event: %s\n", absl::StrJoin(parts, ", ").c_str());
    }
    std::fflush(stdout);
    if (s.errors > 0) {
      std::fprintf(stderr, "first error: %s\n", sender.first_error().c_str());
    }
    if (s.pass) {
      lo = rate;
      best_us = s.us_per_event;
      best_pids = s.pid_us_per_event;
    } else {
      hi = rate;
    }
    if (hi == 0) {
      rate = lo * f.factor;
    } else if (lo == 0) {
      rate = hi / f.factor;
    } else if (hi / lo > 1 + (f.factor - 1) * 0.55) {
      rate = std::sqrt(lo * hi);
    } else {
      break;
    }
  }
  std::printf(
      "e2e_events_per_s=%.0f\ne2e_first_unbounded=%.0f\n"
      "e2e_redis_us_per_event=%.2f\ne2e_steps=%d\n",
      lo, hi, best_us, steps);
  for (size_t i = 0; i < f.pids.size(); ++i) {
    std::printf("e2e_cpu_us_per_event_%s=%.2f\n", f.pids[i].first.c_str(),
                best_pids[i]);
  }
  return 0;
}

int Fresh(const Flags& f) {
  auto ingestion = ConnectIngestion(f.target, f.key_file);
  auto agent =
      ServiceCredential::FromFile(f.agent_key_file, "--agent_key_file");
  if (!ingestion.ok() || !agent.ok()) {
    std::fprintf(stderr, "cannot read the keys\n");
    return 2;
  }
  auto journey = omnicx::v1::JourneyService::NewStub(
      grpc::CreateChannel(f.journey, grpc::InsecureChannelCredentials()));
  Sender sender(*ingestion, f.customers, 100);
  std::atomic<int64_t> load_errors{0};
  std::thread load([&] {
    std::mt19937_64 rng(7);
    const double calls_per_s = std::max(1.0, f.rate / 100);
    omnicx::bench::LoadResult r = omnicx::bench::RunOpenLoop(
        calls_per_s, absl::Seconds(f.seconds),
        static_cast<int64_t>(calls_per_s * f.seconds) + 1,
        [&](std::function<void(bool)> done) {
          sender.SendAsync(rng, [done](int64_t n) { done(n == 100); });
        });
    load_errors = r.errors;
  });
  const absl::Time end = absl::Now() + absl::Seconds(f.seconds);
  absl::SleepFor(absl::Seconds(std::min(2.0, f.seconds / 4)));  // warm-up
  const std::string run =
      absl::StrCat("probe", absl::ToUnixMicros(absl::Now()));
  std::mt19937_64 rng(11);
  omnicx::bench::LatencyRecorder fresh;
  int probes = 0, timeouts = 0;
  double max_ms = 0;
  for (; probes < f.probes && absl::Now() + absl::Seconds(1) < end; ++probes) {
    const int64_t customer = static_cast<int64_t>(rng() % f.customers);
    const std::string marker = absl::StrCat(run, "-", probes);
    omnicx::v1::TrackRequest track;
    auto* e = track.mutable_interaction();
    e->set_event_id(marker);
    e->mutable_customer()->mutable_identity()->set_type("phone");
    e->mutable_customer()->mutable_identity()->set_value(Phone(customer));
    e->set_channel(omnicx::v1::CHANNEL_CHAT);
    e->set_type("support_contact");
    e->set_touchpoint("probe");
    e->set_case_id(marker);
    e->mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    const absl::Time sent = absl::Now();
    {
      omnicx::v1::TrackResponse response;
      grpc::ClientContext context;
      ingestion->credential.Attach(&context);
      context.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::seconds(5));
      grpc::Status s = ingestion->stub->Track(&context, track, &response);
      if (!s.ok()) {
        std::fprintf(stderr, "probe Track: %s\n", s.error_message().c_str());
        ++timeouts;
        continue;
      }
    }
    bool seen = false;
    while (!seen && absl::Now() - sent < absl::Seconds(10)) {
      omnicx::v1::GetJourneyRequest request;
      request.mutable_customer()->mutable_identity()->set_type("phone");
      request.mutable_customer()->mutable_identity()->set_value(
          Phone(customer));
      omnicx::v1::GetJourneyResponse response;
      grpc::ClientContext context;
      agent->Attach(&context);
      context.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::seconds(1));
      if (journey->GetJourney(&context, request, &response).ok()) {
        for (const auto& c : response.journey().open_cases()) {
          seen = seen || c.case_id() == marker;
        }
      }
      if (!seen) absl::SleepFor(absl::Milliseconds(10));
    }
    if (seen) {
      const absl::Duration took = absl::Now() - sent;
      fresh.Record(took);
      max_ms = std::max(max_ms, absl::ToDoubleMilliseconds(took));
    } else {
      ++timeouts;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  load.join();
  std::printf(
      "fresh_p50_ms=%.1f\nfresh_p99_ms=%.1f\nfresh_max_ms=%.1f\n"
      "fresh_probes=%d\nfresh_timeouts=%d\nfresh_load_errors=%lld\n",
      fresh.PercentileMicros(0.50) / 1000, fresh.PercentileMicros(0.99) / 1000,
      max_ms, probes, timeouts, static_cast<long long>(load_errors.load()));
  return 0;
}

int Memory(const Flags& f) {
  auto all = ConnectAll(f.redis, f.cluster);
  if (all == nullptr) return 2;
  omnicx::redis::Client* redis = all->routed.get();
  const auto keys = *omnicx::keys::KeyBuilder::Create("default");
  std::vector<std::string> streams;
  for (int s = 0; s < kShards; ++s) {
    streams.push_back(keys.EventShard(s));
    streams.push_back(keys.ResolvedShard(s));
  }
  const int64_t allowed = std::max<int64_t>(3200, f.events / 100);
  for (int i = 0; i < 120; ++i) {
    std::vector<omnicx::redis::Command> lens;
    for (const std::string& s : streams) lens.push_back({"XLEN", s});
    auto r = redis->Pipeline(lens);
    int64_t left = 0;
    if (r.ok()) {
      for (const auto& n : *r) left += n.ok() ? n->integer() : 0;
    }
    if (left <= allowed) break;
    absl::SleepFor(absl::Milliseconds(500));
  }
  int64_t stream_bytes = 0, dedup_bytes = 0;
  for (const std::string& s : streams) {
    auto r = redis->Command({"MEMORY", "USAGE", s, "SAMPLES", "0"});
    if (r.ok()) stream_bytes += r->integer();
  }
  // The dedup hashes sit under the event shards' tags: cx:default:{ev:k}:dd:*,
  // scanned on each node (a cluster client cannot route the pattern).
  double used_memory = 0;
  for (auto& node : all->nodes) {
    std::string cursor = "0";
    for (int i = 0; i < 100000; ++i) {
      auto page = node->Command({"SCAN", cursor, "MATCH",
                                 "cx:default:{ev:*}:dd:*", "COUNT", "20000"});
      if (!page.ok() || page->elements().size() != 2) break;
      cursor = page->elements()[0].str();
      for (const auto& k : page->elements()[1].elements()) {
        auto r = node->Command({"MEMORY", "USAGE", k.str(), "SAMPLES", "0"});
        if (r.ok()) dedup_bytes += r->integer();
      }
      if (cursor == "0") break;
    }
    used_memory += InfoField(*node, "memory", "used_memory");
  }
  std::printf("used_memory=%.0f\ndedup_bytes=%lld\nstream_bytes=%lld\n",
              used_memory, static_cast<long long>(dedup_bytes),
              static_cast<long long>(stream_bytes));
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
    else if (name == "--target")
      f.target = v;
    else if (name == "--journey")
      f.journey = v;
    else if (name == "--key_file")
      f.key_file = v;
    else if (name == "--agent_key_file")
      f.agent_key_file = v;
    else if (name == "--redis")
      f.redis = v;
    else if (name == "--cluster")
      f.cluster = v.empty() || v == "true";
    else if (name == "--pids") {
      for (absl::string_view p : absl::StrSplit(v, ',', absl::SkipEmpty())) {
        std::pair<std::string, std::string> np = absl::StrSplit(p, ':');
        int pid = 0;
        ok = ok && !np.first.empty() && absl::SimpleAtoi(np.second, &pid);
        f.pids.emplace_back(np.first, pid);
      }
    } else if (name == "--groups")
      f.groups = absl::StrSplit(v, ',');
    else if (name == "--customers")
      ok = absl::SimpleAtoi(v, &f.customers);
    else if (name == "--events")
      ok = absl::SimpleAtoi(v, &f.events);
    else if (name == "--max_events")
      ok = absl::SimpleAtoi(v, &f.max_events);
    else if (name == "--probes")
      ok = absl::SimpleAtoi(v, &f.probes);
    else if (name == "--max_steps")
      ok = absl::SimpleAtoi(v, &f.max_steps);
    else if (name == "--seconds")
      ok = absl::SimpleAtod(v, &f.seconds);
    else if (name == "--timeout")
      ok = absl::SimpleAtod(v, &f.timeout);
    else if (name == "--start")
      ok = absl::SimpleAtod(v, &f.start);
    else if (name == "--factor")
      ok = absl::SimpleAtod(v, &f.factor);
    else if (name == "--step_seconds")
      ok = absl::SimpleAtod(v, &f.step_seconds);
    else if (name == "--bound")
      ok = absl::SimpleAtod(v, &f.bound);
    else if (name == "--rate")
      ok = absl::SimpleAtod(v, &f.rate);
    else
      ok = false;
    if (!ok) {
      std::fprintf(stderr, "bad argument %s\n", a.c_str());
      return 2;
    }
  }
  // Bounds: every loop below is limited by these.
  if (f.customers < 1 || f.customers > 9'999'999 || f.events < 0 ||
      f.events > 50'000'000 ||
      (f.mode == "populate" && f.customers * f.events > 50'000'000) ||
      f.seconds <= 0 || f.seconds > 600 || f.step_seconds <= 0 ||
      f.step_seconds > 120 || f.factor <= 1.01 || f.max_steps < 1 ||
      f.max_steps > 30 || f.timeout <= 0 || f.timeout > 3600 || f.rate <= 0 ||
      f.start <= 0 || f.probes < 1 || f.probes > 10000) {
    std::fprintf(stderr, "bad sizes\n");
    return 2;
  }
  if (f.mode == "populate") return Populate(f);
  if (f.mode == "ingest") return Ingest(f);
  if (f.mode == "drain") return Drain(f);
  if (f.mode == "steps") return Steps(f);
  if (f.mode == "fresh") return Fresh(f);
  if (f.mode == "memory") return Memory(f);
  std::fprintf(stderr,
               "usage: pipeline_load --mode=populate|ingest|drain|steps|fresh|"
               "memory ... (see the header of "
               "bench/pipeline/pipeline_load.cc)\n");
  return 2;
}
