#include "libs/http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"

namespace omnicx::http {

absl::string_view Request::Header(absl::string_view lower_case_name) const {
  auto it = headers.find(lower_case_name);
  return it == headers.end() ? absl::string_view() : it->second;
}

void Router::Handle(absl::string_view method, absl::string_view path,
                    Handler handler) {
  routes_[path][method] = std::move(handler);
}

const Handler* Router::Find(absl::string_view method, absl::string_view path,
                            int* status, std::string* allow) const {
  auto route = routes_.find(path);
  if (route == routes_.end()) {
    *status = 404;
    return nullptr;
  }
  auto handler = route->second.find(method == "HEAD" ? "GET" : method);
  if (handler != route->second.end()) return &handler->second;
  *status = 405;
  std::vector<std::string> methods;
  for (const auto& [m, h] : route->second) methods.push_back(m);
  std::sort(methods.begin(), methods.end());
  *allow = absl::StrJoin(methods, ", ");
  return nullptr;
}

// One request on a connection (libmicrohttpd's per-request context).
struct Server::Connection {
  Request request;
  bool too_large = false;
  bool dispatched = false;
};

namespace {

// A dispatched request whose handler has not answered: its connection is
// suspended until then. Shared by the responder and the server, so a late
// answer after Stop's grace is a no-op rather than a use of a closed
// connection.
struct PendingCall {
  MHD_Connection* connection;
  bool answered = false;  // guarded by Gate::mu
};

struct Gate {
  absl::Mutex mu;
  int pending ABSL_GUARDED_BY(mu) = 0;
  absl::flat_hash_map<PendingCall*, std::shared_ptr<PendingCall>> calls
      ABSL_GUARDED_BY(mu);
};

void Queue(MHD_Connection* connection, const Response& response) {
  MHD_Response* r = MHD_create_response_from_buffer(
      response.body.size(), const_cast<char*>(response.body.data()),
      MHD_RESPMEM_MUST_COPY);
  for (const auto& [name, value] : response.headers) {
    MHD_add_response_header(r, name.c_str(), value.c_str());
  }
  MHD_queue_response(connection, static_cast<unsigned>(response.status), r);
  MHD_destroy_response(r);
}

Response Plain(int status, std::string body) {
  return {
      status, {{"Content-Type", "text/plain; charset=utf-8"}}, std::move(body)};
}

MHD_Result CollectHeader(void* cls, MHD_ValueKind kind, const char* key,
                         const char* value) {
  auto* headers =
      static_cast<absl::flat_hash_map<std::string, std::string>*>(cls);
  (*headers)[absl::AsciiStrToLower(key)] = value == nullptr ? "" : value;
  return MHD_YES;
}

}  // namespace

struct ServerCallbacks {
  static MHD_Result OnRequest(void* cls, MHD_Connection* connection,
                              const char* url, const char* method,
                              const char* version, const char* upload_data,
                              size_t* upload_data_size, void** context) {
    auto* server = static_cast<Server*>(cls);
    auto* state = static_cast<Server::Connection*>(*context);
    if (state == nullptr) {
      state = new Server::Connection;
      *context = state;
      state->request.method = method;
      state->request.path = url;  // libmicrohttpd strips the query
      MHD_get_connection_values(connection, MHD_HEADER_KIND, &CollectHeader,
                                &state->request.headers);
      uint64_t declared = 0;
      if (absl::SimpleAtoi(state->request.Header("content-length"),
                           &declared) &&
          declared > server->options_.max_body_bytes) {
        // Refused before the body is read; the connection is closed after.
        state->too_large = true;
        state->dispatched = true;
        Queue(connection, Plain(413, "request body too large\n"));
      }
      return MHD_YES;
    }
    if (*upload_data_size > 0) {
      std::string& body = state->request.body;
      if (!state->too_large) {
        if (body.size() + *upload_data_size > server->options_.max_body_bytes) {
          state->too_large = true;
          std::string().swap(body);
        } else {
          body.append(upload_data, *upload_data_size);
        }
      }
      *upload_data_size = 0;
      return MHD_YES;
    }
    if (!state->dispatched) {
      state->dispatched = true;
      server->Dispatch(connection, state);
    }
    return MHD_YES;
  }

