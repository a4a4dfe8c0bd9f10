// Redis main-thread CPU per customer commit, for each way a consumer can
// commit a customer's new state atomically, beside the floor of the same
// writes with no atomicity at all (issue #18's named redesigns, measured on
// one Redis with AOF everysec):
//
//   plain       HSET state + ZADD timeline entry, pipelined, no check: the
//               floor any commit design pays for its writes;
//   profile     the profile's real commit script (services/profile/lua/
//               apply_events.lua, read from the source), one call per
//               customer, 64 calls in flight;
//   journey     the journey's real commit script, one call per customer;
//   partition   one script call commits GROUP customers of one partition
//               (the same checks and writes as `profile`, looped in Lua);
//   watch       WATCH/MULTI/EXEC: WATCH the state, redirect and tombstone
//               of GROUP customers, read their versions and existence, then
//               one MULTI/EXEC with their writes (one connection; one
//               conflict would abort the whole group).
//
// Every design writes the same bytes: a state of --state_bytes and one
// 115-byte timeline entry per commit (the journey writes its state and an
// 80-byte outbox record instead). ROUNDS commits per customer, so the
// timelines grow as in a drain. It talks raw hiredis on purpose: the
// designs differ in exactly how commands share a connection and a
// round trip, which libs/redis hides.
//
//   commit_designs --redis=127.0.0.1:6379 --design=partition --group=8
//       [--customers=10000] [--rounds=20] [--state_bytes=400]
//       [--script_dir=services]
// Prints one line: design, group, commits, Redis µs per commit (INFO cpu
// main thread), wall µs per commit. FLUSHALLs the Redis it is given; fails
// if any script commit answers other than OK (each design must commit).
#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

ABSL_FLAG(std::string, redis, "127.0.0.1:6379", "Redis host:port");
ABSL_FLAG(std::string, design, "plain",
          "plain | profile | journey | partition | watch");
ABSL_FLAG(int, group, 1, "customers per call (partition, watch)");
ABSL_FLAG(int, customers, 10000, "customers");
ABSL_FLAG(int, rounds, 20, "commits per customer");
ABSL_FLAG(int, state_bytes, 400, "bytes of the state value");
ABSL_FLAG(std::string, script_dir, "services",
          "where <service>/lua/apply_events.lua are");

