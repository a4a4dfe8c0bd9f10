#include "libs/server/server.h"

#include <signal.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/impl/server_builder_plugin.h"
#include "grpcpp/resource_quota.h"
#include "libs/logging/log.h"

namespace omnicx::server {
namespace {

// Reflection per server, not per process: linking grpc++_reflection
// registers its plugin for every ServerBuilder from a static initializer,
// so this option drops that plugin and adds one back only when enabled.
class ReflectionOption : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(bool enabled) : enabled_(enabled) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    plugins->erase(
        std::remove_if(plugins->begin(), plugins->end(),
                       [](const std::unique_ptr<grpc::ServerBuilderPlugin>& p) {
                         return p->name() == kReflectionPluginName;
                       }),
        plugins->end());
    if (enabled_) {
      plugins->push_back(
          std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>());
    }
  }

 private:
  static constexpr char kReflectionPluginName[] = "proto_server_reflection";
  bool enabled_;
};

// What both the main and the health-only server set: no port sharing with a
// second process, keepalive, and limits on a greedy peer's pings and streams.
void SetTransportLimits(grpc::ServerBuilder& builder,
                        int max_concurrent_streams) {
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             max_concurrent_streams);
  // A second process on the same port must fail, not silently share it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Keepalive: detect dead peers, and tolerate clients' pings.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  // A client pinging more often than that is told to go away after two
  // strikes instead of being tolerated forever (0 = unlimited).
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
}

// Every method on the health-only port that the health service does not
// claim: UNIMPLEMENTED. gRPC serves registered methods first, so this sees
// only the rest; it also gives the server the callback method gRPC needs to
// start at all (the default health service is added only afterwards).
class HealthOnlyFallback : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext*) override {
    class Refuse : public grpc::ServerGenericBidiReactor {
     public:
      Refuse() {
        Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                            "this port serves only grpc.health.v1.Health"));
      }
      void OnDone() override { delete this; }
    };
    return new Refuse;
  }
};

// The plaintext health-only server: no service of its own, so the only
// thing it serves is the default health service every server gets
// (EnableDefaultHealthCheckService); reflection is dropped explicitly.
std::unique_ptr<grpc::Server> StartHealthServer(
    const std::string& address, grpc::CallbackGenericService* fallback,
    int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), port);
  builder.RegisterCallbackGenericService(fallback);
  builder.SetOption(std::make_unique<ReflectionOption>(false));
  // Probes and a few watchers: small buffers, small messages.
  grpc::ResourceQuota quota("omnicx-health");
  quota.Resize(size_t{16} << 20);
  quota.SetMaxThreads(4);
  builder.SetResourceQuota(quota);
  builder.SetMaxReceiveMessageSize(4096);
  builder.SetMaxSendMessageSize(4096);
  SetTransportLimits(builder, /*max_concurrent_streams=*/16);
  return builder.BuildAndStart();
}

std::string DialAddress(const std::string& address, int port) {
  std::string host = address.substr(0, address.rfind(':'));
  if (host == "0.0.0.0" || host == "[::]" || host.empty()) host = "127.0.0.1";
  return absl::StrCat(host, ":", port);
}

}  // namespace

Server::Server(ServerOptions options, std::vector<std::string> service_names)
    : options_(std::move(options)), service_names_(std::move(service_names)) {}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    ServerOptions options, const std::vector<grpc::Service*>& services) {
  return StartWithGeneric(std::move(options), services, nullptr);
}

