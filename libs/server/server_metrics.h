// Request metrics for every service: a server interceptor recording
// grpc_server_handled_total{method,code} and
// grpc_server_handling_seconds{method}, and the Redis client observer
// recording redis_command_duration_seconds{command} and
// redis_command_errors_total{command}.
#ifndef OMNICX_LIBS_SERVER_SERVER_METRICS_H_
#define OMNICX_LIBS_SERVER_SERVER_METRICS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/support/server_interceptor.h"
#include "libs/metrics/registry.h"

namespace omnicx::server {

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewServerMetricsInterceptorFactory(metrics::Registry& registry);

class RedisCommandMetrics {
 public:
  explicit RedisCommandMetrics(metrics::Registry& registry);
  std::function<void(absl::string_view, absl::Duration, bool)> Observer();

 private:
  metrics::HistogramFamily& latency_;
  metrics::CounterFamily& errors_;
};

}  // namespace omnicx::server

#endif  // OMNICX_LIBS_SERVER_SERVER_METRICS_H_
