// The one Redis client of omnicx, over hiredis 0.14 (synchronous API):
// a bounded connection pool per node, a timeout on every command,
// reconnection with exponential backoff, pipelining, Lua scripts by
// EVALSHA, and Redis Cluster routing.
//
//   ClientOptions options;
//   options.port = 6390;
//   std::unique_ptr<Client> redis = Client::Create(options);
//   absl::StatusOr<Reply> r = redis->Command({"HSET", key, "field", value});
//   auto replies = redis->Pipeline({{"INCR", a}, {"INCR", b}});  // 1 round
//   trip auto out = redis->Eval(kScript, {key}, {arg});
//
// Create never fails and never connects: services start while Redis is down
// and report NOT_SERVING until Ping succeeds. Thread-safe.
//
// Blocking commands (XREAD/XREADGROUP with BLOCK, and WAIT sent alone by
// Command) use a second pool of `blocking_pool_size` connections per node,
// so long reads never pin the command pool. Other blocking commands (BLPOP)
// use the command pool.
//
// Redis Cluster (options.cluster): the client learns the slot map with
// CLUSTER SLOTS from host:port or any of `seeds` (then from any known node)
// and keeps one command pool and one blocking pool per node. Each command
// goes to the primary serving its key's slot (CRC16 of the hash tag,
// libs/redis/slot.h): args[1] for ordinary commands; EVAL/EVALSHA: the first
// key (numkeys > 0), else any primary; XREAD/XREADGROUP: the first key after
// STREAMS; XINFO/XGROUP: args[2]; SCAN: the slot its MATCH pattern's hash
// tag pins (FailedPrecondition without one; KEYS, RANDOMKEY, SELECT too).
// Keyless commands (PING, TIME, INFO, CONFIG, WAIT...) go to one primary;
// SCRIPT LOAD/FLUSH, FLUSHALL and FLUSHDB sent alone go to every primary
// (the first error, else the first reply). Ping() checks that every slot is
// served and every primary answers.
//
// A pipeline is split per node, one round trip per node, nodes in turn
// (sequential), replies in the caller's order; keyless commands in it
// follow their neighbours (MULTI the next keyed command, EXEC its MULTI).
// PipelineScripts loads scripts on the node that answered NOSCRIPT, and
// sends its trailing WAITs behind the writes on every node written to (each
// WAIT's reply is the minimum over nodes and runs).
//
// Redirections and retries, within the command's timeout: MOVED updates
// the slot, marks the map stale and re-sends there (at most 5 times); ASK
// re-sends once on the named node after ASKING; TRYAGAIN and CLUSTERDOWN
// are retried with backoff (2 ms doubling to 100 ms), then returned
// (Unavailable). A node that cannot be connected to (refused, in backoff)
// marks the map stale and the command is retried on the slot's (refreshed)
// owner: it certainly did not run. A timeout or reset after sending is
// returned as Unavailable, as standalone, never retried (a write may have
// run). The map is reloaded at most every 100 ms. Commands used:
// CLUSTER SLOTS, ASKING (the ACL user needs both); replicas are not read.
//
// Errors (absl::Status codes):
//   Unavailable        connection refused/reset, timeout, pool exhausted,
//                      reconnect backoff in effect, AUTH refused at connect
//                      ("AUTH as user \"x\" refused: WRONGPASS ...", never
//                      the password), and the Redis errors
//                      LOADING, BUSY, MASTERDOWN, TRYAGAIN, CLUSTERDOWN;
//                      in cluster mode a slot no node serves;
//   ResourceExhausted  Redis OOM;
//   Internal           any other Redis error reply ("redis: <message>");
//   FailedPrecondition a reply of an unexpected type (Reply::AsX); a
//                      command a cluster cannot route (see above).
// A connection that saw an I/O error or timeout is discarded, never reused.
//
// Waiting for replicas (strict durability of work acknowledged elsewhere,
// e.g. a stream consumer's commits before its XACK): while a
// ReplicaWaitScope lives on a thread, every Command, Pipeline,
// PipelineScripts and Eval that thread runs (on any Client) and that may
// write (MayWrite: anything but known read-only commands) gets a trailing
// `WAIT replicas timeout`, sent behind the writes on every node written to
// (PipelineScripts' waits); the scope keeps the first shortfall or error.
//
//   redis::ReplicaWaitScope wait({.replicas = 1});
//   ... commits ...
//   if (!wait.status().ok()) { /* not replicated: do not acknowledge */ }
#ifndef OMNICX_LIBS_REDIS_CLIENT_H_
#define OMNICX_LIBS_REDIS_CLIENT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/redis/reply.h"
#include "libs/redis/script.h"

namespace omnicx::redis {

struct ClientOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  // ACL user: with one, every connection starts with AUTH user password;
  // without, AUTH password when a password is set (the `default` user).
  std::string user;
  std::string password;
  int db = 0;
  // Connections per node for ordinary commands and pipelines.
  int pool_size = 8;
  // Connections per node for blocking commands (see above).
  int blocking_pool_size = 8;
  absl::Duration connect_timeout = absl::Milliseconds(500);
  absl::Duration command_timeout = absl::Milliseconds(500);
  absl::Duration reconnect_backoff_min = absl::Milliseconds(50);
  absl::Duration reconnect_backoff_max = absl::Seconds(2);
  // Redis Cluster: route by slot (see above). host:port is the first seed;
  // `seeds` are more (host, port) seeds. db must be 0.
  bool cluster = false;
  std::vector<std::pair<std::string, int>> seeds;
  // Called after every round trip: the upper-case command name ("PIPELINE"
  // for several commands), its latency, and whether it reached Redis.
  std::function<void(absl::string_view command, absl::Duration latency,
                     bool ok)>
      observer;
};

