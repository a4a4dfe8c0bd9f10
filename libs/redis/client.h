// The one Redis client of omnicx, over hiredis 0.14 (synchronous API):
// a bounded connection pool, a timeout on every command, reconnection with
// exponential backoff, pipelining, and Lua scripts by EVALSHA.
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
// Errors (absl::Status codes):
//   Unavailable        connection refused/reset, timeout, pool exhausted,
//                      reconnect backoff in effect, AUTH refused at connect
//                      ("AUTH as user \"x\" refused: WRONGPASS ...", never
//                      the password), and the Redis errors
//                      LOADING, BUSY, MASTERDOWN, TRYAGAIN, CLUSTERDOWN;
//   ResourceExhausted  Redis OOM;
//   Internal           any other Redis error reply ("redis: <message>");
//   FailedPrecondition a reply of an unexpected type (Reply::AsX).
// A connection that saw an I/O error or timeout is discarded, never reused.
#ifndef OMNICX_LIBS_REDIS_CLIENT_H_
#define OMNICX_LIBS_REDIS_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
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
  int pool_size = 8;
  absl::Duration connect_timeout = absl::Milliseconds(500);
  absl::Duration command_timeout = absl::Milliseconds(500);
  absl::Duration reconnect_backoff_min = absl::Milliseconds(50);
  absl::Duration reconnect_backoff_max = absl::Seconds(2);
  // Called after every round trip: the upper-case command name ("PIPELINE"
  // for several commands), its latency, and whether it reached Redis.
  std::function<void(absl::string_view command, absl::Duration latency,
                     bool ok)>
      observer;
};

using Command = std::vector<std::string>;
using PipelineReplies = std::vector<absl::StatusOr<Reply>>;

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

  // "host:port".
  std::string address() const;

 private:
  class Connection;
  explicit Client(ClientOptions options);

  // A connection for one call, or Unavailable (pool exhausted, backoff,
  // connect failure) within the command timeout.
  absl::StatusOr<std::unique_ptr<Connection>> Acquire();
  void Release(std::unique_ptr<Connection> connection);
  absl::StatusOr<PipelineReplies> RoundTrip(
      const std::vector<redis::Command>& commands, absl::Duration timeout);

  const ClientOptions options_;
  absl::Mutex mu_;
  absl::CondVar released_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time next_connect_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Duration backoff_ ABSL_GUARDED_BY(mu_);
};

// Maps a Redis error reply's text to a status (see the header comment).
absl::Status ErrorReplyStatus(absl::string_view message);

}  // namespace omnicx::redis

#endif  // OMNICX_LIBS_REDIS_CLIENT_H_
