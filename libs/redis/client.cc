#include "libs/redis/client.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/redis/cluster_router.h"
#include "libs/redis/cluster_routing.h"
#include "libs/redis/node_pool.h"
#include "libs/redis/slot.h"
#include "libs/status/error_details.h"

namespace omnicx::redis {
namespace {

bool IsNoScript(const absl::StatusOr<Reply>& r) {
  return !r.ok() && absl::StrContains(r.status().message(), "NOSCRIPT");
}

}  // namespace

absl::Status ErrorReplyStatus(absl::string_view message) {
  // Redis error text names commands, scripts and keys: callers of a service
  // get a generic message instead (status::ToGrpcStatus).
  const std::string text = absl::StrCat("redis: ", message);
  // READONLY: the connection reached a replica (the primary failed over);
  // MISCONF: Redis refuses writes until its persistence works again;
  // NOREPLICAS: min-replicas-to-write is not met. All pass.
  for (absl::string_view transient :
       {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "READONLY",
        "MISCONF", "NOREPLICAS"}) {
    if (absl::StartsWith(message, transient)) {
      return status::WithServerDetail(absl::UnavailableError(text));
    }
  }
  if (absl::StartsWith(message, "OOM")) {
    return status::WithServerDetail(absl::ResourceExhaustedError(text));
  }
  return status::WithServerDetail(absl::InternalError(text));
}

std::unique_ptr<Client> Client::Create(ClientOptions options) {
  return std::unique_ptr<Client>(new Client(std::move(options)));
}

Client::Client(ClientOptions options) : options_(std::move(options)) {
  if (options_.cluster) {
    router_ = std::make_unique<ClusterRouter>(options_);
  } else {
    pool_ = std::make_unique<NodePool>(options_.host, options_.port, options_,
                                       options_.pool_size);
    blocking_pool_ = std::make_unique<NodePool>(
        options_.host, options_.port, options_, options_.blocking_pool_size);
  }
}

Client::~Client() = default;

std::string Client::address() const {
  return absl::StrCat(options_.host, ":", options_.port);
}

absl::StatusOr<std::string> Client::NodeOf(absl::string_view key) {
  if (!router_) return address();
  return router_->PrimaryOf(KeySlot(key));
}

absl::StatusOr<PipelineReplies> Client::RoundTrip(
    const std::vector<redis::Command>& commands, absl::Duration timeout,
    bool blocking) {
  if (router_) return router_->Execute(commands, {}, 0, timeout, blocking);
  std::vector<const redis::Command*> pointers;
  pointers.reserve(commands.size());
  for (const redis::Command& c : commands) pointers.push_back(&c);
  return (blocking ? blocking_pool_ : pool_)->RoundTrip(pointers, timeout);
}

absl::StatusOr<Reply> Client::Command(const redis::Command& args) {
  return Command(args, options_.command_timeout);
}

absl::StatusOr<Reply> Client::Command(const redis::Command& args,
                                      absl::Duration timeout) {
  absl::StatusOr<PipelineReplies> replies =
      RoundTrip({args}, timeout, IsBlocking(args));
  if (!replies.ok()) return replies.status();
  return std::move(replies->front());
}

absl::StatusOr<PipelineReplies> Client::Pipeline(
    const std::vector<redis::Command>& commands) {
  return RoundTrip(commands, options_.command_timeout, false);
}

absl::StatusOr<PipelineReplies> Client::PipelineScripts(
    const std::vector<redis::Command>& commands,
    const std::vector<const Script*>& scripts, size_t waits) {
  if (router_) {
    return router_->Execute(commands, scripts, waits, options_.command_timeout,
                            false);
  }
  absl::StatusOr<PipelineReplies> replies = Pipeline(commands);
  if (!replies.ok()) return replies;
  const size_t body = commands.size() - std::min(waits, commands.size());
  std::vector<size_t> retry;
  for (size_t i = 0; i < body; ++i) {
    if (IsNoScript((*replies)[i])) retry.push_back(i);
  }
  if (retry.empty()) return replies;
  // Load every script these commands name, re-run just the failures, then
  // the WAITs again behind them (the re-run may use another connection).
  std::vector<redis::Command> again;
  for (const Script* s : scripts)
    again.push_back({"SCRIPT", "LOAD", s->source()});
  const size_t loads = again.size();
  for (size_t i : retry) again.push_back(commands[i]);
  for (size_t i = body; i < commands.size(); ++i) again.push_back(commands[i]);
  absl::StatusOr<PipelineReplies> second = Pipeline(again);
  if (!second.ok()) return second.status();
  for (size_t k = 0; k < loads; ++k) {
    if (!(*second)[k].ok()) return (*second)[k].status();
  }
  for (size_t k = 0; k < retry.size(); ++k) {
    (*replies)[retry[k]] = std::move((*second)[loads + k]);
  }
  for (size_t i = body; i < commands.size(); ++i) {
    absl::StatusOr<Reply>& first = (*replies)[i];
    absl::StatusOr<Reply>& rerun = (*second)[loads + retry.size() + (i - body)];
    if (!first.ok()) continue;
    if (!rerun.ok() || rerun->integer() < first->integer()) {
      first = std::move(rerun);
    }
  }
  return replies;
}

absl::StatusOr<Reply> Client::Eval(const Script& script,
                                   const std::vector<std::string>& keys,
                                   const std::vector<std::string>& args) {
  absl::StatusOr<PipelineReplies> replies =
      PipelineScripts({EvalShaCommand(script, keys, args)}, {&script});
  if (!replies.ok()) return replies.status();
  return std::move(replies->front());
}

absl::Status Client::Ping() {
  if (router_) return router_->Ping();
  return Command({"PING"}).status();
}

}  // namespace omnicx::redis
