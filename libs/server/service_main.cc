#include "libs/server/service_main.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/logging/log.h"
#include "libs/metrics/endpoint.h"
#include "libs/metrics/process_metrics.h"
#include "libs/server/server.h"
#include "libs/server/server_metrics.h"
#include "libs/server/tls.h"

namespace omnicx::server {
namespace {

int Fatal(config::Service service, const absl::Status& status) {
  std::cerr << "omnicx-" << config::ServiceName(service) << ": "
            << status.message() << "\n";
  return 2;
}

}  // namespace

redis::ReplicaWait StrictReplicaWait(const config::Config& config) {
  redis::ReplicaWait wait;
  if (config.durability() == "strict") {
    wait.replicas = config.strict_replicas();
    wait.timeout =
        config::DurationSetting(config.redis().command_timeout()) / 2;
  }
  return wait;
}

absl::StatusOr<redis::ClientOptions> RedisOptions(
    const config::Config& config) {
  redis::ClientOptions options;
  absl::StatusOr<std::vector<std::pair<std::string, int>>> seeds =
      config::RedisSeeds(config);
  if (!seeds.ok()) return seeds.status();
  // The first address; in cluster mode the rest are more seeds.
  options.host = seeds->front().first;
  options.port = seeds->front().second;
  options.cluster = config.redis().cluster();
  options.seeds.assign(seeds->begin() + 1, seeds->end());
  options.user = config.redis().user();
  absl::StatusOr<std::string> password = config::RedisPassword(config);
  if (!password.ok()) return password.status();
  options.password = std::move(*password);
  options.pool_size = config.redis().pool_size();
  options.command_timeout =
      config::DurationSetting(config.redis().command_timeout());
  options.connect_timeout =
      config::DurationSetting(config.redis().connect_timeout());
  return options;
}

auth::AuthenticatorOptions AuthOptions(const config::Config& config) {
  auth::AuthenticatorOptions options;
  options.tenant = config.tenant();
  options.api_keys_file = config.auth().api_keys_file();
  options.jwks_file = config.auth().jwks_file();
  options.jwt.issuer = config.auth().jwt_issuer();
  options.jwt.audience = config.auth().jwt_audience();
  options.jwt.leeway = config::DurationSetting(config.auth().jwt_leeway());
  options.reload_interval =
      config::DurationSetting(config.auth().reload_interval());
  options.rate_limit = config.auth().rate_limit();
  options.rate_limit_burst = config.auth().rate_limit_burst();
  return options;
}

int ServiceMain(config::Service service, int argc, char** argv,
                const ServiceFactory& factory) {
  // Debian's Abseil is built with mutex deadlock detection on, which costs
  // a lock-order graph update on every lock of every hot path; tests keep it
  // (they run the same code with detection).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Before any thread exists, so every thread inherits the mask.
  BlockTerminationSignals();
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::cout << config::HelpText(service);
      return 0;
    }
  }
  absl::StatusOr<config::Config> loaded = config::LoadConfig(
      service, args, [](const char* name) { return std::getenv(name); });
  if (!loaded.ok()) return Fatal(service, loaded.status());
  const config::Config& cfg = *loaded;

  logging::SetComponent(config::ServiceName(service));
  logging::SetLevel(*logging::ParseLevel(cfg.log_level()));
  absl::StatusOr<keys::KeyBuilder> keys =
      keys::KeyBuilder::Create(cfg.tenant());
  if (!keys.ok()) return Fatal(service, keys.status());

  absl::StatusOr<std::unique_ptr<auth::Authenticator>> authenticator =
      auth::Authenticator::Create(AuthOptions(cfg));
  if (!authenticator.ok()) return Fatal(service, authenticator.status());
  absl::StatusOr<auth::ServiceCredential> credential =
      auth::ServiceCredential::FromFile(cfg.auth().credential_file());
  if (!credential.ok()) return Fatal(service, credential.status());

  metrics::Registry& registry = metrics::DefaultRegistry();
  metrics::RegisterProcessMetrics(registry);
  RedisCommandMetrics redis_metrics(registry);
  absl::StatusOr<redis::ClientOptions> redis_options = RedisOptions(cfg);
  if (!redis_options.ok()) return Fatal(service, redis_options.status());
  redis_options->observer = redis_metrics.Observer();
  redis::ClientOptions blocking_options = *redis_options;
  blocking_options.pool_size = cfg.consumers() + 2;
  std::unique_ptr<redis::Client> redis =
      redis::Client::Create(*std::move(redis_options));
  std::unique_ptr<redis::Client> blocking_redis =
      redis::Client::Create(std::move(blocking_options));

  std::unique_ptr<http::Server> metrics_http;
  if (!cfg.metrics_address().empty()) {
    auto started = metrics::StartEndpoint(cfg.metrics_address(), &registry);
    if (!started.ok()) return Fatal(service, started.status());
    metrics_http = std::move(*started);
  }

  ServiceContext context{
      cfg,         *keys,          *redis, registry, **authenticator,
      *credential, *blocking_redis};
  absl::StatusOr<ServiceBundle> bundle = factory(context);
  if (!bundle.ok()) return Fatal(service, bundle.status());

  ServerOptions options;
  options.address = cfg.grpc_address();
  options.health_address = cfg.health_address();
  options.max_message_bytes = cfg.max_message_bytes();
  options.credentials = ServerCredentialsFor(cfg.tls());
  options.reflection = cfg.reflection();
  options.shutdown_grace = config::DurationSetting(cfg.shutdown_grace());
  options.health_check_interval =
      config::DurationSetting(cfg.health_check_interval());
  options.readiness_check = [&redis] { return redis->Ping(); };
  options.health_service_names = bundle->service_names;
  options.interceptors.push_back(NewServerMetricsInterceptorFactory(registry));
  std::vector<grpc::Service*> services;
  for (auto& s : bundle->services) services.push_back(s.get());
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start(std::move(options), services);
  if (!server.ok()) return Fatal(service, server.status());

  OMNICX_LOG(kInfo) << "serving gRPC on " << cfg.grpc_address()
                    << ", metrics on " << cfg.metrics_address() << ", redis "
                    << cfg.redis().address() << ", tenant " << cfg.tenant()
                    << ", transport "
                    << (cfg.tls().cert_file().empty()     ? "plaintext"
                        : cfg.tls().require_client_cert() ? "mTLS"
                                                          : "TLS")
                    << ", reflection " << (cfg.reflection() ? "on" : "off")
                    << ", plaintext health "
                    << (cfg.health_address().empty() ? "off"
                                                     : cfg.health_address());
  const int signal = WaitForTerminationSignal();
  OMNICX_LOG(kInfo) << "signal " << signal << " received";
  if (bundle->stop) bundle->stop();
  (*server)->Shutdown();
  if (metrics_http) metrics_http->Stop();
  OMNICX_LOG(kInfo) << "stopped cleanly";
  return 0;
}

}  // namespace omnicx::server