absl::StatusOr<std::unique_ptr<Server>> Server::StartWithGeneric(
    ServerOptions options, const std::vector<grpc::Service*>& services,
    grpc::CallbackGenericService* generic) {
  grpc::EnableDefaultHealthCheckService(true);

  std::vector<std::string> names = options.health_service_names;
  std::unique_ptr<Server> server(
      new Server(std::move(options), std::move(names)));
  grpc::ServerBuilder builder;
  const ServerOptions& o = server->options_;
  builder.AddListeningPort(
      o.address,
      o.credentials ? o.credentials : grpc::InsecureServerCredentials(),
      &server->port_);
  builder.SetOption(std::make_unique<ReflectionOption>(o.reflection));
  grpc::ResourceQuota quota("omnicx-server");
  quota.Resize(static_cast<size_t>(o.max_memory_bytes));
  quota.SetMaxThreads(o.max_threads);
  builder.SetResourceQuota(quota);
  builder.SetMaxReceiveMessageSize(server->options_.max_message_bytes);
  builder.SetMaxSendMessageSize(server->options_.max_message_bytes);
  SetTransportLimits(builder, o.max_concurrent_streams);
  for (grpc::Service* service : services) builder.RegisterService(service);
  if (generic != nullptr) builder.RegisterCallbackGenericService(generic);
  if (!server->options_.interceptors.empty()) {
    builder.experimental().SetInterceptorCreators(
        std::move(server->options_.interceptors));
  }
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", server->options_.address,
                     " (address in use or not valid for this host)"));
  }
  if (!server->options_.health_address.empty()) {
    server->health_fallback_ = std::make_unique<HealthOnlyFallback>();
    server->health_server_ = StartHealthServer(server->options_.health_address,
                                               server->health_fallback_.get(),
                                               &server->health_port_);
    if (server->health_server_ == nullptr || server->health_port_ == 0) {
      return absl::UnavailableError(absl::StrCat(
          "cannot listen on ", server->options_.health_address,
          " for health (address in use or not valid for this host)"));
    }
  }
  for (grpc::Server* s : server->HealthServers()) {
    s->GetHealthCheckService()->SetServingStatus(kLivenessService, true);
  }
  server->CheckReadinessNow();
  server->health_thread_ = std::thread([s = server.get()] { s->HealthLoop(); });
  return server;
}

Server::~Server() { Shutdown(); }

std::string Server::dial_address() const {
  return DialAddress(options_.address, port_);
}

std::string Server::health_dial_address() const {
  if (health_server_ == nullptr) return "";
  return DialAddress(options_.health_address, health_port_);
}

std::vector<grpc::Server*> Server::HealthServers() const {
  std::vector<grpc::Server*> servers;
  if (server_ != nullptr) servers.push_back(server_.get());
  if (health_server_ != nullptr) servers.push_back(health_server_.get());
  return servers;
}

void Server::SetReadiness(bool ready) {
  absl::MutexLock lock(&readiness_mu_);
  if (shut_down_.load()) return;
  const bool was = ready_.exchange(ready);
  for (grpc::Server* s : HealthServers()) {
    grpc::HealthCheckServiceInterface* health = s->GetHealthCheckService();
    health->SetServingStatus("", ready);
    for (const std::string& name : service_names_) {
      health->SetServingStatus(name, ready);
    }
  }
  if (was != ready) {
    OMNICX_LOG(kInfo) << "readiness " << (ready ? "SERVING" : "NOT_SERVING");
  }
}

void Server::CheckReadinessNow() {
  absl::Status status =
      options_.readiness_check ? options_.readiness_check() : absl::OkStatus();
  if (!status.ok() && ready_.load()) {
    OMNICX_LOG(kWarn) << "not ready: " << status;
  }
  SetReadiness(status.ok());
}

void Server::HealthLoop() {
  while (!stop_health_.WaitForNotificationWithTimeout(
      options_.health_check_interval)) {
    CheckReadinessNow();
  }
}

void Server::Shutdown() {
  if (shut_down_.exchange(true)) return;
  if (!stop_health_.HasBeenNotified()) stop_health_.Notify();
  if (health_thread_.joinable()) health_thread_.join();
  {
    absl::MutexLock lock(&readiness_mu_);
    ready_.store(false);
    // Every health status, liveness included, turns NOT_SERVING, on both
    // ports.
    for (grpc::Server* s : HealthServers()) {
      s->GetHealthCheckService()->Shutdown();
    }
  }
  if (server_ != nullptr) {
    OMNICX_LOG(kInfo) << "shutting down; in-flight calls get up to "
                      << absl::FormatDuration(options_.shutdown_grace);
    server_->Shutdown(
        absl::ToChronoTime(absl::Now() + options_.shutdown_grace));
    server_->Wait();
  }
  // The probes saw NOT_SERVING during the drain; now the port closes (open
  // Watch streams are cancelled).
  if (health_server_ != nullptr) {
    health_server_->Shutdown(absl::ToChronoTime(absl::Now()));
    health_server_->Wait();
  }
}

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

}  // namespace omnicx::server
