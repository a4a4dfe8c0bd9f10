// Transport security from the `tls` settings: the gRPC server's credentials,
// the credentials of a service's own outgoing calls, and DialService, the one
// way an omnicx process dials another omnicx service.
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
#ifndef OMNICX_LIBS_SERVER_TLS_H_
#define OMNICX_LIBS_SERVER_TLS_H_

#include <memory>
#include <string>

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

// A channel to another omnicx service at `address` (host:port) with the
// process's own TLS settings. Internal channels are made only through this.
std::shared_ptr<grpc::Channel> DialService(const std::string& address,
                                           const config::v1::TlsConfig& tls);
std::shared_ptr<grpc::Channel> DialService(const std::string& address,
                                           const config::Config& config);

}  // namespace omnicx::server

#endif  // OMNICX_LIBS_SERVER_TLS_H_
