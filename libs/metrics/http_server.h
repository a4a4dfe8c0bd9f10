// A minimal HTTP/1.1 endpoint for Prometheus: GET /metrics answers the
// registry's text exposition; other paths 404, other methods 405. One
// thread; requests are capped at 8 KiB and 2 s, so a slow or hostile client
// cannot hang it for long or grow its memory.
//
//   auto http = MetricsHttpServer::Start("127.0.0.1:9451", &registry);
//   ...
//   (*http)->Stop();
#ifndef OMNICX_LIBS_METRICS_HTTP_SERVER_H_
#define OMNICX_LIBS_METRICS_HTTP_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "libs/metrics/registry.h"

namespace omnicx::metrics {

class MetricsHttpServer {
 public:
  // `address` is host:port; port 0 picks one (see port()).
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& address, Registry* registry);
  ~MetricsHttpServer();

  int port() const { return port_; }
  // Idempotent.
  void Stop();

 private:
  MetricsHttpServer(int fd, int port, Registry* registry);
  void Loop();
  void Serve(int client);

  int fd_;
  int port_;
  Registry* registry_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace omnicx::metrics

#endif  // OMNICX_LIBS_METRICS_HTTP_SERVER_H_
