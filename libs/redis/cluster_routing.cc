#include "libs/redis/cluster_routing.h"

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/redis/slot.h"

namespace omnicx::redis {
namespace {

CommandRoute SlotOf(absl::string_view key) {
  return {CommandRoute::Kind::kSlot, KeySlot(key)};
}

CommandRoute AnyNode() { return {CommandRoute::Kind::kAnyNode, -1}; }

// The index of the STREAMS token of XREAD/XREADGROUP, or 0.
size_t StreamsIndex(const std::vector<std::string>& args) {
  for (size_t i = 1; i < args.size(); ++i) {
    if (absl::EqualsIgnoreCase(args[i], "STREAMS")) return i;
  }
  return 0;
}

}  // namespace

namespace {

// How a command names its key, for the commands that are not "args[1]".
enum class Shape {
  kScript,        // EVAL/EVALSHA/FCALL: numkeys at args[2], keys after
  kStreams,       // XREAD/XREADGROUP: the first key after STREAMS
  kSecond,        // XINFO/XGROUP/OBJECT: args[2]
  kMemory,        // MEMORY USAGE key
  kScan,          // SCAN: the MATCH pattern's hash tag
  kUnsupported,   // KEYS, RANDOMKEY, SELECT, SWAPDB, MOVE
  kScriptAdmin,   // SCRIPT LOAD/FLUSH on every primary, else any node
  kEveryPrimary,  // FLUSHALL, FLUSHDB
  kKeyless,
};

const absl::flat_hash_map<std::string, Shape>& Shapes() {
  static const auto* shapes = new absl::flat_hash_map<std::string, Shape>{
      {"EVAL", Shape::kScript},
      {"EVALSHA", Shape::kScript},
      {"EVAL_RO", Shape::kScript},
      {"EVALSHA_RO", Shape::kScript},
      {"FCALL", Shape::kScript},
      {"FCALL_RO", Shape::kScript},
      {"XREAD", Shape::kStreams},
      {"XREADGROUP", Shape::kStreams},
      {"XINFO", Shape::kSecond},
      {"XGROUP", Shape::kSecond},
      {"OBJECT", Shape::kSecond},
      {"MEMORY", Shape::kMemory},
      {"SCAN", Shape::kScan},
      {"KEYS", Shape::kUnsupported},
      {"RANDOMKEY", Shape::kUnsupported},
      {"SELECT", Shape::kUnsupported},
      {"SWAPDB", Shape::kUnsupported},
      {"MOVE", Shape::kUnsupported},
      {"SCRIPT", Shape::kScriptAdmin},
      {"FLUSHALL", Shape::kEveryPrimary},
      {"FLUSHDB", Shape::kEveryPrimary},
  };
  return *shapes;
}

}  // namespace

absl::StatusOr<CommandRoute> RouteOf(const std::vector<std::string>& args) {
  if (args.empty()) return AnyNode();
  // The upper-case name, without allocating for ordinary commands.
  char name_buffer[24];
  const std::string& raw = args[0];
  if (raw.size() >= sizeof(name_buffer)) {
    return args.size() < 2 ? AnyNode() : SlotOf(args[1]);
  }
  for (size_t i = 0; i < raw.size(); ++i) {
    name_buffer[i] = absl::ascii_toupper(static_cast<unsigned char>(raw[i]));
  }
  const absl::string_view name(name_buffer, raw.size());
  static const char* const kKeyless[] = {
      "PING",    "TIME",      "INFO",         "WAIT",     "CONFIG",
      "DBSIZE",  "CLIENT",    "CLUSTER",      "ACL",      "COMMAND",
      "DEBUG",   "SAVE",      "BGSAVE",       "LASTSAVE", "ROLE",
      "MULTI",   "EXEC",      "DISCARD",      "ECHO",     "HELLO",
      "AUTH",    "READONLY",  "READWRITE",    "ASKING",   "SLOWLOG",
      "LATENCY", "FUNCTION",  "BGREWRITEAOF", "MONITOR",  "QUIT",
      "LOLWUT",  "REPLICAOF", "SLAVEOF",      "SHUTDOWN", "FAILOVER",
      "UNWATCH"};
  static const auto* keyless = [] {
    auto* set = new absl::flat_hash_map<std::string, Shape>();
    for (const char* k : kKeyless) set->emplace(k, Shape::kKeyless);
    for (const auto& [k, shape] : Shapes()) set->emplace(k, shape);
    return set;
  }();
  auto it = keyless->find(name);
  if (it == keyless->end()) {
    return args.size() < 2 ? AnyNode() : SlotOf(args[1]);
  }
  switch (it->second) {
    case Shape::kScript: {
      int64_t numkeys = 0;
      if (args.size() > 3 && absl::SimpleAtoi(args[2], &numkeys) &&
          numkeys > 0) {
        return SlotOf(args[3]);
      }
      return AnyNode();
    }
    case Shape::kStreams: {
      const size_t streams = StreamsIndex(args);
      if (streams > 0 && streams + 1 < args.size()) {
        return SlotOf(args[streams + 1]);
      }
      return AnyNode();
    }
    case Shape::kSecond:
      return args.size() > 2 ? SlotOf(args[2]) : AnyNode();
    case Shape::kMemory:
      if (args.size() > 2 && absl::EqualsIgnoreCase(args[1], "USAGE")) {
        return SlotOf(args[2]);
      }
      return AnyNode();
    case Shape::kScan:
      for (size_t i = 2; i + 1 < args.size(); ++i) {
        if (!absl::EqualsIgnoreCase(args[i], "MATCH")) continue;
        if (std::optional<int> slot = PatternSlot(args[i + 1])) {
          return CommandRoute{CommandRoute::Kind::kSlot, *slot};
        }
        break;
      }
      return absl::FailedPreconditionError(
          "redis cluster: SCAN needs a MATCH pattern with a hash tag (one "
          "slot); a cluster-wide SCAN is not supported");
    case Shape::kUnsupported:
      return absl::FailedPreconditionError(
          absl::StrCat("redis cluster: ", name, " is not supported"));
    case Shape::kScriptAdmin:
      if (args.size() > 1 && (absl::EqualsIgnoreCase(args[1], "LOAD") ||
                              absl::EqualsIgnoreCase(args[1], "FLUSH"))) {
        return CommandRoute{CommandRoute::Kind::kEveryPrimary, -1};
      }
      return AnyNode();
    case Shape::kEveryPrimary:
      return CommandRoute{CommandRoute::Kind::kEveryPrimary, -1};
    case Shape::kKeyless:
      break;
  }
  return AnyNode();
}

bool IsBlocking(const std::vector<std::string>& args) {
  if (args.empty()) return false;
  if (absl::EqualsIgnoreCase(args[0], "WAIT")) return true;
  if (!absl::EqualsIgnoreCase(args[0], "XREAD") &&
      !absl::EqualsIgnoreCase(args[0], "XREADGROUP")) {
    return false;
  }
  const size_t streams = StreamsIndex(args);
  for (size_t i = 1; i < streams; ++i) {
    if (absl::EqualsIgnoreCase(args[i], "BLOCK")) return true;
  }
  return false;
}

bool MayWrite(const std::vector<std::string>& args) {
  if (args.empty()) return false;
  static const absl::flat_hash_set<std::string>* const kReadOnly =
      new absl::flat_hash_set<std::string>({
          "GET",
          "MGET",
          "STRLEN",
          "GETRANGE",
          "EXISTS",
          "TYPE",
          "TTL",
          "PTTL",
          "HGET",
          "HMGET",
          "HGETALL",
          "HKEYS",
          "HVALS",
          "HLEN",
          "HEXISTS",
          "HSCAN",
          "SMEMBERS",
          "SISMEMBER",
          "SMISMEMBER",
          "SCARD",
          "SSCAN",
          "ZRANGE",
          "ZREVRANGE",
          "ZRANGEBYSCORE",
          "ZREVRANGEBYSCORE",
          "ZSCORE",
          "ZMSCORE",
          "ZCARD",
          "ZCOUNT",
          "ZRANK",
          "ZREVRANK",
          "ZSCAN",
          "LRANGE",
          "LLEN",
          "LINDEX",
          "XRANGE",
          "XREVRANGE",
          "XLEN",
          "XINFO",
          "XPENDING",
          "SCAN",
          "PING",
          "TIME",
          "INFO",
          "DBSIZE",
          "WAIT",
          "EVALSHA_RO",
          "EVAL_RO",
          "CLUSTER",
          "CONFIG",
          "MEMORY",
          "OBJECT",
          "ECHO",
      });
  return !kReadOnly->contains(absl::AsciiStrToUpper(args[0]));
}

bool IsTransactionCommand(absl::string_view name) {
  return absl::EqualsIgnoreCase(name, "MULTI") ||
         absl::EqualsIgnoreCase(name, "EXEC") ||
         absl::EqualsIgnoreCase(name, "DISCARD");
}

namespace {

absl::StatusOr<std::string> NodeAddress(const Reply& node,
                                        absl::string_view asked_host) {
  // [host, port, id, ...]
  if (node.type() != Reply::Type::kArray || node.elements().size() < 2 ||
      node.elements()[1].type() != Reply::Type::kInteger) {
    return absl::InvalidArgumentError("CLUSTER SLOTS: malformed node");
  }
  std::string host = node.elements()[0].str();
  if (host.empty() || host == "?") host = std::string(asked_host);
  if (host.find(':') != std::string::npos) host = absl::StrCat("[", host, "]");
  return absl::StrCat(host, ":", node.elements()[1].integer());
}

}  // namespace

absl::StatusOr<std::vector<SlotRange>> ParseClusterSlots(
    const Reply& reply, absl::string_view asked_host) {
  if (reply.type() != Reply::Type::kArray) {
    return absl::InvalidArgumentError("CLUSTER SLOTS: not an array");
  }
  std::vector<SlotRange> ranges;
  for (const Reply& range : reply.elements()) {
    const std::vector<Reply>& e = range.elements();
    if (range.type() != Reply::Type::kArray || e.size() < 3 ||
        e[0].type() != Reply::Type::kInteger ||
        e[1].type() != Reply::Type::kInteger) {
      return absl::InvalidArgumentError("CLUSTER SLOTS: malformed range");
    }
    SlotRange r;
    r.first = static_cast<int>(e[0].integer());
    r.last = static_cast<int>(e[1].integer());
    if (r.first < 0 || r.last >= kClusterSlots || r.first > r.last) {
      return absl::InvalidArgumentError("CLUSTER SLOTS: slot out of range");
    }
    absl::StatusOr<std::string> primary = NodeAddress(e[2], asked_host);
    if (!primary.ok()) return primary.status();
    r.primary = std::move(*primary);
    for (size_t i = 3; i < e.size(); ++i) {
      absl::StatusOr<std::string> replica = NodeAddress(e[i], asked_host);
      if (!replica.ok()) return replica.status();
      r.replicas.push_back(std::move(*replica));
    }
    ranges.push_back(std::move(r));
  }
  return ranges;
}

std::optional<Redirect> ParseRedirect(absl::string_view error) {
  absl::ConsumePrefix(&error, "redis: ");
  Redirect r;
  if (absl::ConsumePrefix(&error, "MOVED ")) {
    r.ask = false;
  } else if (absl::ConsumePrefix(&error, "ASK ")) {
    r.ask = true;
  } else {
    return std::nullopt;
  }
  std::vector<absl::string_view> parts =
      absl::StrSplit(error, ' ', absl::SkipEmpty());
  if (parts.size() < 2 || !absl::SimpleAtoi(parts[0], &r.slot) || r.slot < 0 ||
      r.slot >= kClusterSlots) {
    return std::nullopt;
  }
  std::string host;
  int port = 0;
  if (!SplitHostPort(parts[1], &host, &port)) return std::nullopt;
  r.address = std::string(parts[1]);
  return r;
}

bool SplitHostPort(absl::string_view address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  absl::string_view h = address.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  }
  int p = 0;
  if (h.empty() || !absl::SimpleAtoi(address.substr(colon + 1), &p) || p <= 0 ||
      p > 65535) {
    return false;
  }
  *host = std::string(h);
  *port = p;
  return true;
}

}  // namespace omnicx::redis