namespace {

constexpr int kInFlight = 64;
constexpr int kPartitions = 1024;  // as libs/keys/key_builder.h

// The profile script's checks and writes, for GROUP customers per call:
// KEYS are 4 per customer (profile, timeline, redirect, tombstone), ARGV 4
// per customer (version, state, occurred ms, entry).
constexpr char kPartitionScript[] = R"lua(
local out = {}
for i = 0, #KEYS / 4 - 1 do
  local k, a = 4 * i, 4 * i
  if redis.call('EXISTS', KEYS[k + 4], KEYS[k + 3]) > 0 then
    out[#out + 1] = 'X'
  elseif (redis.call('HGET', KEYS[k + 1], 'v') or '0') ~= ARGV[a + 1] then
    out[#out + 1] = 'RETRY'
  else
    redis.call('HSET', KEYS[k + 1], 'v', tostring(tonumber(ARGV[a + 1]) + 1),
               's', ARGV[a + 2])
    redis.call('ZADD', KEYS[k + 2], ARGV[a + 3], ARGV[a + 4])
    out[#out + 1] = 'OK'
  end
end
return out
)lua";

class Redis {
 public:
  explicit Redis(const std::string& address) {
    std::vector<std::string> hp = absl::StrSplit(address, ':');
    int port = 6379;
    if (hp.size() != 2 || !absl::SimpleAtoi(hp[1], &port)) {
      std::fprintf(stderr, "bad --redis %s\n", address.c_str());
      std::exit(2);
    }
    c_ = redisConnect(hp[0].c_str(), port);
    if (c_ == nullptr || c_->err) {
      std::fprintf(stderr, "cannot connect to %s\n", address.c_str());
      std::exit(1);
    }
  }
  ~Redis() { redisFree(c_); }

  void Append(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    redisAppendCommandArgv(c_, static_cast<int>(argv.size()), argv.data(),
                           lens.data());
    ++pending_;
  }
  // Reads every pending reply; counts the script replies that are not OK.
  void Drain() {
    for (; pending_ > 0; --pending_) {
      redisReply* r = nullptr;
      if (redisGetReply(c_, reinterpret_cast<void**>(&r)) != REDIS_OK) {
        std::fprintf(stderr, "connection lost\n");
        std::exit(1);
      }
      if (r->type == REDIS_REPLY_ERROR) {
        std::fprintf(stderr, "redis: %s\n", r->str);
        std::exit(1);
      }
      if (r->type == REDIS_REPLY_ARRAY) {  // a commit script's answer
        for (size_t i = 0; i < r->elements; ++i) {
          const redisReply* e = r->element[i];
          if (e->type == REDIS_REPLY_STRING && std::string(e->str) != "OK") {
            ++refused_;
          }
        }
      }
      freeReplyObject(r);
    }
  }
  std::string Call(const std::vector<std::string>& args) {
    Drain();
    Append(args);
    redisReply* r = nullptr;
    redisGetReply(c_, reinterpret_cast<void**>(&r));
    --pending_;
    std::string out = r->str != nullptr ? std::string(r->str, r->len) : "";
    freeReplyObject(r);
    return out;
  }
  // Main-thread CPU of the server so far, µs.
  double CpuMicros() {
    std::string info = Call({"INFO", "cpu"});
    auto field = [&](const char* name) {
      size_t at = info.find(name);
      double v = 0;
      if (at != std::string::npos) {
        size_t end = info.find('\r', at);
        absl::SimpleAtod(
            info.substr(at + strlen(name), end - at - strlen(name)), &v);
      }
      return v;
    };
    return (field("used_cpu_user_main_thread:") +
            field("used_cpu_sys_main_thread:")) *
           1e6;
  }
  int pending() const { return pending_; }
  // Script commits that did not answer OK (must stay 0: one writer).
  int64_t refused() const { return refused_; }

 private:
  redisContext* c_;
  int pending_ = 0;
  int64_t refused_ = 0;
};

std::string Key(int customer, const char* kind) {
  return absl::StrCat("cx:bench:{p:", customer % kPartitions, "}:c:rcust_",
                      customer, ":", kind);
}
std::string Tombstone(int customer) {
  return absl::StrCat("cx:bench:{p:", customer % kPartitions,
                      "}:erased:", std::string(64, '0' + customer % 10),
                      customer);
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string design = absl::GetFlag(FLAGS_design);
  const int group = std::max(1, absl::GetFlag(FLAGS_group));
  const int customers = absl::GetFlag(FLAGS_customers);
  const int rounds = absl::GetFlag(FLAGS_rounds);
  const std::string state(absl::GetFlag(FLAGS_state_bytes), 'S');
  const std::string entry(115, 'E');
  const std::string delta(80, 'D');
  const std::string dir = absl::GetFlag(FLAGS_script_dir);

  Redis redis(absl::GetFlag(FLAGS_redis));
  redis.Call({"FLUSHALL"});
  const std::string profile_sha = redis.Call(
      {"SCRIPT", "LOAD", ReadFile(dir + "/profile/lua/apply_events.lua")});
  const std::string journey_sha = redis.Call(
      {"SCRIPT", "LOAD", ReadFile(dir + "/journey/lua/apply_events.lua")});
  const std::string partition_sha =
      redis.Call({"SCRIPT", "LOAD", kPartitionScript});

  // Customers of one partition, in order, so a group shares one slot.
  std::vector<int> order;
  for (int p = 0; p < kPartitions; ++p) {
    for (int c = p; c < customers; c += kPartitions) order.push_back(c);
  }
  std::vector<int64_t> version(customers, 0);
  auto flush_if_full = [&] {
    if (redis.pending() >= kInFlight) redis.Drain();
  };

  const double cpu0 = redis.CpuMicros();
  const auto wall0 = std::chrono::steady_clock::now();
  int64_t commits = 0;
  for (int round = 0; round < rounds; ++round) {
    const std::string ms = absl::StrCat(1700000000000LL + round);
    for (size_t i = 0; i < order.size();) {
      // The next group: customers of one partition only.
      size_t end = i + 1;
      while (end < order.size() && end - i < static_cast<size_t>(group) &&
             order[end] % kPartitions == order[i] % kPartitions) {
        ++end;
      }
      if (design == "plain") {
        end = i + 1;
        int c = order[i];
        redis.Append({"HSET", Key(c, "profile"), "v",
                      absl::StrCat(++version[c]), "s", state});
        redis.Append({"ZADD", Key(c, "timeline"), ms, entry});
      } else if (design == "profile") {
        end = i + 1;
        int c = order[i];
        redis.Append({"EVALSHA", profile_sha, "5", Key(c, "profile"),
                      Key(c, "timeline"), Key(c, "merged_into"), Tombstone(c),
                      Key(c, "claims"), absl::StrCat(version[c]++), state, "",
                      "", "100", "1", ms, entry});
      } else if (design == "journey") {
        end = i + 1;
        int c = order[i];
        redis.Append({"EVALSHA", journey_sha, "5", Key(c, "journey"),
                      Tombstone(c), Key(c, "merged_into"),
                      absl::StrCat("cx:bench:{p:", c % kPartitions, "}:outbox"),
                      Key(c, "merged"), absl::StrCat(version[c]++), state,
                      delta, "0"});
      } else if (design == "partition") {
        std::vector<std::string> args = {"EVALSHA", partition_sha,
                                         absl::StrCat(4 * (end - i))};
        for (size_t j = i; j < end; ++j) {
          int c = order[j];
          for (const char* kind : {"profile", "timeline", "merged_into"}) {
            args.push_back(Key(c, kind));
          }
          args.push_back(Tombstone(c));
        }
        for (size_t j = i; j < end; ++j) {
          int c = order[j];
          args.push_back(absl::StrCat(version[c]++));
          args.push_back(state);
          args.push_back(ms);
          args.push_back(entry);
        }
        redis.Append(args);
      } else if (design == "watch") {
        for (size_t j = i; j < end; ++j) {
          int c = order[j];
          redis.Append({"WATCH", Key(c, "profile"), Key(c, "merged_into"),
                        Tombstone(c)});
          redis.Append({"HGET", Key(c, "profile"), "v"});
          redis.Append({"EXISTS", Tombstone(c), Key(c, "merged_into")});
        }
        redis.Drain();  // the round trip a transaction needs before MULTI
        redis.Append({"MULTI"});
        for (size_t j = i; j < end; ++j) {
          int c = order[j];
          redis.Append({"HSET", Key(c, "profile"), "v",
                        absl::StrCat(++version[c]), "s", state});
          redis.Append({"ZADD", Key(c, "timeline"), ms, entry});
        }
        redis.Append({"EXEC"});
        redis.Drain();
      } else {
        std::fprintf(stderr, "unknown --design %s\n", design.c_str());
        return 2;
      }
      commits += static_cast<int64_t>(end - i);
      i = end;
      flush_if_full();
    }
  }
  redis.Drain();
  const double wall = std::chrono::duration<double, std::micro>(
                          std::chrono::steady_clock::now() - wall0)
                          .count();
  const double cpu = redis.CpuMicros() - cpu0;
  if (redis.refused() > 0) {
    std::fprintf(stderr, "%lld commits refused\n",
                 static_cast<long long>(redis.refused()));
    return 1;
  }
  std::printf(
      "design=%s group=%d commits=%lld redis_us_per_commit=%.2f "
      "wall_us_per_commit=%.2f\n",
      design.c_str(), design == "partition" || design == "watch" ? group : 1,
      static_cast<long long>(commits), cpu / commits, wall / commits);
  return 0;
}
