// What the suite's key files have in common (API keys, libs/auth/api_keys.h;
// the tracking API's write keys, services/ingestion/write_keys.h): YAML
// with one top-level list of entries, each naming a key by the lower-case
// hex SHA-256 of its value, never the value itself.
//
//   absl::StatusOr<std::vector<YAML::Node>> entries =
//       KeyFileEntries(yaml, "keys.yaml", "keys");
//   ... on a bad entry i: return KeyFileEntryError("keys.yaml", "keys", i,
//                                                  "`name` is required");
#ifndef OMNICX_LIBS_AUTH_KEY_FILE_H_
#define OMNICX_LIBS_AUTH_KEY_FILE_H_

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "yaml-cpp/yaml.h"

namespace omnicx::auth {

// The entries of the file's `list` (each checked to be a map). An empty
// file or list has none. InvalidArgument naming `source` for YAML that does
// not parse, a top level that is not a map of only `list`, a `list` that is
// not a sequence, or an entry that is not a map.
absl::StatusOr<std::vector<YAML::Node>> KeyFileEntries(absl::string_view yaml,
                                                       absl::string_view source,
                                                       absl::string_view list);

// InvalidArgument "<source>: <list>[<index>]: <why>".
absl::Status KeyFileEntryError(absl::string_view source, absl::string_view list,
                               size_t index, absl::string_view why);

// 64 characters of [0-9a-f]: a SHA-256 as the key files hold it.
bool IsLowerHex64(absl::string_view s);

}  // namespace omnicx::auth

#endif  // OMNICX_LIBS_AUTH_KEY_FILE_H_
