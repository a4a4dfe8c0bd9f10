// Client's cluster mode (libs/redis/client.h): the slot map, a NodePool per
// node, and the routing of commands and pipelines with MOVED/ASK/TRYAGAIN/
// CLUSTERDOWN handling. Callers use Client; this is its implementation.
//
//   ClusterRouter router(options);  // options.cluster, host:port + seeds
//   absl::StatusOr<PipelineReplies> r = router.Execute(
//       commands, /*scripts=*/{}, /*waits=*/0, options.command_timeout,
//       /*blocking=*/false);
#ifndef OMNICX_LIBS_REDIS_CLUSTER_ROUTER_H_
#define OMNICX_LIBS_REDIS_CLUSTER_ROUTER_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/redis/client.h"
#include "libs/redis/node_pool.h"
#include "libs/redis/script.h"

namespace omnicx::redis {

class ClusterRouter {
 public:
  // `options` must outlive the router.
  explicit ClusterRouter(const ClientOptions& options);
  ~ClusterRouter();

  // Runs `commands`, each on the node serving its slot, one round trip per
  // node (nodes in turn), replies in the caller's order. EVALSHA replies
  // NOSCRIPT for `scripts` are loaded on that node and re-run once; the last
  // `waits` commands are WAITs sent behind the writes on every node written
  // to, each reply the minimum over nodes and runs. `blocking`: use the
  // nodes' blocking pools.
  absl::StatusOr<PipelineReplies> Execute(
      const std::vector<redis::Command>& commands,
      const std::vector<const Script*>& scripts, size_t waits,
      absl::Duration timeout, bool blocking);

  // Every slot is served and every primary answers PING.
  absl::Status Ping();

  // `commands` as one pipeline on every primary of the current map.
  absl::StatusOr<std::vector<std::pair<std::string, PipelineReplies>>>
  OnEveryPrimary(const std::vector<redis::Command>& commands,
                 absl::Duration timeout);

  // The address of the primary serving `slot` in the current map (loading
  // it first if needed).
  absl::StatusOr<std::string> PrimaryOf(int slot);

 private:
  struct Node;
  struct Item;

  Node* NodeAt(const std::string& address) ABSL_LOCKS_EXCLUDED(mu_);
  Node* NodeAtLocked(const std::string& address)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Loads the slot map from a known node or seed: at once when `force` or
  // none is loaded, else only if marked stale and not done in the last
  // kMinRefreshInterval.
  absl::Status Refresh(bool force) ABSL_LOCKS_EXCLUDED(mu_);
  void MarkStale() ABSL_LOCKS_EXCLUDED(mu_);
  // The primary serving `slot`, any primary for slot -1; null if none.
  Node* Owner(int slot) ABSL_LOCKS_EXCLUDED(mu_);
  Node* OwnerLocked(int slot) ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::StatusOr<PipelineReplies> Broadcast(const redis::Command& command,
                                            absl::Duration timeout);

  const ClientOptions& options_;
  std::vector<std::string> seeds_;
  std::vector<redis::Command> no_commands_;

  absl::Mutex refresh_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Node>> nodes_ ABSL_GUARDED_BY(mu_);
  std::vector<Node*> owner_ ABSL_GUARDED_BY(mu_);  // by slot
  std::vector<Node*> primaries_ ABSL_GUARDED_BY(mu_);
  bool stale_ ABSL_GUARDED_BY(mu_) = true;
  absl::Time last_refresh_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace omnicx::redis

#endif  // OMNICX_LIBS_REDIS_CLUSTER_ROUTER_H_
