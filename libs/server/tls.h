// Transport security from the `tls` settings: the gRPC server's credentials,
// the credentials of a service's own outgoing calls, and DialService, the one
// way an omnicx process (service or tool) dials an omnicx service.
//
// Every channel DialService makes has the service config that ships with the
// protos (protos/omnicx/v1/service_config.json, compiled into the binary) as
// its default: gRPC retries the methods safe to retry and throttles retries
// when most calls fail (docs/guarantees.md, "The service config").
//
// Certificates, keys and the CA bundle are read by gRPC's file watcher and
// re-read every tls.refresh_interval, so a rotated certificate (cert-manager,
// a Kubernetes secret update) is used by new connections without a restart;
// open connections keep the certificate they were made with. No cert_file
// (and no ca_file, for clients) = plaintext.
//
//   ServerOptions options;
//   options.credentials = ServerCredentialsFor(cfg.tls());
//   ...
//   std::shared_ptr<grpc::Channel> journey =
//       DialService(cfg.journey_address(), cfg);
//   // Calls with a deadline shorter than the first backoff:
//   auto quick = DialService(cfg.journey_address(), cfg, Retries::kNone);
#ifndef OMNICX_LIBS_SERVER_TLS_H_
#define OMNICX_LIBS_SERVER_TLS_H_

#include <memory>
#include <string>
#include <string_view>

#include "grpcpp/grpcpp.h"
#include "libs/config/config.h"

namespace omnicx::server {

// Plaintext when tls.cert_file is empty. Otherwise TLS presenting
// cert_file/key_file; with tls.require_client_cert, clients must present a
// certificate that chains to tls.ca_file (mTLS). Expects settings that
// config::Validate accepted.
std::shared_ptr<grpc::ServerCredentials> ServerCredentialsFor(
    const config::v1::TlsConfig& tls);

// Plaintext when tls.cert_file and tls.ca_file are both empty. Otherwise TLS
// that verifies the server's certificate (chain to tls.ca_file, or the
// system roots when it is empty; name = the dialled host) and, when
// tls.cert_file is set, presents cert_file/key_file as the client
// certificate.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsFor(
    const config::v1::TlsConfig& tls);

// protos/omnicx/v1/service_config.json as embedded at build time.
std::string_view ShippedServiceConfig();

// Whether a channel's calls are retried as the service config says.
enum class Retries {
  kAsConfigured,
  // None: for calls whose whole deadline is shorter than the config's first
  // backoff (up to 250 ms), where a retry cannot succeed in time and would
  // only turn a prompt UNAVAILABLE into DEADLINE_EXCEEDED at the deadline.
  kNone,
};

// Channel arguments with ShippedServiceConfig() as the default service
// config (and, for Retries::kNone, retries off).
grpc::ChannelArguments ClientChannelArguments(
    Retries retries = Retries::kAsConfigured);

// A channel to the omnicx service at `address` (host:port) with the
// process's own TLS settings and ClientChannelArguments(retries). Channels
// to omnicx services are made only through this.
std::shared_ptr<grpc::Channel> DialService(
    const std::string& address, const config::v1::TlsConfig& tls,
    Retries retries = Retries::kAsConfigured);
std::shared_ptr<grpc::Channel> DialService(
    const std::string& address, const config::Config& config,
    Retries retries = Retries::kAsConfigured);

}  // namespace omnicx::server

#endif  // OMNICX_LIBS_SERVER_TLS_H_
