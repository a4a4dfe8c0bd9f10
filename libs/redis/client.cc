#include "libs/redis/client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/status/error_details.h"

namespace omnicx::redis {
namespace {

timeval SocketTimeout(absl::Duration d) {
  return absl::ToTimeval(std::max(d, absl::Milliseconds(1)));
}

Reply Convert(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      return Reply::Integer(r->integer);
    case REDIS_REPLY_STRING:
      return Reply::String(std::string(r->str, r->len));
    case REDIS_REPLY_STATUS:
      return Reply::Status(std::string(r->str, r->len));
    case REDIS_REPLY_ERROR:
      return Reply::Error(std::string(r->str, r->len));
    case REDIS_REPLY_ARRAY: {
      std::vector<Reply> elements;
      elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) {
        elements.push_back(Convert(r->element[i]));
      }
      return Reply::Array(std::move(elements));
    }
    case REDIS_REPLY_NIL:
    default:
      return Reply::Nil();
  }
}

absl::StatusOr<Reply> Checked(Reply reply) {
  if (reply.is_error()) return ErrorReplyStatus(reply.str());
  return reply;
}

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

// One hiredis connection; owned by the pool or by one call at a time.
class Client::Connection {
 public:
  // `timeout` is the socket timeout already set on `context`.
  Connection(redisContext* context, absl::Duration timeout)
      : context_(context), timeout_(timeout) {}
  ~Connection() { redisFree(context_); }
  redisContext* get() { return context_; }
  bool healthy() const { return healthy_ && context_->err == 0; }
  void set_broken() { healthy_ = false; }
  // Sets the socket timeout only when it changes (two setsockopt calls),
  // so calls at the usual timeout cost no system call for it.
  void SetTimeout(absl::Duration timeout) {
    if (timeout == timeout_) return;
    redisSetTimeout(context_, SocketTimeout(timeout));
    timeout_ = timeout;
  }

 private:
  redisContext* context_;
  absl::Duration timeout_;
  bool healthy_ = true;
};

std::unique_ptr<Client> Client::Create(ClientOptions options) {
  return std::unique_ptr<Client>(new Client(std::move(options)));
}

Client::Client(ClientOptions options) : options_(std::move(options)) {
  absl::MutexLock lock(&mu_);
  backoff_ = options_.reconnect_backoff_min;
}

Client::~Client() = default;

std::string Client::address() const {
  return absl::StrCat(options_.host, ":", options_.port);
}