  static void OnCompleted(void* cls, MHD_Connection* connection, void** context,
                          MHD_RequestTerminationCode why) {
    delete static_cast<Server::Connection*>(*context);
    *context = nullptr;
  }
};

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options,
                                                      Router router) {
  const size_t colon = options.address.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(options.address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.name, " address \"", options.address, "\" is not host:port"));
  }
  const std::string host = options.address.substr(0, colon);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* info = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &info) != 0 ||
      info == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.name, " address host \"", host, "\" does not resolve"));
  }
  sockaddr_in addr = *reinterpret_cast<sockaddr_in*>(info->ai_addr);
  freeaddrinfo(info);
  addr.sin_port = htons(static_cast<uint16_t>(port));

  std::unique_ptr<Server> server(
      new Server(std::move(options), std::move(router)));
  const ServerOptions& o = server->options_;
  server->daemon_ = MHD_start_daemon(
      MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME, 0, nullptr,
      nullptr, &ServerCallbacks::OnRequest, server.get(), MHD_OPTION_SOCK_ADDR,
      &addr, MHD_OPTION_THREAD_POOL_SIZE,
      static_cast<unsigned>(std::max(1, o.threads)),
      MHD_OPTION_CONNECTION_LIMIT,
      static_cast<unsigned>(std::max(1, o.max_connections)),
      MHD_OPTION_CONNECTION_TIMEOUT,
      static_cast<unsigned>(
          std::max<int64_t>(1, absl::ToInt64Seconds(o.connection_timeout))),
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, o.header_buffer_bytes,
      MHD_OPTION_NOTIFY_COMPLETED, &ServerCallbacks::OnCompleted, server.get(),
      MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", server->options_.address, " for ",
        server->options_.name, " (in use, or not a local address)"));
  }
  const MHD_DaemonInfo* bound =
      MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = bound != nullptr ? bound->port : port;
  return server;
}

Server::Server(ServerOptions options, Router router)
    : options_(std::move(options)),
      router_(std::move(router)),
      gate_(std::make_shared<Gate>()) {}

Server::~Server() { Stop(); }

void Server::Dispatch(MHD_Connection* connection, Connection* state) {
  Request& request = state->request;
  if (state->too_large) {
    Queue(connection, Plain(413, "request body too large\n"));
    return;
  }
  int status = 0;
  std::string allow;
  const Handler* handler =
      router_.Find(request.method, request.path, &status, &allow);
  if (handler == nullptr) {
    Response r =
        Plain(status, status == 404 ? "not found\n" : "method not allowed\n");
    if (!allow.empty()) r.headers.emplace_back("Allow", allow);
    Queue(connection, r);
    return;
  }
  auto call = std::make_shared<PendingCall>();
  call->connection = connection;
  std::shared_ptr<Gate> gate = std::static_pointer_cast<Gate>(gate_);
  {
    absl::MutexLock lock(&gate->mu);
    if (stopped_.load()) {
      Queue(connection, Plain(503, "shutting down\n"));
      return;
    }
    ++gate->pending;
    gate->calls[call.get()] = call;
  }
  // Suspended before the handler runs, so an answer from another thread
  // always finds it suspended; queueing on a suspended connection is allowed
  // and the resume sends it.
  MHD_suspend_connection(connection);
  (*handler)(request, [gate, call](Response response) {
    absl::MutexLock lock(&gate->mu);
    if (call->answered) return;
    call->answered = true;
    --gate->pending;
    gate->calls.erase(call.get());
    Queue(call->connection, response);
    MHD_resume_connection(call->connection);
  });
}

void Server::Stop(absl::Duration grace) {
  if (stopped_.exchange(true) || daemon_ == nullptr) return;
  auto gate = std::static_pointer_cast<Gate>(gate_);
  const MHD_socket listen_fd = MHD_quiesce_daemon(daemon_);
  {
    absl::MutexLock lock(&gate->mu);
    gate->mu.AwaitWithTimeout(absl::Condition(
                                  +[](Gate* g) ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                                       g->mu) { return g->pending == 0; },
                                  gate.get()),
                              grace);
    // Past the grace: answer what is left, so no connection stays
    // suspended (libmicrohttpd cannot stop with suspended connections).
    for (auto& [raw, call] : gate->calls) {
      call->answered = true;
      Queue(call->connection, Plain(503, "shutting down\n"));
      MHD_resume_connection(call->connection);
    }
    gate->calls.clear();
    gate->pending = 0;
  }
  MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
  if (listen_fd != MHD_INVALID_SOCKET) close(listen_fd);
}

}  // namespace omnicx::http
