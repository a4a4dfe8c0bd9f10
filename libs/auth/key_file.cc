#include "libs/auth/key_file.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace omnicx::auth {

absl::StatusOr<std::vector<YAML::Node>> KeyFileEntries(absl::string_view yaml,
                                                       absl::string_view source,
                                                       absl::string_view list) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not valid YAML (line ", e.mark.line + 1, ")"));
  }
  std::vector<YAML::Node> entries;
  if (!root || root.IsNull()) return entries;
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected a map with a `", list, "` list"));
  }
  for (const auto& kv : root) {
    if (!kv.first.IsScalar()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": field names must be plain strings"));
    }
    if (kv.first.as<std::string>() != list) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": unknown field `", kv.first.as<std::string>(), "`"));
    }
  }
  const YAML::Node keys = root[std::string(list)];
  if (!keys || keys.IsNull()) return entries;
  if (!keys.IsSequence()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": `", list, "` must be a list"));
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!keys[i].IsMap()) {
      return KeyFileEntryError(source, list, i, "must be a map");
    }
    entries.push_back(keys[i]);
  }
  return entries;
}

absl::Status KeyFileEntryError(absl::string_view source, absl::string_view list,
                               size_t index, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": ", list, "[", index, "]: ", why));
}

bool IsLowerHex64(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace omnicx::auth
