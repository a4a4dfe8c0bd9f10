// How a StreamConsumer over several stream shards reads them, measured on a
// standalone redis-server this binary starts (bench/README.md): idle CPU of the
// consumer process and of Redis, Redis commands per second, and the delay from
// XADD to the handler for events on random shards.
//
//   build/bench/consumer_reads [--shards=4] [--events=300] [--idle_s=3]
//
// Designs:
//   rotate-<n>ms  one consumer: a pipelined non-blocking read of every shard,
//                 then one blocking read of at most n ms on one shard,
//                 rotating (what StreamConsumer does);
//   per-shard     one consumer per shard, each blocking on its shard on its
//                 own thread and connection;
//   multi (old)   one XREADGROUP BLOCK naming every shard (CROSSSLOT on a
//                 Cluster; the baseline).
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "libs/redis/client.h"
#include "libs/streams/consumer.h"
#include "libs/testing/redis_server.h"

namespace {

using omnicx::redis::Client;
using omnicx::streams::ConsumerOptions;
using omnicx::streams::StreamConsumer;
using omnicx::streams::StreamEntry;

double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec / 1e6;
}

// used_cpu_sys + used_cpu_user, and total_commands_processed.
std::pair<double, int64_t> RedisCpu(Client& redis) {
  double cpu = 0;
  int64_t commands = 0;
  for (const char* section : {"cpu", "stats"}) {
    auto info = redis.Command({"INFO", section});
    if (!info.ok()) continue;
    for (absl::string_view line : absl::StrSplit(info->str(), "\r\n")) {
      std::pair<absl::string_view, absl::string_view> kv =
          absl::StrSplit(line, ':');
      double v = 0;
      if ((kv.first == "used_cpu_sys" || kv.first == "used_cpu_user") &&
          absl::SimpleAtod(kv.second, &v)) {
        cpu += v;
      }
      if (kv.first == "total_commands_processed") {
        (void)absl::SimpleAtoi(kv.second, &commands);
      }
    }
  }
  return {cpu, commands};
}

struct Latencies {
  absl::Mutex mu;
  std::vector<double> ms;
  void Add(const StreamEntry& e) {
    int64_t sent = 0;
    if (!absl::SimpleAtoi(e.payload, &sent)) return;
    absl::MutexLock lock(&mu);
    ms.push_back((absl::GetCurrentTimeNanos() - sent) / 1e6);
  }
};

// A running design: Start()ed readers that call Latencies::Add.
class Design {
 public:
  virtual ~Design() = default;
  virtual void Stop() = 0;
};

class Consumers : public Design {
 public:
  Consumers(Client& redis, Client& blocking,
            std::vector<std::vector<std::string>> groups, absl::Duration slice,
            Latencies& out) {
    int i = 0;
    for (auto& streams : groups) {
      ConsumerOptions o;
      o.group = "bench";
      o.consumer = absl::StrCat("c-", i++);
      o.streams = std::move(streams);
      o.dead_letter = "bench:dlq";
      o.block_slice = slice;
      o.blocking_reads = &blocking;
      consumers_.push_back(std::make_unique<StreamConsumer>(
          redis, o, [&out](const StreamEntry& e) {
            out.Add(e);
            return absl::OkStatus();
          }));
      (void)consumers_.back()->EnsureGroups();
      consumers_.back()->Start();
    }
  }
  void Stop() override {
    for (auto& c : consumers_) c->Stop();
  }

 private:
  std::vector<std::unique_ptr<StreamConsumer>> consumers_;
};

