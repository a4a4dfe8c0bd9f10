// The Prometheus endpoint of every service, on libs/http: GET (or HEAD)
// /metrics answers the registry's text exposition; other paths 404, other
// methods 405. Headers are capped at 8 KiB (431) and bodies at 8 KiB (413);
// idle connections close after 2 s, so a slow or hostile client holds one
// connection, never the endpoint.
//
//   auto endpoint = metrics::StartEndpoint("127.0.0.1:9451", &registry);
//   ... (*endpoint)->port() ...
//   (*endpoint)->Stop();
#ifndef OMNICX_LIBS_METRICS_ENDPOINT_H_
#define OMNICX_LIBS_METRICS_ENDPOINT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "libs/http/server.h"
#include "libs/metrics/registry.h"

namespace omnicx::metrics {

// `address` is host:port; port 0 picks one. UNAVAILABLE when it cannot
// listen there, INVALID_ARGUMENT when it is not host:port.
absl::StatusOr<std::unique_ptr<http::Server>> StartEndpoint(
    const std::string& address, Registry* registry);

}  // namespace omnicx::metrics

#endif  // OMNICX_LIBS_METRICS_ENDPOINT_H_
