// A real Redis Cluster for tests: N primaries (default 3) and optional
// replicas, each a RedisServer (libs/testing/redis_server.h) in cluster
// mode on free 127.0.0.1 ports, the 16384 slots split evenly
// (CLUSTER ADDSLOTSRANGE), joined by CLUSTER MEET, replicas attached by
// CLUSTER REPLICATE. Start returns once every node reports cluster_state:ok
// and sees every slot range with its replicas (bounded wait, 20 s).
//
//   auto cluster = RedisCluster::Start({.primaries = 3, .replicas = 1});
//   ASSERT_TRUE(cluster.ok()) << cluster.status();
//   auto client = redis::Client::Create((*cluster)->ClientOptions());
//   (*cluster)->MigrateSlot(slot, 0, 1);     // resharding
//   (*cluster)->KillNode(0);                 // primary 0 dies
//   (*cluster)->Failover((*cluster)->ReplicaIndex(0, 0));  // TAKEOVER
//
// Nodes are numbered: primaries 0..N-1, then the replicas of primary 0, of
// primary 1, ... (ReplicaIndex). Server options (ACL users, password,
// appendonly, extra args) apply to every node; cluster is forced on, and
// every node gets masterauth (and masteruser `default` with ACL users) so
// any may become a replica.
#ifndef OMNICX_LIBS_TESTING_REDIS_CLUSTER_H_
#define OMNICX_LIBS_TESTING_REDIS_CLUSTER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/redis/client.h"
#include "libs/testing/redis_server.h"

namespace omnicx::testing {

class RedisCluster {
 public:
  struct Options {
    int primaries = 3;
    // Replicas of each primary.
    int replicas = 0;
    RedisServer::Options server;
    // cluster-node-timeout.
    absl::Duration node_timeout = absl::Seconds(2);
  };

  static absl::StatusOr<std::unique_ptr<RedisCluster>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<RedisCluster>> Start() {
    return Start(Options());
  }

  int size() const { return static_cast<int>(nodes_.size()); }
  int primaries() const { return options_.primaries; }
  RedisServer& node(int i) { return *nodes_[i]; }
  int ReplicaIndex(int primary, int replica) const {
    return options_.primaries + primary * options_.replicas + replica;
  }
  // The index of the node at "host:port", or -1.
  int IndexOf(const std::string& address) const;
  // host:port of every node, as client seeds.
  std::vector<std::pair<std::string, int>> seeds() const;
  // Cluster-mode client options: node 0 and the other nodes as seeds, the
  // `default` user's password (Options::server.password or its ACL one).
  redis::ClientOptions ClientOptions() const;
  // A standalone client on node `i` (as `default`), for admin and checks.
  std::unique_ptr<redis::Client> NodeClient(int i) const;
  // CLUSTER MYID of node `i` (read at start).
  const std::string& NodeId(int i) const { return ids_[i]; }

  // Moving one slot from node `from` to node `to` (primaries), in the steps
  // of redis-cli --cluster reshard, so a test can act between them:
  // SETSLOT IMPORTING on `to` and MIGRATING on `from`; MIGRATE of the
  // slot's keys (all, or at most `max_keys`); SETSLOT NODE on every
  // primary. MigrateSlot does all three.
  absl::Status BeginMigration(int slot, int from, int to);
  absl::Status MigrateKeys(int slot, int from, int to, int max_keys = -1);
  absl::Status FinishMigration(int slot, int to);
  absl::Status MigrateSlot(int slot, int from, int to);

  // SIGKILL of node `i` (its slots stay unserved until a failover).
  absl::Status KillNode(int i);
  // CLUSTER FAILOVER TAKEOVER on replica `i`; returns once it is a primary
  // and every running node serves the slot map with it (bounded wait).
  absl::Status Failover(int i);
  // Until every running node reports cluster_state:ok and the same
  // CLUSTER SLOTS covering every slot, each range with at least
  // `min_replicas` replicas (bounded wait).
  absl::Status WaitConverged(int min_replicas = 0,
                             absl::Duration timeout = absl::Seconds(20));

 private:
  explicit RedisCluster(Options options) : options_(std::move(options)) {}
  absl::Status Build();
  absl::StatusOr<redis::Reply> Admin(int i, const redis::Command& command);
  std::string DefaultPassword() const;

  Options options_;
  std::vector<std::unique_ptr<RedisServer>> nodes_;
  std::vector<std::string> ids_;
};

}  // namespace omnicx::testing

#endif  // OMNICX_LIBS_TESTING_REDIS_CLUSTER_H_
