// The connections of one Redis node: a bounded pool, a timeout on every
// round trip, AUTH (and SELECT) on connect, and reconnection with
// exponential backoff. Client (libs/redis/client.h) keeps one per node
// (and one more per node for blocking commands); callers use Client.
//
//   NodePool pool("127.0.0.1", 6379, options, options.pool_size);
//   bool sent = false;
//   absl::StatusOr<PipelineReplies> r =
//       pool.RoundTrip({&command}, options.command_timeout, &sent);
#ifndef OMNICX_LIBS_REDIS_NODE_POOL_H_
#define OMNICX_LIBS_REDIS_NODE_POOL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/redis/client.h"

namespace omnicx::redis {

class NodePool {
 public:
  // Uses options' user, password, db, timeouts, backoff and observer;
  // `size` connections at most.
  NodePool(std::string host, int port, const ClientOptions& options, int size);
  ~NodePool();
  NodePool(const NodePool&) = delete;
  NodePool& operator=(const NodePool&) = delete;

  // All commands written on one connection, then all replies read. The
  // outer status is a connection failure (Unavailable). `sent` (optional)
  // says whether any byte may have reached the node: false when no
  // connection could be had (refused, backoff, pool busy), so the commands
  // certainly did not run.
  absl::StatusOr<PipelineReplies> RoundTrip(
      const std::vector<const redis::Command*>& commands,
      absl::Duration timeout, bool* sent = nullptr);

  // "host:port".
  const std::string& address() const { return address_; }

 private:
  class Connection;

  absl::StatusOr<std::unique_ptr<Connection>> Acquire();
  void Release(std::unique_ptr<Connection> connection);

  const std::string host_;
  const int port_;
  const std::string address_;
  const ClientOptions& options_;
  const int size_;
  absl::Mutex mu_;
  absl::CondVar released_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time next_connect_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Duration backoff_ ABSL_GUARDED_BY(mu_);
};

}  // namespace omnicx::redis

#endif  // OMNICX_LIBS_REDIS_NODE_POOL_H_
