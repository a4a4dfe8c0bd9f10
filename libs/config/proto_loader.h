// Fills protobuf messages from YAML, environment variables and command-line
// flags by reflection, with errors that name the offending setting. It is the
// one loader behind every omnicx configuration (service settings, journey
// weights, action catalog).
//
//   omnicx::config::v1::Config cfg;
//   OMNICX_RETURN_IF_ERROR(MergeYamlFile("/etc/omnicx/config.yaml", &cfg));
//   OMNICX_RETURN_IF_ERROR(MergeEnvironment("OMNICX", &cfg, lookup));
//   OMNICX_RETURN_IF_ERROR(MergeFlags(args, &cfg));
//
// Names: a setting's path joins field names with '.' (`redis.address`); its
// environment variable is the prefix, '_', and the path upper-cased with
// '.' → '_' (`OMNICX_REDIS_ADDRESS`); its flag is `--redis.address=VALUE`.
// Enum values are given by name (`CHANNEL_WEB`); durations stay strings and
// are checked by the caller's validation.
#ifndef OMNICX_LIBS_CONFIG_PROTO_LOADER_H_
#define OMNICX_LIBS_CONFIG_PROTO_LOADER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace omnicx::config {

// Returns the variable's value, or nullptr when unset.
using EnvLookup = std::function<const char*(const char* name)>;

// Sets the scalar field at dotted `path` from `text`.
absl::Status SetFieldFromText(google::protobuf::Message* message,
                              absl::string_view path, absl::string_view text);

// Merges YAML into `message`. Unknown keys, wrong types and bad enum names
// are errors naming `source`, the line and the setting path.
absl::Status MergeYaml(absl::string_view yaml, absl::string_view source,
                       google::protobuf::Message* message);
absl::Status MergeYamlFile(const std::string& path,
                           google::protobuf::Message* message);

// Every singular scalar field's environment variable, e.g.
// {"OMNICX_REDIS_ADDRESS", "redis.address"}.
std::vector<std::pair<std::string, std::string>> EnvironmentNames(
    absl::string_view prefix, const google::protobuf::Descriptor& descriptor);

// Applies every set environment variable named by EnvironmentNames.
absl::Status MergeEnvironment(absl::string_view prefix,
                              google::protobuf::Message* message,
                              const EnvLookup& lookup);

// Applies `--path=value` flags (a bare `--path` sets a bool to true). Any
// other argument, or an unknown path, is an error.
absl::Status MergeFlags(const std::vector<std::string>& args,
                        google::protobuf::Message* message);

}  // namespace omnicx::config

#endif  // OMNICX_LIBS_CONFIG_PROTO_LOADER_H_
