#include "libs/redis/node_pool.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

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

}  // namespace

// One hiredis connection; owned by the pool or by one call at a time.
class NodePool::Connection {
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

NodePool::NodePool(std::string host, int port, const ClientOptions& options,
                   int size)
    : host_(std::move(host)),
      port_(port),
      address_(absl::StrCat(host_.find(':') == std::string::npos
                                ? host_
                                : absl::StrCat("[", host_, "]"),
                            ":", port_)),
      options_(options),
      size_(std::max(size, 1)) {
  absl::MutexLock lock(&mu_);
  backoff_ = options_.reconnect_backoff_min;
}

NodePool::~NodePool() = default;

absl::StatusOr<std::unique_ptr<NodePool::Connection>> NodePool::Acquire() {
  const absl::Time deadline = absl::Now() + options_.command_timeout;
  {
    absl::MutexLock lock(&mu_);
    while (idle_.empty() && open_ >= size_) {
      if (released_.WaitWithDeadline(&mu_, deadline) && idle_.empty() &&
          open_ >= size_) {
        return absl::UnavailableError(absl::StrCat(
            "redis ", address_, ": all ", size_, " connections busy for ",
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
          absl::StrCat("redis ", address_, ": unreachable, next reconnect in ",
                       absl::FormatDuration(next_connect_ - absl::Now())));
    }
    ++open_;  // reserve the slot while connecting outside the lock
  }

  const timeval connect_tv = SocketTimeout(options_.connect_timeout);
  redisContext* ctx = redisConnectWithTimeout(host_.c_str(), port_, connect_tv);
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
        absl::StrCat("redis ", address_, ": ", error));
  }
  backoff_ = options_.reconnect_backoff_min;
  next_connect_ = absl::InfinitePast();
  return std::make_unique<Connection>(ctx, options_.command_timeout);
}

void NodePool::Release(std::unique_ptr<Connection> connection) {
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

absl::StatusOr<PipelineReplies> NodePool::RoundTrip(
    const std::vector<const redis::Command*>& commands, absl::Duration timeout,
    bool* sent) {
  if (sent != nullptr) *sent = false;
  PipelineReplies replies;
  if (commands.empty()) return replies;
  const absl::Time start = absl::Now();
  auto observe = [&](bool ok) {
    if (!options_.observer) return;
    options_.observer(commands.size() == 1
                          ? absl::AsciiStrToUpper((*commands[0])[0])
                          : std::string("PIPELINE"),
                      absl::Now() - start, ok);
  };
  absl::StatusOr<std::unique_ptr<Connection>> acquired = Acquire();
  if (!acquired.ok()) {
    observe(false);
    return acquired.status();
  }
  if (sent != nullptr) *sent = true;
  std::unique_ptr<Connection> conn = std::move(*acquired);
  redisContext* ctx = conn->get();
  conn->SetTimeout(timeout);

  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const redis::Command* command : commands) {
    argv.clear();
    lens.clear();
    for (const std::string& arg : *command) {
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
          absl::StrCat("redis ", address_, ": ", why));
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

}  // namespace omnicx::redis
