// The shared main() of the four services: loads configuration (fatal with a
// message naming the setting when invalid), sets up logging, the key
// builder, the Redis client and the metrics endpoint, builds the service
// through a factory, serves with health (TLS and reflection as configured;
// factories dial other services with DialService from libs/server/tls.h),
// and shuts down gracefully on SIGTERM/SIGINT (exit 0).
//
//   int main(int argc, char** argv) {
//     return omnicx::server::ServiceMain(
//         omnicx::config::Service::kJourney, argc, argv,
//         [](omnicx::server::ServiceContext& ctx)
//             -> absl::StatusOr<omnicx::server::ServiceBundle> { ... });
//   }
#ifndef OMNICX_LIBS_SERVER_SERVICE_MAIN_H_
#define OMNICX_LIBS_SERVER_SERVICE_MAIN_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "libs/auth/authenticator.h"
#include "libs/config/config.h"
#include "libs/keys/key_builder.h"
#include "libs/metrics/registry.h"
#include "libs/redis/client.h"

namespace omnicx::server {

// What a service factory gets: everything is owned by ServiceMain and
// outlives the bundle.
struct ServiceContext {
  const config::Config& config;
  const keys::KeyBuilder& keys;
  redis::Client& redis;
  metrics::Registry& metrics;
  // The gate every handler calls first (auth.* settings).
  auth::Authenticator& auth;
  // This service's own credential for its calls to other omnicx services.
  const auth::ServiceCredential& credential;
  // A second client, only for stream consumers' blocking reads
  // (ConsumerOptions::blocking_reads): a read waiting on an empty stream
  // holds one of its connections, never one of `redis`'s pool. Its pool
  // (consumers + 2 connections, per node on a Cluster) covers one blocking
  // read per consumer of the process.
  redis::Client& blocking_redis;
};

// What a factory returns: the gRPC services to register (with their full
// names for health), and an optional hook that stops background work (stream
// consumers) before the server drains.
struct ServiceBundle {
  std::vector<std::unique_ptr<grpc::Service>> services;
  std::vector<std::string> service_names;
  std::function<void()> stop;
  // Objects the services refer to; released after the server has drained.
  std::vector<std::shared_ptr<void>> keep_alive;
};

using ServiceFactory =
    std::function<absl::StatusOr<ServiceBundle>(ServiceContext& context)>;

// Redis client options from the configuration (one mapping for all users),
// with the password read from redis.password_file when set; an unreadable
// file is InvalidArgument naming the setting.
absl::StatusOr<redis::ClientOptions> RedisOptions(const config::Config& config);

// What consumers wait for before acknowledging (ConsumerOptions::
// replica_wait, and the journey's aggregator and churn learner): with
// durability strict and strict_replicas N > 0, N replicas within half of
// redis.command_timeout (the WAIT rides in the commit's round trip); else
// none (strict with 0 replicas relies on appendfsync always).
redis::ReplicaWait StrictReplicaWait(const config::Config& config);

// Authenticator options from the configuration (auth.* and tenant).
auth::AuthenticatorOptions AuthOptions(const config::Config& config);

int ServiceMain(config::Service service, int argc, char** argv,
                const ServiceFactory& factory);

}  // namespace omnicx::server

#endif  // OMNICX_LIBS_SERVER_SERVICE_MAIN_H_
