// The pure parts of Redis Cluster routing, apart from any connection: which
// slot a command goes to, whether it blocks, the slot map a CLUSTER SLOTS
// reply describes, and the MOVED/ASK redirections of error replies.
// Client (libs/redis/client.h) uses them in cluster mode.
//
//   absl::StatusOr<CommandRoute> r = RouteOf({"HSET", key, "f", "v"});
//   // r->slot == KeySlot(key)
//   std::optional<Redirect> to = ParseRedirect("MOVED 3999 127.0.0.1:7002");
#ifndef OMNICX_LIBS_REDIS_CLUSTER_ROUTING_H_
#define OMNICX_LIBS_REDIS_CLUSTER_ROUTING_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/redis/reply.h"

namespace omnicx::redis {

struct CommandRoute {
  enum class Kind {
    kSlot,          // the node serving `slot`
    kAnyNode,       // keyless (PING, TIME, INFO, CONFIG, EVALSHA 0 keys...)
    kEveryPrimary,  // SCRIPT LOAD/FLUSH, FLUSHALL, FLUSHDB: on each primary
  };
  Kind kind = Kind::kAnyNode;
  int slot = -1;
};

// Where `args` goes in a cluster: the slot of its key (args[1] for ordinary
// commands; EVAL/EVALSHA/FCALL: the first key when numkeys > 0;
// XREAD/XREADGROUP: the first key after STREAMS; XINFO/XGROUP/OBJECT/
// MEMORY USAGE: args[2]; SCAN: the slot its MATCH pattern's hash tag pins).
// FailedPrecondition for commands a cluster client cannot route: SCAN
// without such a pattern, KEYS, RANDOMKEY, SELECT/SWAPDB.
absl::StatusOr<CommandRoute> RouteOf(const std::vector<std::string>& args);

// XREAD/XREADGROUP with BLOCK, and WAIT: commands that may hold their
// connection for long (sent on the blocking pool by Client::Command).
bool IsBlocking(const std::vector<std::string>& args);

// Whether `args` may change data (and so be replicated): false only for the
// read-only commands omnicx sends (GET, HGETALL, XRANGE, ZRANGE, EXISTS,
// PING, XINFO...); scripts and anything unknown may write.
bool MayWrite(const std::vector<std::string>& args);

// MULTI, EXEC, DISCARD (kept on one node inside a pipeline).
bool IsTransactionCommand(absl::string_view name);

// One slot range of the cluster and the nodes serving it ("host:port").
struct SlotRange {
  int first = 0;
  int last = 0;
  std::string primary;
  std::vector<std::string> replicas;
};

// The ranges of a CLUSTER SLOTS reply. A node announced with an empty host
// is `asked_host` (the node that answered). InvalidArgument on a malformed
// reply.
absl::StatusOr<std::vector<SlotRange>> ParseClusterSlots(
    const Reply& reply, absl::string_view asked_host);

// A MOVED or ASK redirection carried by an error reply.
struct Redirect {
  bool ask = false;  // ASK (one command, after ASKING) rather than MOVED
  int slot = 0;
  std::string address;  // host:port
};

// The redirection in `error` ("MOVED 3999 127.0.0.1:6381", or the client's
// status message "redis: MOVED ..."), or nullopt.
std::optional<Redirect> ParseRedirect(absl::string_view error);

// Splits "host:port" (IPv6 hosts may be bracketed). False when malformed.
bool SplitHostPort(absl::string_view address, std::string* host, int* port);

}  // namespace omnicx::redis

#endif  // OMNICX_LIBS_REDIS_CLUSTER_ROUTING_H_