class MultiStream : public Design {
 public:
  MultiStream(Client& redis, std::vector<std::string> streams, Latencies& out)
      : thread_([this, &redis, streams, &out] {
          for (const auto& s : streams) {
            (void)redis.Command(
                {"XGROUP", "CREATE", s, "bench", "0", "MKSTREAM"});
          }
          while (!stop_) {
            omnicx::redis::Command read = {"XREADGROUP", "GROUP", "bench",
                                           "old",        "COUNT", "100",
                                           "BLOCK",      "500",   "STREAMS"};
            for (const auto& s : streams) read.push_back(s);
            for (size_t i = 0; i < streams.size(); ++i) read.push_back(">");
            auto r = redis.Command(read, absl::Seconds(2));
            if (!r.ok() || r->is_nil()) continue;
            for (const auto& stream : r->elements()) {
              for (const auto& entry : stream.elements()[1].elements()) {
                StreamEntry e;
                const auto& f = entry.elements()[1].elements();
                if (f.size() >= 2) e.payload = f[1].str();
                out.Add(e);
                (void)redis.Command({"XACK", stream.elements()[0].str(),
                                     "bench", entry.elements()[0].str()});
              }
            }
          }
        }) {}
  void Stop() override {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

}  // namespace

int main(int argc, char** argv) {
  int shards = 4, events = 300, idle_s = 3;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--shards="))
      (void)absl::SimpleAtoi(a, &shards);
    if (absl::ConsumePrefix(&a, "--events="))
      (void)absl::SimpleAtoi(a, &events);
    if (absl::ConsumePrefix(&a, "--idle_s="))
      (void)absl::SimpleAtoi(a, &idle_s);
  }
  std::printf("%-14s %10s %11s %11s %8s %8s %8s %10s %10s\n", "design",
              "proc_cpu%", "redis_cpu%", "redis_cmd/s", "busy_p50", "busy_p99",
              "busy_max", "sparse_p50", "sparse_max");
  for (const std::string design : {"multi (old)", "per-shard", "rotate-25ms",
                                   "rotate-50ms", "rotate-100ms"}) {
    auto server = omnicx::testing::RedisServer::Start({});
    if (!server.ok()) {
      std::fprintf(stderr, "redis-server: %s\n",
                   server.status().ToString().c_str());
      return 1;
    }
    omnicx::redis::ClientOptions o;
    o.port = (*server)->port();
    auto redis = Client::Create(o);
    auto blocking = Client::Create(o);
    std::vector<std::string> streams;
    for (int s = 0; s < shards; ++s) {
      streams.push_back(absl::StrCat("cx:b:{ev:", s, "}:stream"));
    }
    Latencies latencies;
    std::vector<double> busy;
    std::unique_ptr<Design> running;
    if (design == "multi (old)") {
      running = std::make_unique<MultiStream>(*blocking, streams, latencies);
    } else if (design == "per-shard") {
      std::vector<std::vector<std::string>> groups;
      for (const auto& s : streams) groups.push_back({s});
      running = std::make_unique<Consumers>(*redis, *blocking, groups,
                                            absl::Milliseconds(50), latencies);
    } else {
      int slice = 0;
      (void)absl::SimpleAtoi(design.substr(7, design.size() - 9), &slice);
      running = std::make_unique<Consumers>(
          *redis, *blocking, std::vector<std::vector<std::string>>{streams},
          absl::Milliseconds(slice), latencies);
    }
    absl::SleepFor(absl::Milliseconds(300));  // settle: groups, first reads
    const double cpu0 = CpuSeconds();
    const auto [rcpu0, rcmd0] = RedisCpu(*redis);
    absl::SleepFor(absl::Seconds(idle_s));
    const double cpu1 = CpuSeconds();
    const auto [rcpu1, rcmd1] = RedisCpu(*redis);
    // Events on random shards: `events` at random gaps of 5-15 ms (a busy
    // Redis), then `sparse` at 150-250 ms (an idle one in between).
    std::mt19937 rng(7);
    const int sparse = 20;
    for (int i = 0; i < events + sparse; ++i) {
      if (i == events) {
        absl::SleepFor(absl::Milliseconds(300));
        absl::MutexLock lock(&latencies.mu);
        busy = latencies.ms;
        latencies.ms.clear();
      }
      absl::SleepFor(i < events ? absl::Milliseconds(5 + rng() % 11)
                                : absl::Milliseconds(150 + rng() % 101));
      (void)redis->Command({"XADD", streams[rng() % streams.size()], "*", "e",
                            absl::StrCat(absl::GetCurrentTimeNanos())});
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    for (;;) {
      {
        absl::MutexLock lock(&latencies.mu);
        if (static_cast<int>(latencies.ms.size()) >= sparse) break;
      }
      if (absl::Now() > deadline) break;
      absl::SleepFor(absl::Milliseconds(5));
    }
    running->Stop();
    absl::MutexLock lock(&latencies.mu);
    // Blocking reads that time out are not in total_commands_processed.
    std::printf("%-14s %10.2f %11.2f %11.0f %8.2f %8.2f %8.2f %10.2f %10.2f\n",
                design.c_str(), 100 * (cpu1 - cpu0) / idle_s,
                100 * (rcpu1 - rcpu0) / idle_s,
                (rcmd1 - rcmd0 - 2) / static_cast<double>(idle_s),
                Percentile(busy, 0.5), Percentile(busy, 0.99),
                Percentile(busy, 1.0), Percentile(latencies.ms, 0.5),
                Percentile(latencies.ms, 1.0));
  }
  return 0;
}
