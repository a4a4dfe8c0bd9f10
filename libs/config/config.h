// The suite's start-up configuration: defaults per service, then the YAML
// file, then OMNICX_* environment variables, then flags (later wins), then
// validation. An invalid value is an error that names the setting, its
// environment variable and the reason; main() prints it and exits non-zero.
//
//   absl::StatusOr<v1::Config> cfg =
//       LoadConfig(Service::kIngestion, args, &std::getenv);
//   absl::Duration grace = DurationSetting(cfg->shutdown_grace());
//
// This is the only code that reads the environment.
#ifndef OMNICX_LIBS_CONFIG_CONFIG_H_
#define OMNICX_LIBS_CONFIG_CONFIG_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/config/proto_loader.h"
#include "omnicx/config/v1/config.pb.h"

namespace omnicx::config {

using Config = ::omnicx::config::v1::Config;

enum class Service { kIngestion, kProfile, kJourney, kRecommendation };

// "ingestion", "profile", "journey", "recommendation".
absl::string_view ServiceName(Service service);

// Built-in defaults for `service` (its loopback ports: gRPC 5005x, metrics
// 945x, as in README.md).
Config Defaults(Service service);

// Defaults < YAML (config_file) < environment < flags, then
// identity_secret is filled from identity_secret_file when that is set
// (ReadSecretFile; setting both is an error), then Validate.
absl::StatusOr<Config> LoadConfig(Service service,
                                  const std::vector<std::string>& args,
                                  const EnvLookup& env);

// Checks every common and service-specific setting.
absl::Status Validate(const Config& config);

// For the services that read the identity index (profile, journey): the
// HMAC secret (identity_secret, or read from identity_secret_file by
// LoadConfig) must be set and at least 16 characters.
absl::Status RequireIdentitySecret(const Config& config);

// The one way a secret is read from a file (redis.password_file,
// identity_secret_file, tools' secret flags): the whole file, trailing
// newlines dropped. An unreadable or empty file is InvalidArgument naming
// `setting` and `path`; the message never holds the file's contents.
absl::StatusOr<std::string> ReadSecretFile(absl::string_view setting,
                                           const std::string& path);

// redis.address as (host, port) pairs: one host:port, or with
// redis.cluster a comma-separated list of Cluster seed nodes. InvalidArgument
// naming redis.address when one is not host:port (port 1-65535), or when
// several are given without redis.cluster.
absl::StatusOr<std::vector<std::pair<std::string, int>>> RedisSeeds(
    const Config& config);

// The Redis AUTH password: ReadSecretFile of redis.password_file when set,
// else redis.password. An unreadable or empty file, both settings at once,
// or redis.user without a password is InvalidArgument naming the setting;
// the message never holds the password.
absl::StatusOr<std::string> RedisPassword(const Config& config);

// Parses a duration setting that Validate has accepted.
absl::Duration DurationSetting(absl::string_view text);

// "--help" text: every setting with its environment variable and default.
std::string HelpText(Service service);

}  // namespace omnicx::config

#endif  // OMNICX_LIBS_CONFIG_CONFIG_H_