using Command = std::vector<std::string>;
using PipelineReplies = std::vector<absl::StatusOr<Reply>>;

struct ReplicaWait {
  // Replicas every write must reach; 0: no WAIT.
  int replicas = 0;
  // WAIT's own timeout; keep it below the client's command_timeout.
  absl::Duration timeout = absl::Milliseconds(200);
};

// See "Waiting for replicas" above. Scopes nest: a WAIT's outcome is
// recorded in every scope alive on the thread, and the innermost one's
// `replicas` and `timeout` are used. replicas 0: the scope does nothing.
class ReplicaWaitScope {
 public:
  explicit ReplicaWaitScope(ReplicaWait wait);
  ~ReplicaWaitScope();
  ReplicaWaitScope(const ReplicaWaitScope&) = delete;
  ReplicaWaitScope& operator=(const ReplicaWaitScope&) = delete;

  // OK when every WAIT sent in the scope saw `replicas` replicas; else
  // Unavailable (the count, or the WAIT's error).
  absl::Status status() const { return status_; }
  // WAIT rounds sent in the scope (one per pipeline, whatever its nodes).
  int64_t waits() const { return waits_; }

  // The innermost live scope with replicas > 0 on this thread, or null.
  static ReplicaWaitScope* Current();
  // The WAIT command to append.
  redis::Command WaitCommand() const;
  // Records one WAIT reply in this scope and every outer one.
  void Record(const absl::StatusOr<Reply>& reply);

 private:
  const ReplicaWait wait_;
  ReplicaWaitScope* const outer_;
  absl::Status status_;
  int64_t waits_ = 0;
};

class NodePool;
class ClusterRouter;

class Client {
 public:
  static std::unique_ptr<Client> Create(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // One command; binary-safe arguments.
  absl::StatusOr<Reply> Command(const redis::Command& args);
  // One command with its own timeout (e.g. XREADGROUP BLOCK: block time plus
  // a margin).
  absl::StatusOr<Reply> Command(const redis::Command& args,
                                absl::Duration timeout);

  // All commands written, then all replies read: one round trip on one
  // connection. The outer status is a connection failure; each inner status
  // is that command's Redis error, if any.
  absl::StatusOr<PipelineReplies> Pipeline(
      const std::vector<redis::Command>& commands);

  // Pipeline in which EVALSHA commands (EvalShaCommand) of `scripts` that
  // fail with NOSCRIPT are loaded and re-run — only those, so commands that
  // succeeded are not repeated.
  //
  // The last `waits` commands are WAITs for replicas, which must follow
  // every write of the pipeline on the connection that made it. After a
  // re-run they are sent again behind it, and each WAIT's reply is the
  // smaller count of its two runs (an error if either failed): the first
  // run covers the writes of the first round trip, the second the re-run.
  absl::StatusOr<PipelineReplies> PipelineScripts(
      const std::vector<redis::Command>& commands,
      const std::vector<const Script*>& scripts, size_t waits = 0);

  // EVALSHA, loading the script on NOSCRIPT and retrying once.
  absl::StatusOr<Reply> Eval(const Script& script,
                             const std::vector<std::string>& keys,
                             const std::vector<std::string>& args);

  absl::Status Ping();

  // Runs `commands` as one pipeline on every primary (standalone: the one
  // node), for keyless checks that must hold on each node (CONFIG GET).
  // One (address, replies) per primary; the outer status is the first
  // node that could not be reached.
  absl::StatusOr<std::vector<std::pair<std::string, PipelineReplies>>>
  PipelineOnEveryPrimary(const std::vector<redis::Command>& commands);

  // "host:port" (the first seed in cluster mode).
  std::string address() const;

  bool cluster() const { return options_.cluster; }

  // Cluster mode: the "host:port" of the primary serving `key`'s slot in
  // the client's current slot map (loading it if needed). Standalone:
  // address().
  absl::StatusOr<std::string> NodeOf(absl::string_view key);

 private:
  explicit Client(ClientOptions options);

  absl::StatusOr<PipelineReplies> RoundTrip(
      const std::vector<redis::Command>& commands, absl::Duration timeout,
      bool blocking);
  absl::StatusOr<PipelineReplies> RunScripts(
      const std::vector<redis::Command>& commands,
      const std::vector<const Script*>& scripts, size_t waits);
  // With a ReplicaWaitScope and a write among `commands` (and no WAITs of
  // the caller's): runs them with a trailing WAIT, records its reply in the
  // scope and returns the commands' replies; else nullopt.
  std::optional<absl::StatusOr<PipelineReplies>> WithReplicaWait(
      const std::vector<redis::Command>& commands,
      const std::vector<const Script*>& scripts, size_t waits);

  const ClientOptions options_;
  // Standalone: the pools of the one node. Cluster: the router.
  std::unique_ptr<NodePool> pool_;
  std::unique_ptr<NodePool> blocking_pool_;
  std::unique_ptr<ClusterRouter> router_;
};

// Maps a Redis error reply's text to a status (see the header comment).
absl::Status ErrorReplyStatus(absl::string_view message);

}  // namespace omnicx::redis

#endif  // OMNICX_LIBS_REDIS_CLIENT_H_
