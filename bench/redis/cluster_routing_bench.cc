// The Redis client's cluster routing cost against standalone, on the same
// machine in one run: the same pipelined HSET + EVALSHA workload through
// redis::Client against a standalone redis-server and against a one-primary
// Redis Cluster holding every slot (so both do one round trip per
// pipeline, and the difference is the client's routing).
//
//   build/bench/cluster_routing_bench [--pipelines=2000] [--batch=64]
//
// Prints microseconds per command (median of alternating trials) for:
// the standalone server; the cluster node through a standalone client (the
// node holds every slot, so that works); the cluster node through the
// cluster client. The client's routing overhead is the last against the
// second (same server; target: at most 10 %); the second against the first
// is the server's own cluster-mode cost.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/redis/client.h"
#include "libs/redis/script.h"
#include "libs/testing/redis_cluster.h"
#include "libs/testing/redis_server.h"

namespace {

using omnicx::redis::Client;
using omnicx::redis::Command;
using omnicx::redis::Script;

const Script kScript(
    "redis.call('HINCRBY', KEYS[1], 'n', 1) "
    "return redis.call('HSET', KEYS[1], 'last', ARGV[1])");

// Microseconds per command over `pipelines` pipelines of `batch` commands.
double Run(Client& client, int pipelines, int batch, int seed) {
  std::vector<Command> commands;
  const absl::Time start = absl::Now();
  for (int p = 0; p < pipelines; ++p) {
    commands.clear();
    for (int i = 0; i < batch; ++i) {
      const std::string key =
          absl::StrCat("cx:bench:{p:", (seed + p * batch + i) % 1024, "}:h");
      if (i % 2 == 0) {
        commands.push_back({"HSET", key, "f", absl::StrCat(i)});
      } else {
        commands.push_back(
            omnicx::redis::EvalShaCommand(kScript, {key}, {absl::StrCat(p)}));
      }
    }
    auto replies = client.PipelineScripts(commands, {&kScript});
    if (!replies.ok()) {
      std::fprintf(stderr, "pipeline failed: %s\n",
                   std::string(replies.status().message()).c_str());
      std::exit(1);
    }
  }
  return absl::ToDoubleMicroseconds(absl::Now() - start) /
         (static_cast<double>(pipelines) * batch);
}

int Flag(int argc, char** argv, const char* name, int fallback) {
  const std::string prefix = absl::StrCat("--", name, "=");
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) {
      return std::atoi(argv[i] + prefix.size());
    }
  }
  return fallback;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int pipelines = Flag(argc, argv, "pipelines", 2000);
  const int batch = Flag(argc, argv, "batch", 64);
  const int trials = Flag(argc, argv, "trials", 5);
  auto server = omnicx::testing::RedisServer::Start();
  auto cluster = omnicx::testing::RedisCluster::Start({.primaries = 1});
  if (!server.ok() || !cluster.ok()) {
    std::fprintf(stderr, "cannot start redis: %s %s\n",
                 server.status().ToString().c_str(),
                 cluster.status().ToString().c_str());
    return 1;
  }
  omnicx::redis::ClientOptions standalone_options;
  standalone_options.port = (*server)->port();
  standalone_options.command_timeout = absl::Seconds(5);
  omnicx::redis::ClientOptions cluster_options = (*cluster)->ClientOptions();
  cluster_options.command_timeout = absl::Seconds(5);
  omnicx::redis::ClientOptions direct_options = cluster_options;
  direct_options.cluster = false;
  direct_options.seeds.clear();
  auto standalone = Client::Create(standalone_options);
  auto direct = Client::Create(direct_options);
  auto clustered = Client::Create(cluster_options);
  // Warm up: scripts loaded, connections open, slot map learned.
  Run(*standalone, 50, batch, 0);
  Run(*direct, 50, batch, 0);
  Run(*clustered, 50, batch, 0);
  std::vector<double> s, d, c;
  for (int t = 0; t < trials; ++t) {
    s.push_back(Run(*standalone, pipelines, batch, t));
    d.push_back(Run(*direct, pipelines, batch, t));
    c.push_back(Run(*clustered, pipelines, batch, t));
  }
  const double sm = Median(s);
  const double dm = Median(d);
  const double cm = Median(c);
  std::printf("pipelines of %d (HSET + EVALSHA), %d x %d trials, median\n",
              batch, trials, pipelines);
  std::printf("standalone server, standalone client  %.3f us/command\n", sm);
  std::printf("cluster node,      standalone client  %.3f us/command\n", dm);
  std::printf("cluster node,      cluster client     %.3f us/command\n", cm);
  std::printf("client routing overhead (3 vs 2)      %+.1f %%\n",
              (cm / dm - 1) * 100);
  std::printf("cluster mode end to end (3 vs 1)      %+.1f %%\n",
              (cm / sm - 1) * 100);
  return 0;
}
