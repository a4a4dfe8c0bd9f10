#include "libs/server/tls.h"

#include <algorithm>

#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "protos/omnicx/v1/service_config_json.h"

namespace omnicx::server {
namespace {

using grpc::experimental::FileWatcherCertificateProvider;

// The file watcher counts in whole seconds; an unset interval (tools build
// TlsConfig by hand) means the configured default.
unsigned int RefreshSeconds(const config::v1::TlsConfig& tls) {
  absl::Duration interval = absl::Seconds(60);
  if (!tls.refresh_interval().empty()) {
    interval = config::DurationSetting(tls.refresh_interval());
  }
  return static_cast<unsigned int>(
      std::max<int64_t>(1, absl::ToInt64Seconds(interval)));
}

}  // namespace

std::shared_ptr<grpc::ServerCredentials> ServerCredentialsFor(
    const config::v1::TlsConfig& tls) {
  if (tls.cert_file().empty()) return grpc::InsecureServerCredentials();
  auto provider = std::make_shared<FileWatcherCertificateProvider>(
      tls.key_file(), tls.cert_file(), tls.ca_file(), RefreshSeconds(tls));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!tls.ca_file().empty()) options.watch_root_certs();
  options.set_cert_request_type(
      tls.require_client_cert()
          ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
          : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsFor(
    const config::v1::TlsConfig& tls) {
  if (tls.cert_file().empty() && tls.ca_file().empty()) {
    return grpc::InsecureChannelCredentials();
  }
  auto provider = std::make_shared<FileWatcherCertificateProvider>(
      tls.key_file(), tls.cert_file(), tls.ca_file(), RefreshSeconds(tls));
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  // Without watched roots gRPC verifies against the system roots.
  if (!tls.ca_file().empty()) options.watch_root_certs();
  if (!tls.cert_file().empty()) options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  return grpc::experimental::TlsCredentials(options);
}

std::string_view ShippedServiceConfig() { return kServiceConfigJson; }

grpc::ChannelArguments ClientChannelArguments(Retries retries) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(std::string(ShippedServiceConfig()));
  if (retries == Retries::kNone) args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  return args;
}

std::shared_ptr<grpc::Channel> DialService(const std::string& address,
                                           const config::v1::TlsConfig& tls,
                                           Retries retries) {
  return grpc::CreateCustomChannel(address, ChannelCredentialsFor(tls),
                                   ClientChannelArguments(retries));
}

std::shared_ptr<grpc::Channel> DialService(const std::string& address,
                                           const config::Config& config,
                                           Retries retries) {
  return DialService(address, config.tls(), retries);
}

}  // namespace omnicx::server
