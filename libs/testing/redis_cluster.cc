#include "libs/testing/redis_cluster.h"

#include <algorithm>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/redis/slot.h"
#include "libs/testing/wait.h"

namespace omnicx::testing {
namespace {

// A node's view of the slots: "first-last primary replicas..." lines.
std::string SlotsView(const redis::Reply& slots, int* served,
                      int* min_replicas) {
  std::vector<std::string> lines;
  *served = 0;
  *min_replicas = 1 << 20;
  for (const redis::Reply& range : slots.elements()) {
    const auto& e = range.elements();
    if (e.size() < 3) continue;
    std::vector<std::string> nodes;
    for (size_t i = 2; i < e.size(); ++i) {
      if (e[i].elements().size() < 2) continue;
      nodes.push_back(absl::StrCat(e[i].elements()[0].str(), ":",
                                   e[i].elements()[1].integer()));
    }
    std::sort(nodes.begin() + 1, nodes.end());
    *served += static_cast<int>(e[1].integer() - e[0].integer() + 1);
    *min_replicas = std::min(*min_replicas, static_cast<int>(e.size()) - 3);
    lines.push_back(absl::StrCat(e[0].integer(), "-", e[1].integer(), " ",
                                 absl::StrJoin(nodes, " ")));
  }
  std::sort(lines.begin(), lines.end());
  return absl::StrJoin(lines, "\n");
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisCluster>> RedisCluster::Start(
    Options options) {
  if (options.primaries < 1 || options.replicas < 0) {
    return absl::InvalidArgumentError("RedisCluster: bad node counts");
  }
  std::unique_ptr<RedisCluster> cluster(new RedisCluster(std::move(options)));
  if (absl::Status s = cluster->Build(); !s.ok()) return s;
  return cluster;
}

std::string RedisCluster::DefaultPassword() const {
  auto it = options_.server.acl_passwords.find("default");
  if (it != options_.server.acl_passwords.end()) return it->second;
  return options_.server.password;
}

absl::Status RedisCluster::Build() {
  RedisServer::Options server = options_.server;
  server.cluster = true;
  server.extra_args.insert(
      server.extra_args.begin(),
      {"--cluster-node-timeout",
       absl::StrCat(absl::ToInt64Milliseconds(options_.node_timeout))});
  const std::string password = DefaultPassword();
  if (!password.empty()) {
    server.extra_args.push_back("--masterauth");
    server.extra_args.push_back(password);
    if (!options_.server.acl_passwords.empty()) {
      server.extra_args.push_back("--masteruser");
      server.extra_args.push_back("default");
    }
  }
  const int total = options_.primaries * (1 + options_.replicas);
  for (int i = 0; i < total; ++i) {
    absl::StatusOr<std::unique_ptr<RedisServer>> node =
        RedisServer::Start(server);
    if (!node.ok()) return node.status();
    nodes_.push_back(std::move(*node));
  }
  for (int i = 0; i < total; ++i) {
    absl::StatusOr<redis::Reply> id = Admin(i, {"CLUSTER", "MYID"});
    if (!id.ok()) return id.status();
    ids_.push_back(id->str());
  }
  const int n = options_.primaries;
  for (int p = 0; p < n; ++p) {
    const int first = redis::kClusterSlots * p / n;
    const int last = redis::kClusterSlots * (p + 1) / n - 1;
    absl::StatusOr<redis::Reply> r = Admin(
        p,
        {"CLUSTER", "ADDSLOTSRANGE", absl::StrCat(first), absl::StrCat(last)});
    if (!r.ok()) return r.status();
  }
  for (int i = 1; i < total; ++i) {
    absl::StatusOr<redis::Reply> r = Admin(
        0, {"CLUSTER", "MEET", "127.0.0.1", absl::StrCat(nodes_[i]->port()),
            absl::StrCat(nodes_[i]->cluster_port())});
    if (!r.ok()) return r.status();
  }
  // Every node must know every other before a replica can follow one.
  const bool met = WaitUntil(
      [&] {
        for (int i = 0; i < total; ++i) {
          absl::StatusOr<redis::Reply> info = Admin(i, {"CLUSTER", "INFO"});
          if (!info.ok() ||
              !absl::StrContains(
                  info->str(),
                  absl::StrCat("cluster_known_nodes:", total, "\r"))) {
            return false;
          }
        }
        return true;
      },
      absl::Seconds(20));
  if (!met)
    return absl::DeadlineExceededError("RedisCluster: nodes did not meet");
  for (int p = 0; p < n; ++p) {
    for (int r = 0; r < options_.replicas; ++r) {
      const int replica = ReplicaIndex(p, r);
      absl::Status last;
      // The replica may not yet know the primary is one (gossip).
      const bool attached = WaitUntil(
          [&] {
            absl::StatusOr<redis::Reply> ok =
                Admin(replica, {"CLUSTER", "REPLICATE", ids_[p]});
            last = ok.status();
            return ok.ok();
          },
          absl::Seconds(20));
      if (!attached) return last;
    }
  }
  return WaitConverged(options_.replicas);
}

absl::Status RedisCluster::WaitConverged(int min_replicas,
                                         absl::Duration timeout) {
  std::string why;
  const bool converged = WaitUntil(
      [&] {
        std::string reference;
        bool first = true;
        for (int i = 0; i < size(); ++i) {
          if (!nodes_[i]->running()) continue;
          absl::StatusOr<redis::Reply> info = Admin(i, {"CLUSTER", "INFO"});
          if (!info.ok() ||
              !absl::StrContains(info->str(), "cluster_state:ok")) {
            why = absl::StrCat("node ", i, " not ok");
            return false;
          }
          absl::StatusOr<redis::Reply> slots = Admin(i, {"CLUSTER", "SLOTS"});
          if (!slots.ok()) {
            why = std::string(slots.status().message());
            return false;
          }
          int served = 0;
          int replicas = 0;
          std::string view = SlotsView(*slots, &served, &replicas);
          if (served != redis::kClusterSlots || replicas < min_replicas) {
            why = absl::StrCat("node ", i, " sees ", served, " slots, ",
                               replicas, " replicas");
            return false;
          }
          if (first) {
            reference = std::move(view);
            first = false;
          } else if (view != reference) {
            why = absl::StrCat("node ", i, " disagrees on the slot map");
            return false;
          }
        }
        return true;
      },
      timeout);
  if (!converged) {
    return absl::DeadlineExceededError(
        absl::StrCat("RedisCluster: did not converge: ", why));
  }
  return absl::OkStatus();
}

int RedisCluster::IndexOf(const std::string& address) const {
  for (int i = 0; i < size(); ++i) {
    if (nodes_[i]->address() == address) return i;
  }
  return -1;
}

std::vector<std::pair<std::string, int>> RedisCluster::seeds() const {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& node : nodes_) out.emplace_back(node->host(), node->port());
  return out;
}

redis::ClientOptions RedisCluster::ClientOptions() const {
  redis::ClientOptions o;
  o.cluster = true;
  o.host = nodes_[0]->host();
  o.port = nodes_[0]->port();
  for (size_t i = 1; i < nodes_.size(); ++i) {
    o.seeds.emplace_back(nodes_[i]->host(), nodes_[i]->port());
  }
  o.password = DefaultPassword();
  return o;
}

std::unique_ptr<redis::Client> RedisCluster::NodeClient(int i) const {
  redis::ClientOptions o;
  o.host = nodes_[i]->host();
  o.port = nodes_[i]->port();
  o.password = DefaultPassword();
  o.pool_size = 2;
  o.reconnect_backoff_max = absl::Milliseconds(50);
  return redis::Client::Create(o);
}

absl::StatusOr<redis::Reply> RedisCluster::Admin(
    int i, const redis::Command& command) {
  return NodeClient(i)->Command(command, absl::Seconds(5));
}

absl::Status RedisCluster::BeginMigration(int slot, int from, int to) {
  const std::string s = absl::StrCat(slot);
  absl::StatusOr<redis::Reply> r =
      Admin(to, {"CLUSTER", "SETSLOT", s, "IMPORTING", ids_[from]});
  if (!r.ok()) return r.status();
  return Admin(from, {"CLUSTER", "SETSLOT", s, "MIGRATING", ids_[to]}).status();
}

absl::Status RedisCluster::MigrateKeys(int slot, int from, int to,
                                       int max_keys) {
  int moved = 0;
  while (max_keys < 0 || moved < max_keys) {
    const int batch = max_keys < 0 ? 100 : std::min(100, max_keys - moved);
    absl::StatusOr<redis::Reply> keys = Admin(
        from,
        {"CLUSTER", "GETKEYSINSLOT", absl::StrCat(slot), absl::StrCat(batch)});
    if (!keys.ok()) return keys.status();
    if (keys->elements().empty()) break;
    redis::Command migrate = {"MIGRATE",
                              nodes_[to]->host(),
                              absl::StrCat(nodes_[to]->port()),
                              "",
                              "0",
                              "5000"};
    const std::string password = DefaultPassword();
    if (!options_.server.acl_passwords.empty()) {
      migrate.insert(migrate.end(), {"AUTH2", "default", password});
    } else if (!password.empty()) {
      migrate.insert(migrate.end(), {"AUTH", password});
    }
    migrate.push_back("KEYS");
    for (const redis::Reply& key : keys->elements()) {
      migrate.push_back(key.str());
    }
    absl::StatusOr<redis::Reply> r = Admin(from, migrate);
    if (!r.ok()) return r.status();
    moved += static_cast<int>(keys->elements().size());
  }
  return absl::OkStatus();
}

absl::Status RedisCluster::FinishMigration(int slot, int to) {
  const std::string s = absl::StrCat(slot);
  // The new owner first, then every other primary (as redis-cli does).
  absl::StatusOr<redis::Reply> r =
      Admin(to, {"CLUSTER", "SETSLOT", s, "NODE", ids_[to]});
  if (!r.ok()) return r.status();
  for (int p = 0; p < size(); ++p) {
    if (p == to || !nodes_[p]->running()) continue;
    absl::StatusOr<redis::Reply> role = Admin(p, {"ROLE"});
    if (!role.ok() || role->elements().empty() ||
        role->elements()[0].str() != "master") {
      continue;
    }
    r = Admin(p, {"CLUSTER", "SETSLOT", s, "NODE", ids_[to]});
    if (!r.ok()) return r.status();
  }
  return absl::OkStatus();
}

absl::Status RedisCluster::MigrateSlot(int slot, int from, int to) {
  if (absl::Status s = BeginMigration(slot, from, to); !s.ok()) return s;
  if (absl::Status s = MigrateKeys(slot, from, to); !s.ok()) return s;
  return FinishMigration(slot, to);
}

absl::Status RedisCluster::KillNode(int i) { return nodes_[i]->Kill(); }

absl::Status RedisCluster::Failover(int i) {
  absl::StatusOr<redis::Reply> r =
      Admin(i, {"CLUSTER", "FAILOVER", "TAKEOVER"});
  if (!r.ok()) return r.status();
  const bool promoted = WaitUntil(
      [&] {
        absl::StatusOr<redis::Reply> role = Admin(i, {"ROLE"});
        return role.ok() && !role->elements().empty() &&
               role->elements()[0].str() == "master";
      },
      absl::Seconds(20));
  if (!promoted) {
    return absl::DeadlineExceededError("RedisCluster: replica not promoted");
  }
  return WaitConverged(0);
}

}  // namespace omnicx::testing