absl::StatusOr<std::unique_ptr<Client::Connection>> Client::Acquire() {
  const absl::Time deadline = absl::Now() + options_.command_timeout;
  {
    absl::MutexLock lock(&mu_);
    while (idle_.empty() && open_ >= options_.pool_size) {
      if (released_.WaitWithDeadline(&mu_, deadline) && idle_.empty() &&
          open_ >= options_.pool_size) {
        return absl::UnavailableError(
            absl::StrCat("redis ", address(), ": all ", options_.pool_size,
                         " connections busy for ",
                         absl::FormatDuration(options_.command_timeout)));
      }
    }
    if (!idle_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
    if (absl::Now() < next_connect_) {
      return absl::UnavailableError(
          absl::StrCat("redis ", address(), ": unreachable, next reconnect in ",
                       absl::FormatDuration(next_connect_ - absl::Now())));
    }
    ++open_;  // reserve the slot while connecting outside the lock
  }

  const timeval connect_tv = SocketTimeout(options_.connect_timeout);
  redisContext* ctx =
      redisConnectWithTimeout(options_.host.c_str(), options_.port, connect_tv);
  std::string error;
  if (ctx == nullptr) {
    error = "cannot allocate a connection";
  } else if (ctx->err != 0) {
    error = ctx->errstr;
  } else {
    redisSetTimeout(ctx, SocketTimeout(options_.command_timeout));
    bool refused = false;  // an error reply, not a broken connection
    auto setup = [&](std::vector<std::string> args) {
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      auto* r = static_cast<redisReply*>(redisCommandArgv(
          ctx, static_cast<int>(argv.size()), argv.data(), lens.data()));
      if (r == nullptr) {
        error = ctx->errstr;
      } else {
        if (r->type == REDIS_REPLY_ERROR) {
          error = std::string(r->str, r->len);
          refused = true;
        }
        freeReplyObject(r);
      }
    };
    if (!options_.user.empty()) {
      setup({"AUTH", options_.user, options_.password});
    } else if (!options_.password.empty()) {
      setup({"AUTH", options_.password});
    }
    // Redis's refusal (WRONGPASS ...) names no password; say which user.
    if (refused) {
      error = absl::StrCat("AUTH as user \"",
                           options_.user.empty() ? "default" : options_.user,
                           "\" refused: ", error);
    }
    if (error.empty() && options_.db != 0) {
      setup({"SELECT", absl::StrCat(options_.db)});
    }
  }

  absl::MutexLock lock(&mu_);
  if (!error.empty()) {
    if (ctx != nullptr) redisFree(ctx);
    --open_;
    // Exponential backoff with jitter, so a dead Redis is not hammered and a
    // returning one is found within reconnect_backoff_max.
    static thread_local std::mt19937 rng(std::random_device{}());
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    next_connect_ = absl::Now() + backoff_ * jitter(rng);
    backoff_ = std::min(backoff_ * 2, options_.reconnect_backoff_max);
    released_.SignalAll();
    return absl::UnavailableError(
        absl::StrCat("redis ", address(), ": ", error));
  }
  backoff_ = options_.reconnect_backoff_min;
  next_connect_ = absl::InfinitePast();
  return std::make_unique<Connection>(ctx, options_.command_timeout);
}

void Client::Release(std::unique_ptr<Connection> connection) {
  absl::MutexLock lock(&mu_);
  if (connection->healthy()) {
    idle_.push_back(std::move(connection));
  } else {
    --open_;
    connection.reset();
    // Redis most likely restarted or died: the idle connections are stale
    // too, and each would fail one call. Drop them.
    open_ -= static_cast<int>(idle_.size());
    idle_.clear();
  }
  released_.Signal();
}

absl::StatusOr<PipelineReplies> Client::RoundTrip(
    const std::vector<redis::Command>& commands, absl::Duration timeout) {
  PipelineReplies replies;
  if (commands.empty()) return replies;
  const absl::Time start = absl::Now();
  auto observe = [&](bool ok) {
    if (!options_.observer) return;
    options_.observer(commands.size() == 1
                          ? absl::AsciiStrToUpper(commands[0][0])
                          : std::string("PIPELINE"),
                      absl::Now() - start, ok);
  };
  absl::StatusOr<std::unique_ptr<Connection>> acquired = Acquire();
  if (!acquired.ok()) {
    observe(false);
    return acquired.status();
  }
  std::unique_ptr<Connection> conn = std::move(*acquired);
  redisContext* ctx = conn->get();
  conn->SetTimeout(timeout);

  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const redis::Command& command : commands) {
    argv.clear();
    lens.clear();
    for (const std::string& arg : command) {
      argv.push_back(arg.data());
      lens.push_back(arg.size());
    }
    redisAppendCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(),
                           lens.data());
  }
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx, &raw) != REDIS_OK || raw == nullptr) {
      const bool timed_out =
          ctx->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
      const std::string why =
          timed_out
              ? absl::StrCat("timeout after ", absl::FormatDuration(timeout))
              : std::string(ctx->errstr[0] ? ctx->errstr : "connection lost");
      conn->set_broken();
      Release(std::move(conn));
      observe(false);
      return absl::UnavailableError(
          absl::StrCat("redis ", address(), ": ", why));
    }
    auto* reply = static_cast<redisReply*>(raw);
    replies.push_back(Checked(Convert(reply)));
    freeReplyObject(reply);
    // A demoted primary keeps its TCP connections: drop this one after the
    // round trip, so the next connects to what the address names now.
    if (!replies.back().ok() &&
        absl::StartsWith(replies.back().status().message(),
                         "redis: READONLY")) {
      conn->set_broken();
    }
  }
  Release(std::move(conn));
  observe(true);
  return replies;
}

absl::StatusOr<Reply> Client::Command(const redis::Command& args) {
  return Command(args, options_.command_timeout);
}

absl::StatusOr<Reply> Client::Command(const redis::Command& args,
                                      absl::Duration timeout) {
  absl::StatusOr<PipelineReplies> replies = RoundTrip({args}, timeout);
  if (!replies.ok()) return replies.status();
  return std::move(replies->front());
}

absl::StatusOr<PipelineReplies> Client::Pipeline(
    const std::vector<redis::Command>& commands) {
  return RoundTrip(commands, options_.command_timeout);
}

absl::StatusOr<PipelineReplies> Client::PipelineScripts(
    const std::vector<redis::Command>& commands,
    const std::vector<const Script*>& scripts, size_t waits) {
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

absl::Status Client::Ping() { return Command({"PING"}).status(); }

}  // namespace omnicx::redis
