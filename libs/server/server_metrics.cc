#include "libs/server/server_metrics.h"

#include "absl/time/clock.h"
#include "libs/logging/log.h"
#include "libs/status/error_details.h"

namespace omnicx::server {
namespace {

using grpc::experimental::InterceptionHookPoints;

struct RequestFamilies {
  metrics::CounterFamily& handled;
  metrics::HistogramFamily& seconds;
};

class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(const char* method, RequestFamilies* families)
      : method_(method == nullptr ? "unknown" : method),
        families_(families),
        start_(absl::Now()) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      families_->handled
          .WithLabels({method_, status::StatusCodeName(status.error_code())})
          .Increment();
      const absl::Duration latency = absl::Now() - start_;
      families_->seconds.WithLabels({method_}).Observe(
          absl::ToDoubleSeconds(latency));
      // One line per call at debug level; failures the server caused at warn.
      const grpc::StatusCode code = status.error_code();
      if (code == grpc::StatusCode::INTERNAL ||
          code == grpc::StatusCode::UNKNOWN ||
          code == grpc::StatusCode::DATA_LOSS) {
        OMNICX_LOG(kWarn) << "method=" << method_
                          << " code=" << status::StatusCodeName(code)
                          << " latency=" << absl::FormatDuration(latency)
                          << " error=\"" << status.error_message() << "\"";
      } else {
        OMNICX_LOG(kDebug) << "method=" << method_
                           << " code=" << status::StatusCodeName(code)
                           << " latency=" << absl::FormatDuration(latency);
      }
    }
    methods->Proceed();
  }

 private:
  std::string method_;
  RequestFamilies* families_;
  absl::Time start_;
};

class MetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(metrics::Registry& registry)
      : families_{registry.Counter("grpc_server_handled_total",
                                   "RPCs completed on the server, by method "
                                   "and status code.",
                                   {"method", "code"}),
                  registry.Histogram("grpc_server_handling_seconds",
                                     "Server-side latency of RPCs.", {"method"},
                                     metrics::DefaultLatencyBuckets())} {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(info->method(), &families_);
  }

 private:
  RequestFamilies families_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewServerMetricsInterceptorFactory(metrics::Registry& registry) {
  return std::make_unique<MetricsInterceptorFactory>(registry);
}

RedisCommandMetrics::RedisCommandMetrics(metrics::Registry& registry)
    : latency_(registry.Histogram("redis_command_duration_seconds",
                                  "Redis round-trip latency by command "
                                  "(PIPELINE for several).",
                                  {"command"},
                                  metrics::DefaultLatencyBuckets())),
      errors_(registry.Counter("redis_command_errors_total",
                               "Redis round trips that failed to reach Redis "
                               "(connection, timeout).",
                               {"command"})) {}

std::function<void(absl::string_view, absl::Duration, bool)>
RedisCommandMetrics::Observer() {
  return [this](absl::string_view command, absl::Duration latency, bool ok) {
    const std::vector<std::string> labels = {std::string(command)};
    latency_.WithLabels(labels).Observe(absl::ToDoubleSeconds(latency));
    if (!ok) errors_.WithLabels(labels).Increment();
  };
}

}  // namespace omnicx::server
