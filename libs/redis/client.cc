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

thread_local ReplicaWaitScope* current_wait_scope = nullptr;

}  // namespace

ReplicaWaitScope::ReplicaWaitScope(ReplicaWait wait)
    : wait_(wait), outer_(current_wait_scope) {
  if (wait_.replicas > 0) current_wait_scope = this;
}

ReplicaWaitScope::~ReplicaWaitScope() {
  if (wait_.replicas > 0) current_wait_scope = outer_;
}

ReplicaWaitScope* ReplicaWaitScope::Current() { return current_wait_scope; }

redis::Command ReplicaWaitScope::WaitCommand() const {
  return {"WAIT", absl::StrCat(wait_.replicas),
          absl::StrCat(
              std::max<int64_t>(1, absl::ToInt64Milliseconds(wait_.timeout)))};
}

void ReplicaWaitScope::Record(const absl::StatusOr<Reply>& reply) {
  for (ReplicaWaitScope* s = this; s != nullptr; s = s->outer_) {
    ++s->waits_;
    if (!s->status_.ok()) continue;
    if (!reply.ok()) {
      s->status_ = absl::UnavailableError(absl::StrCat(
          "waiting for replicas failed: ", reply.status().message()));
    } else if (reply->type() != Reply::Type::kInteger ||
               reply->integer() < s->wait_.replicas) {
      s->status_ = absl::UnavailableError(
          absl::StrCat("waiting for replicas: ", reply->integer(), " of ",
                       s->wait_.replicas, " acknowledged in time"));
    }
  }
}

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
  const bool blocking = IsBlocking(args);
  std::optional<absl::StatusOr<PipelineReplies>> waited;
  if (!blocking) waited = WithReplicaWait({args}, {}, 0);
  absl::StatusOr<PipelineReplies> replies =
      waited.has_value() ? *std::move(waited)
                         : RoundTrip({args}, timeout, blocking);
  if (!replies.ok()) return replies.status();
  return std::move(replies->front());
}

absl::StatusOr<PipelineReplies> Client::Pipeline(
    const std::vector<redis::Command>& commands) {
  if (auto waited = WithReplicaWait(commands, {}, 0)) return *waited;
  return RoundTrip(commands, options_.command_timeout, false);
}

absl::StatusOr<PipelineReplies> Client::PipelineScripts(
    const std::vector<redis::Command>& commands,
    const std::vector<const Script*>& scripts, size_t waits) {
  if (auto waited = WithReplicaWait(commands, scripts, waits)) return *waited;
  return RunScripts(commands, scripts, waits);
}

std::optional<absl::StatusOr<PipelineReplies>> Client::WithReplicaWait(
    const std::vector<redis::Command>& commands,
    const std::vector<const Script*>& scripts, size_t waits) {
  ReplicaWaitScope* scope = ReplicaWaitScope::Current();
  if (scope == nullptr || waits > 0 || commands.empty() ||
      std::none_of(commands.begin(), commands.end(),
                   [](const redis::Command& c) { return MayWrite(c); })) {
    return std::nullopt;
  }
  std::vector<redis::Command> with_wait = commands;
  with_wait.push_back(scope->WaitCommand());
  absl::StatusOr<PipelineReplies> replies =
      RunScripts(with_wait, scripts, /*waits=*/1);
  if (!replies.ok()) {
    scope->Record(replies.status());
    return replies;
  }
  scope->Record(replies->back());
  replies->pop_back();
  return replies;
}

absl::StatusOr<PipelineReplies> Client::RunScripts(
    const std::vector<redis::Command>& commands,
    const std::vector<const Script*>& scripts, size_t waits) {
  if (router_) {
    return router_->Execute(commands, scripts, waits, options_.command_timeout,
                            false);
  }
  absl::StatusOr<PipelineReplies> replies =
      RoundTrip(commands, options_.command_timeout, false);
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
  absl::StatusOr<PipelineReplies> second =
      RoundTrip(again, options_.command_timeout, false);
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

absl::StatusOr<std::vector<std::pair<std::string, PipelineReplies>>>
Client::PipelineOnEveryPrimary(const std::vector<redis::Command>& commands) {
  if (router_) {
    return router_->OnEveryPrimary(commands, options_.command_timeout);
  }
  absl::StatusOr<PipelineReplies> replies =
      RoundTrip(commands, options_.command_timeout, false);
  if (!replies.ok()) return replies.status();
  std::vector<std::pair<std::string, PipelineReplies>> out;
  out.emplace_back(address(), *std::move(replies));
  return out;
}

absl::Status Client::Ping() {
  if (router_) return router_->Ping();
  return Command({"PING"}).status();
}

}  // namespace omnicx::redis
