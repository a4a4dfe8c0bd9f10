#include "libs/redis/cluster_router.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/redis/cluster_routing.h"
#include "libs/redis/slot.h"

namespace omnicx::redis {
namespace {

// The slot map is reloaded at most this often (MOVED updates the one slot
// at once; the reload catches up with the rest of a resharding/failover).
constexpr absl::Duration kMinRefreshInterval = absl::Milliseconds(100);
// TRYAGAIN/CLUSTERDOWN/unreachable-node retries back off from 2 ms to this.
constexpr absl::Duration kMaxRetryBackoff = absl::Milliseconds(100);
// Redirections followed per command.
constexpr int kMaxRedirects = 5;
// Rounds of one call (the deadline usually ends them first).
constexpr int kMaxRounds = 32;

const redis::Command& AskingCommand() {
  static const auto* kAsking = new redis::Command{"ASKING"};
  return *kAsking;
}

const redis::Command& ClusterSlotsCommand() {
  static const auto* kSlots = new redis::Command{"CLUSTER", "SLOTS"};
  return *kSlots;
}

bool IsRetryableClusterError(absl::string_view message) {
  return absl::StartsWith(message, "redis: TRYAGAIN") ||
         absl::StartsWith(message, "redis: CLUSTERDOWN");
}

bool IsNoScript(const absl::StatusOr<Reply>& r) {
  return !r.ok() && absl::StrContains(r.status().message(), "NOSCRIPT");
}

// A WAIT's reply over several runs: the smallest count, or an error if any
// run failed.
void FoldWait(std::optional<absl::StatusOr<Reply>>& acc,
              absl::StatusOr<Reply> run) {
  if (!acc.has_value()) {
    acc = std::move(run);
    return;
  }
  if (!acc->ok()) return;
  if (!run.ok() || run->integer() < (*acc)->integer()) acc = std::move(run);
}

}  // namespace

struct ClusterRouter::Node {
  Node(const std::string& host, int port, const ClientOptions& options)
      : pool(host, port, options, options.pool_size),
        blocking(host, port, options, options.blocking_pool_size) {}
  NodePool pool;
  NodePool blocking;
};

// One command of a call on its way: where it goes next and how.
struct ClusterRouter::Item {
  size_t index = 0;
  int slot = -1;  // -1: keyless, any primary
  Node* node = nullptr;
  bool asking = false;  // send ASKING first (after an ASK redirection)
  bool load = false;    // load the scripts first (after NOSCRIPT)
  int redirects = 0;
};

ClusterRouter::ClusterRouter(const ClientOptions& options)
    : options_(options), owner_(kClusterSlots, nullptr) {
  seeds_.push_back(NodePool(options.host, options.port, options, 1).address());
  for (const auto& [host, port] : options.seeds) {
    std::string address = NodePool(host, port, options, 1).address();
    if (std::find(seeds_.begin(), seeds_.end(), address) == seeds_.end()) {
      seeds_.push_back(std::move(address));
    }
  }
}

ClusterRouter::~ClusterRouter() = default;

ClusterRouter::Node* ClusterRouter::NodeAt(const std::string& address) {
  absl::MutexLock lock(&mu_);
  return NodeAtLocked(address);
}

ClusterRouter::Node* ClusterRouter::NodeAtLocked(const std::string& address) {
  auto it = nodes_.find(address);
  if (it != nodes_.end()) return it->second.get();
  std::string host;
  int port = 0;
  if (!SplitHostPort(address, &host, &port)) return nullptr;
  auto node = std::make_unique<Node>(host, port, options_);
  Node* raw = node.get();
  nodes_.emplace(address, std::move(node));
  return raw;
}

void ClusterRouter::MarkStale() {
  absl::MutexLock lock(&mu_);
  stale_ = true;
}

ClusterRouter::Node* ClusterRouter::OwnerLocked(int slot) {
  if (slot >= 0) return owner_[slot];
  return primaries_.empty() ? nullptr : primaries_.front();
}

ClusterRouter::Node* ClusterRouter::Owner(int slot) {
  absl::ReaderMutexLock lock(&mu_);
  return OwnerLocked(slot);
}

absl::Status ClusterRouter::Refresh(bool force) {
  auto loaded_and_fresh = [&]() {
    absl::ReaderMutexLock lock(&mu_);
    return !primaries_.empty() &&
           (!stale_ || absl::Now() - last_refresh_ < kMinRefreshInterval);
  };
  if (!force && loaded_and_fresh()) return absl::OkStatus();
  // One refresh at a time; callers with a map do not wait for another's.
  if (!refresh_mu_.TryLock()) {
    if (!force) {
      absl::ReaderMutexLock lock(&mu_);
      if (!primaries_.empty()) return absl::OkStatus();
    }
    refresh_mu_.Lock();
  }
  struct Unlock {
    absl::Mutex* mu;
    ~Unlock() { mu->Unlock(); }
  } unlock{&refresh_mu_};
  std::vector<std::string> candidates;
  {
    absl::MutexLock lock(&mu_);
    const bool loaded = !primaries_.empty();
    if (!force && loaded && !stale_) return absl::OkStatus();
    if (!force && absl::Now() - last_refresh_ < kMinRefreshInterval) {
      if (loaded) return absl::OkStatus();
      return absl::UnavailableError(
          "redis cluster: no slot map yet (no seed answered CLUSTER SLOTS)");
    }
    for (const auto& [address, node] : nodes_) {
      (void)node;
      candidates.push_back(address);
    }
    // Known primaries first: they answered last time.
    std::stable_partition(
        candidates.begin(), candidates.end(), [&](const std::string& a) {
          Node* n = nodes_.at(a).get();
          return std::find(primaries_.begin(), primaries_.end(), n) !=
                 primaries_.end();
        });
    for (const std::string& seed : seeds_) {
      if (std::find(candidates.begin(), candidates.end(), seed) ==
          candidates.end()) {
        candidates.push_back(seed);
      }
    }
  }
  absl::Status last = absl::UnavailableError("no node to ask");
  for (const std::string& address : candidates) {
    Node* node = NodeAt(address);
    if (node == nullptr) continue;
    absl::StatusOr<PipelineReplies> r = node->pool.RoundTrip(
        {&ClusterSlotsCommand()}, options_.command_timeout);
    if (!r.ok()) {
      last = r.status();
      continue;
    }
    if (!r->front().ok()) {
      last = r->front().status();
      continue;
    }
    std::string host;
    int port = 0;
    SplitHostPort(address, &host, &port);
    absl::StatusOr<std::vector<SlotRange>> ranges =
        ParseClusterSlots(*r->front(), host);
    if (!ranges.ok()) {
      last = ranges.status();
      continue;
    }
    if (ranges->empty()) {
      last = absl::UnavailableError(
          absl::StrCat("redis ", address, ": serves no slots"));
      continue;
    }
    absl::MutexLock lock(&mu_);
    std::vector<Node*> owner(kClusterSlots, nullptr);
    std::vector<Node*> primaries;
    for (const SlotRange& range : *ranges) {
      Node* primary = NodeAtLocked(range.primary);
      if (primary == nullptr) continue;
      for (const std::string& replica : range.replicas) NodeAtLocked(replica);
      std::fill(owner.begin() + range.first, owner.begin() + range.last + 1,
                primary);
      if (std::find(primaries.begin(), primaries.end(), primary) ==
          primaries.end()) {
        primaries.push_back(primary);
      }
    }
    owner_ = std::move(owner);
    primaries_ = std::move(primaries);
    stale_ = false;
    last_refresh_ = absl::Now();
    return absl::OkStatus();
  }
  absl::MutexLock lock(&mu_);
  last_refresh_ = absl::Now();
  return absl::UnavailableError(absl::StrCat(
      "redis cluster: no node answered CLUSTER SLOTS; last: ", last.message()));
}

absl::StatusOr<std::string> ClusterRouter::PrimaryOf(int slot) {
  absl::Status loaded = Refresh(false);
  absl::ReaderMutexLock lock(&mu_);
  if (primaries_.empty()) return loaded;
  for (const auto& [address, node] : nodes_) {
    if (node.get() == owner_[slot]) return address;
  }
  return absl::UnavailableError(absl::StrCat("no node serves slot ", slot));
}

absl::Status ClusterRouter::Ping() {
  if (absl::Status s = Refresh(false); !s.ok()) return s;
  std::vector<Node*> primaries;
  {
    absl::ReaderMutexLock lock(&mu_);
    primaries = primaries_;
    const int served = static_cast<int>(
        std::count_if(owner_.begin(), owner_.end(),
                      [](const Node* n) { return n != nullptr; }));
    if (served < kClusterSlots) {
      return absl::UnavailableError(absl::StrCat(
          "redis cluster: ", kClusterSlots - served, " slots not served"));
    }
  }
  static const auto* kPing = new redis::Command{"PING"};
  for (Node* node : primaries) {
    absl::StatusOr<PipelineReplies> r =
        node->pool.RoundTrip({kPing}, options_.command_timeout);
    if (!r.ok()) {
      MarkStale();
      return r.status();
    }
    if (!r->front().ok()) return r->front().status();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<std::string, PipelineReplies>>>
ClusterRouter::OnEveryPrimary(const std::vector<redis::Command>& commands,
                              absl::Duration timeout) {
  if (absl::Status s = Refresh(false); !s.ok()) return s;
  std::vector<Node*> primaries;
  {
    absl::ReaderMutexLock lock(&mu_);
    primaries = primaries_;
  }
  if (primaries.empty()) {
    return absl::UnavailableError("redis cluster: no primary known");
  }
  std::vector<const redis::Command*> pointers;
  pointers.reserve(commands.size());
  for (const redis::Command& c : commands) pointers.push_back(&c);
  std::vector<std::pair<std::string, PipelineReplies>> out;
  for (Node* node : primaries) {
    absl::StatusOr<PipelineReplies> r = node->pool.RoundTrip(pointers, timeout);
    if (!r.ok()) {
      MarkStale();
      return r.status();
    }
    out.emplace_back(node->pool.address(), std::move(*r));
  }
  return out;
}

absl::StatusOr<PipelineReplies> ClusterRouter::Broadcast(
    const redis::Command& command, absl::Duration timeout) {
  std::vector<Node*> primaries;
  {
    absl::ReaderMutexLock lock(&mu_);
    primaries = primaries_;
  }
  PipelineReplies first;
  for (Node* node : primaries) {
    absl::StatusOr<PipelineReplies> r =
        node->pool.RoundTrip({&command}, timeout);
    if (!r.ok()) {
      MarkStale();
      return r.status();
    }
    if (first.empty() || (first.front().ok() && !r->front().ok())) {
      first = std::move(*r);
    }
  }
  return first;
}

absl::StatusOr<PipelineReplies> ClusterRouter::Execute(
    const std::vector<redis::Command>& commands,
    const std::vector<const Script*>& scripts, size_t waits,
    absl::Duration timeout, bool blocking) {
  PipelineReplies replies;
  if (commands.empty()) return replies;
  const absl::Time deadline = absl::Now() + timeout;
  if (absl::Status loaded = Refresh(false); !loaded.ok()) {
    absl::ReaderMutexLock lock(&mu_);
    if (primaries_.empty()) return loaded;
  }
  waits = std::min(waits, commands.size());
  if (waits == commands.size()) waits = 0;  // WAITs alone: plain commands
  const size_t body = commands.size() - waits;

  // Each command's slot; keyless ones follow their neighbours so that
  // MULTI ... EXEC stays on one node: MULTI goes with the next keyed
  // command, EXEC/DISCARD with their MULTI, any other keyless command with
  // the previous keyed command (else the next, else any primary).
  replies.resize(commands.size());
  std::vector<int> slot(body, -1);
  std::vector<bool> keyed(body, false);
  std::vector<bool> routable(body, true);
  for (size_t i = 0; i < body; ++i) {
    absl::StatusOr<CommandRoute> route = RouteOf(commands[i]);
    if (!route.ok()) {
      replies[i] = route.status();
      routable[i] = false;
      continue;
    }
    if (route->kind == CommandRoute::Kind::kEveryPrimary && body == 1 &&
        waits == 0) {
      return Broadcast(commands[i], timeout);
    }
    if (route->kind == CommandRoute::Kind::kSlot) {
      slot[i] = route->slot;
      keyed[i] = true;
    }
  }
  {
    std::vector<int> next_keyed(body + 1, -1);
    for (size_t i = body; i-- > 0;) {
      next_keyed[i] = keyed[i] ? slot[i] : next_keyed[i + 1];
    }
    int previous = -1;
    int multi = -1;
    for (size_t i = 0; i < body; ++i) {
      if (keyed[i]) {
        previous = slot[i];
        continue;
      }
      const std::string& name = commands[i].empty() ? "" : commands[i][0];
      if (absl::EqualsIgnoreCase(name, "MULTI")) {
        multi = slot[i] = next_keyed[i + 1];
      } else if (IsTransactionCommand(name)) {
        slot[i] = multi;
      } else {
        slot[i] = previous >= 0 ? previous : next_keyed[i + 1];
      }
    }
  }

  std::vector<Item> pending;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (size_t i = 0; i < body; ++i) {
      if (!routable[i]) continue;
      Item item;
      item.index = i;
      item.slot = slot[i];
      item.node = OwnerLocked(slot[i]);
      pending.push_back(item);
    }
  }
  std::vector<redis::Command> loads;  // built on the first NOSCRIPT
  std::vector<std::optional<absl::StatusOr<Reply>>> wait_replies(waits);
  absl::Duration backoff = absl::Milliseconds(2);

  for (int round = 0; !pending.empty(); ++round) {
    std::vector<Item> next;
    bool back_off = false;
    // Items with no node (slot not served): try a fresh map once.
    for (Item& item : pending) {
      if (item.node != nullptr) continue;
      MarkStale();
      (void)Refresh(false);
      item.node = Owner(item.slot);
      if (item.node == nullptr) {
        replies[item.index] = absl::UnavailableError(
            absl::StrCat("redis cluster: no node serves slot ", item.slot));
      }
    }
    // Group by node, in order of first appearance.
    std::vector<std::pair<Node*, std::vector<Item>>> groups;
    for (const Item& item : pending) {
      if (item.node == nullptr) continue;
      auto g = std::find_if(groups.begin(), groups.end(), [&](const auto& p) {
        return p.first == item.node;
      });
      if (g == groups.end()) {
        groups.emplace_back(item.node, std::vector<Item>());
        g = groups.end() - 1;
      }
      g->second.push_back(item);
    }
    for (auto& [node, items] : groups) {
      const bool load = std::any_of(items.begin(), items.end(),
                                    [](const Item& i) { return i.load; });
      std::vector<const redis::Command*> sent_commands;
      sent_commands.reserve(items.size() + waits + (load ? loads.size() : 0));
      if (load) {
        if (loads.empty()) {
          for (const Script* s : scripts) {
            loads.push_back({"SCRIPT", "LOAD", s->source()});
          }
        }
        for (const redis::Command& l : loads) sent_commands.push_back(&l);
      }
      for (const Item& item : items) {
        if (item.asking) sent_commands.push_back(&AskingCommand());
        sent_commands.push_back(&commands[item.index]);
      }
      for (size_t w = 0; w < waits; ++w) {
        sent_commands.push_back(&commands[body + w]);
      }
      bool sent = false;
      NodePool& pool = blocking ? node->blocking : node->pool;
      absl::StatusOr<PipelineReplies> r =
          pool.RoundTrip(sent_commands, timeout, &sent);
      if (!r.ok()) {
        MarkStale();
        // Not sent (refused, backoff): nothing ran; try the (refreshed)
        // owner again within the deadline. Sent: unknown, as standalone.
        if (sent || absl::Now() >= deadline || round + 1 >= kMaxRounds) {
          return r.status();
        }
        for (Item item : items) {
          item.node = nullptr;
          item.asking = false;
          next.push_back(item);
        }
        back_off = true;
        continue;
      }
      size_t k = 0;
      if (load) {
        for (; k < loads.size(); ++k) {
          if (!(*r)[k].ok()) return (*r)[k].status();
        }
      }
      for (Item item : items) {
        if (item.asking) ++k;
        absl::StatusOr<Reply>& reply = (*r)[k++];
        replies[item.index] = std::move(reply);
        const absl::StatusOr<Reply>& got = replies[item.index];
        if (got.ok()) continue;
        const absl::string_view message = got.status().message();
        if (std::optional<Redirect> to = ParseRedirect(message)) {
          if (++item.redirects > kMaxRedirects || (to->ask && item.asking)) {
            continue;
          }
          absl::MutexLock lock(&mu_);
          Node* target = NodeAtLocked(to->address);
          if (target == nullptr) continue;
          if (!to->ask) {
            owner_[to->slot] = target;
            stale_ = true;
          }
          item.node = target;
          item.asking = to->ask;
          next.push_back(item);
        } else if (IsRetryableClusterError(message)) {
          if (absl::Now() + backoff >= deadline) continue;
          if (absl::StartsWith(message, "redis: CLUSTERDOWN")) MarkStale();
          item.node = nullptr;
          item.asking = false;
          back_off = true;
          next.push_back(item);
        } else if (IsNoScript(got) && !item.load && !scripts.empty()) {
          item.load = true;  // SCRIPT LOADs go before any ASKING
          next.push_back(item);
        }
      }
      for (size_t w = 0; w < waits; ++w) {
        FoldWait(wait_replies[w], std::move((*r)[k + w]));
      }
    }
    if (round + 1 >= kMaxRounds) break;
    if (back_off) {
      absl::SleepFor(std::min(backoff, deadline - absl::Now()));
      backoff = std::min(backoff * 2, kMaxRetryBackoff);
      (void)Refresh(false);
    }
    for (Item& item : next) {
      if (item.node == nullptr) item.node = Owner(item.slot);
    }
    pending = std::move(next);
  }
  for (size_t w = 0; w < waits; ++w) {
    if (wait_replies[w].has_value()) {
      replies[body + w] = std::move(*wait_replies[w]);
    }
  }
  return replies;
}

}  // namespace omnicx::redis
