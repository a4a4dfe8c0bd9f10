#include "libs/auth/api_keys.h"

#include <openssl/rand.h>

#include <cstdlib>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/auth/key_file.h"
#include "libs/keys/digest.h"
#include "yaml-cpp/yaml.h"

namespace omnicx::auth {
namespace {

absl::Status EntryError(absl::string_view source, size_t index,
                        absl::string_view why) {
  return KeyFileEntryError(source, "keys", index, why);
}

}  // namespace

absl::StatusOr<ApiKeySet> ApiKeySet::Parse(absl::string_view yaml,
                                           absl::string_view source) {
  absl::StatusOr<std::vector<YAML::Node>> entries =
      KeyFileEntries(yaml, source, "keys");
  if (!entries.ok()) return entries.status();
  ApiKeySet set;
  absl::flat_hash_set<std::string> names;
  for (size_t i = 0; i < entries->size(); ++i) {
    const YAML::Node& entry = (*entries)[i];
    ApiKey key;
    std::string role;
    try {
      for (const auto& kv : entry) {
        const std::string field = kv.first.as<std::string>();
        if (field == "name") {
          key.name = kv.second.as<std::string>();
        } else if (field == "sha256") {
          key.sha256 = kv.second.as<std::string>();
        } else if (field == "tenant") {
          key.tenant = kv.second.as<std::string>();
        } else if (field == "role") {
          role = kv.second.as<std::string>();
        } else if (field == "trusted_identities") {
          key.trusted_identities = kv.second.as<bool>();
        } else {
          return EntryError(source, i,
                            absl::StrCat("unknown field `", field, "`"));
        }
      }
    } catch (const YAML::Exception&) {
      return EntryError(source, i, "a field has the wrong type");
    }
    if (key.name.empty()) return EntryError(source, i, "`name` is required");
    if (!IsLowerHex64(key.sha256)) {
      return EntryError(source, i,
                        "`sha256` must be 64 lower-case hex digits (the "
                        "SHA-256 of the key, never the key itself)");
    }
    if (key.tenant.empty()) {
      return EntryError(source, i, "`tenant` is required");
    }
    std::optional<Role> parsed = ParseRole(role);
    if (!parsed.has_value()) {
      return EntryError(source, i,
                        "`role` must be app, agent, service, analyst, admin "
                        "or internal");
    }
    key.role = *parsed;
    if (key.trusted_identities && key.role != Role::kApp) {
      return EntryError(source, i,
                        "`trusted_identities` applies to app keys only");
    }
    // Names are unique per tenant: every tenant has its own internal keys
    // named after the services ("profile"), which the policy checks.
    if (!names.insert(absl::StrCat(key.tenant, "/", key.name)).second) {
      return EntryError(
          source, i,
          absl::StrCat("duplicate name ", key.name, " in tenant ", key.tenant));
    }
    const std::string hash = key.sha256;
    if (!set.by_hash_.emplace(hash, std::move(key)).second) {
      return EntryError(source, i, "the same key is listed twice");
    }
  }
  return set;
}

const ApiKey* ApiKeySet::Find(absl::string_view presented) const {
  auto it = by_hash_.find(keys::Sha256Hex(presented));
  return it == by_hash_.end() ? nullptr : &it->second;
}

std::string NewApiKey() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();  // no entropy
  return absl::StrCat(
      "ocx_", absl::WebSafeBase64Escape(absl::string_view(
                  reinterpret_cast<const char*>(bytes), sizeof(bytes))));
}

}  // namespace omnicx::auth
