// An embedded HTTP/1.1 server on libmicrohttpd (Debian's libmicrohttpd-dev):
// routes by method and path to handlers that answer asynchronously, for the
// Prometheus endpoint of every service and ingestion's tracking API.
// libmicrohttpd parses HTTP; this unit only routes and bounds. An epoll
// thread pool serves many keep-alive connections; a connection whose handler
// has not answered yet is suspended (it holds no thread), so a slow client
// or a slow handler blocks nobody else. Bounds: a connection limit, an idle
// timeout, a header size limit (431) and a body cap enforced while reading
// (413).
//
//   http::Router router;
//   router.Handle("GET", "/metrics", [&](http::Request& req,
//                                        http::Respond respond) {
//     respond({200, {{"Content-Type", "text/plain"}}, registry.Render()});
//   });
//   auto server = http::Server::Start(options, std::move(router));
//   ... (*server)->port() ...
//   (*server)->Stop();
#ifndef OMNICX_LIBS_HTTP_SERVER_H_
#define OMNICX_LIBS_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace omnicx::http {

struct Request {
  std::string method;  // "GET", "POST", ... (HEAD is routed as GET)
  std::string path;    // without the query string
  // Header names lower-cased; a repeated header keeps its last value.
  absl::flat_hash_map<std::string, std::string> headers;
  std::string body;  // raw bytes as received (at most max_body_bytes)

  // The header's value, or "" when absent.
  absl::string_view Header(absl::string_view lower_case_name) const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Answers the request; call exactly once, from any thread, inline or later.
using Respond = std::function<void(Response)>;
// `request` stays valid until `respond` has been called.
using Handler = std::function<void(Request& request, Respond respond)>;

// Method + exact path -> handler. An unknown path answers 404, a known path
// with another method 405 (with Allow).
class Router {
 public:
  void Handle(absl::string_view method, absl::string_view path,
              Handler handler);
  // nullptr with *status set to 404 or 405 (and *allow to the methods).
  const Handler* Find(absl::string_view method, absl::string_view path,
                      int* status, std::string* allow) const;

 private:
  // path -> method -> handler
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, Handler>>
      routes_;
};

struct ServerOptions {
  // host:port; port 0 picks a free one (see Server::port()).
  std::string address = "127.0.0.1:0";
  // Threads of the epoll pool (each serves many connections).
  int threads = 2;
  // Connections at once; beyond, new ones are closed at accept.
  int max_connections = 1024;
  // An idle (or slowly sending) connection is closed after this long.
  absl::Duration connection_timeout = absl::Seconds(30);
  // Largest request body; beyond it 413, the rest is read and dropped.
  size_t max_body_bytes = 64 * 1024;
  // Per-connection buffer for the request line and headers; larger headers
  // are answered 431 by libmicrohttpd.
  size_t header_buffer_bytes = 32 * 1024;
  // What the error messages call this server ("metrics", "tracking API").
  std::string name = "http";
};

class Server {
 public:
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerOptions options,
                                                       Router router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const { return port_; }
  // Stops accepting, waits (at most `grace`) for handlers that have not
  // answered yet, then closes every connection. Idempotent.
  void Stop(absl::Duration grace = absl::Seconds(10));

 private:
  struct Connection;
  Server(ServerOptions options, Router router);

  friend struct ServerCallbacks;  // libmicrohttpd's callbacks (server.cc)
  void Dispatch(MHD_Connection* connection, Connection* state);
  const ServerOptions options_;
  const Router router_;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
  std::atomic<bool> stopped_{false};
  // Handlers that have not answered (their connections are suspended);
  // shared with the responders, which may outlive the server (server.cc).
  std::shared_ptr<void> gate_;
};

}  // namespace omnicx::http

#endif  // OMNICX_LIBS_HTTP_SERVER_H_
