#include "libs/metrics/endpoint.h"

#include <utility>

namespace omnicx::metrics {

absl::StatusOr<std::unique_ptr<http::Server>> StartEndpoint(
    const std::string& address, Registry* registry) {
  http::Router router;
  router.Handle(
      "GET", "/metrics", [registry](http::Request&, http::Respond respond) {
        respond({200,
                 {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}},
                 registry->Render()});
      });
  http::ServerOptions options;
  options.address = address;
  options.threads = 1;
  options.max_connections = 64;
  options.connection_timeout = absl::Seconds(2);
  options.max_body_bytes = 8192;
  options.header_buffer_bytes = 8192;
  options.name = "metrics";
  return http::Server::Start(std::move(options), std::move(router));
}

}  // namespace omnicx::metrics
