// The one server bootstrap every omnicx service uses: a callback-API gRPC
// server with the standard health service, TLS/mTLS when given credentials
// (libs/server/tls.h), server reflection only when enabled, keepalive,
// message-size, stream and resource limits, readiness that follows a
// dependency (Redis), and graceful shutdown.
//
//   ServerOptions options;
//   options.address = "127.0.0.1:50051";
//   options.readiness_check = [&] { return redis->Ping(); };
//   IngestionServiceImpl service(...);
//   absl::StatusOr<std::unique_ptr<Server>> server =
//       Server::Start(options, {&service});
//   WaitForTerminationSignal();   // SIGTERM or SIGINT
//   (*server)->Shutdown();        // in-flight calls finish (up to the grace)
//
// Health (grpc.health.v1.Health): the service names "" (overall) and each
// registered service's full name report readiness and turn NOT_SERVING while
// readiness_check fails; "liveness" is SERVING for as long as the process
// serves at all, so a Kubernetes liveness probe never depends on Redis.
//
// With options.health_address set, a second, plaintext server answers health
// there and nothing else (every other method is UNIMPLEMENTED), with the same
// statuses: Kubernetes' gRPC probes cannot speak TLS, so they use that port
// while the main one requires TLS or mTLS. It answers NOT_SERVING while the
// main server drains and stops after it.
#ifndef OMNICX_LIBS_SERVER_SERVER_H_
#define OMNICX_LIBS_SERVER_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/grpcpp.h"

namespace omnicx::server {

inline constexpr char kLivenessService[] = "liveness";

struct ServerOptions {
  // host:port; port 0 picks a free port (see Server::port()).
  std::string address = "127.0.0.1:0";
  int max_message_bytes = 4 << 20;
  // Transport credentials (ServerCredentialsFor in libs/server/tls.h);
  // null = plaintext.
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // Plaintext host:port that serves only grpc.health.v1.Health, with the
  // same statuses as `address` (see the file comment); port 0 picks a free
  // port (see Server::health_port()). Empty = no such port.
  std::string health_address;
  // Serve grpc.reflection.v1alpha.ServerReflection (grpcurl's `list`,
  // `describe`). Off by default: it tells any caller the whole API.
  bool reflection = false;
  // Hardening against a greedy or hostile peer. Memory gRPC may use for
  // its buffers (half the services' 512 MiB container limit)...
  int64_t max_memory_bytes = int64_t{256} << 20;
  // ...threads gRPC may run for synchronous handlers (health, reflection;
  // the services' own handlers are callbacks)...
  int max_threads = 64;
  // ...and calls one connection may have open at once (more wait in the
  // client's queue).
  int max_concurrent_streams = 100;
  // After Shutdown() starts, in-flight calls get this long to finish.
  absl::Duration shutdown_grace = absl::Seconds(10);
  // How often readiness_check runs.
  absl::Duration health_check_interval = absl::Seconds(1);
  // OK when the service can do its work (e.g. Redis answers PING). Runs on
  // the health thread; it must bound its own time. Empty = always ready.
  std::function<absl::Status()> readiness_check;
  // Full names of the services (e.g. IngestionService::service_full_name())
  // whose health follows readiness, besides "".
  std::vector<std::string> health_service_names;
  // Extra interceptors (e.g. metrics), created per call.
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
};

class Server {
 public:
  // Builds and starts the server; fails when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      ServerOptions options, const std::vector<grpc::Service*>& services);
  // Also serves every method no typed service claims through `generic`
  // (tests use it for handlers of any shape). May be null.
  static absl::StatusOr<std::unique_ptr<Server>> StartWithGeneric(
      ServerOptions options, const std::vector<grpc::Service*>& services,
      grpc::CallbackGenericService* generic);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port.
  int port() const { return port_; }
  // "127.0.0.1:<port>" style address clients can dial.
  std::string dial_address() const;
  // The health-only port and its dial address; 0 and "" without
  // options.health_address.
  int health_port() const { return health_port_; }
  std::string health_dial_address() const;
  // Whether readiness currently reports SERVING.
  bool ready() const { return ready_.load(); }
  // Runs the readiness check now (tests use this instead of sleeping).
  void CheckReadinessNow();

  // Graceful: health turns NOT_SERVING (on the health port too, which stops
  // once the main server has drained), no new calls are accepted, in-flight
  // calls run until they finish or shutdown_grace passes (then they are
  // cancelled). Returns once the last handler has returned; handlers bound
  // their own work (Redis timeouts), so that is shortly after the grace at
  // worst. Idempotent.
  void Shutdown();

 private:
  Server(ServerOptions options, std::vector<std::string> service_names);
  void HealthLoop();
  void SetReadiness(bool ready);
  // The servers whose health service reports this server's statuses.
  std::vector<grpc::Server*> HealthServers() const;

  ServerOptions options_;
  std::vector<std::string> service_names_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  // Plaintext, health service only (options_.health_address); may be null.
  // The fallback answers every other method there and outlives the server.
  std::unique_ptr<grpc::CallbackGenericService> health_fallback_;
  std::unique_ptr<grpc::Server> health_server_;
  int health_port_ = 0;
  std::atomic<bool> ready_{false};
  absl::Mutex readiness_mu_;  // serialises health updates
  absl::Notification stop_health_;
  std::thread health_thread_;
  std::atomic<bool> shut_down_{false};
};

// Blocks SIGTERM and SIGINT in the calling thread and every thread created
// after it (call first thing in main), so that WaitForTerminationSignal can
// take them synchronously.
void BlockTerminationSignals();

// Waits until SIGTERM or SIGINT arrives; returns the signal number.
int WaitForTerminationSignal();

}  // namespace omnicx::server

#endif  // OMNICX_LIBS_SERVER_SERVER_H_
