#include "services/ingestion/write_keys.h"

#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/auth/key_file.h"
#include "libs/keys/digest.h"
#include "yaml-cpp/yaml.h"

namespace omnicx::ingestion {
namespace {

bool IsSourceName(absl::string_view s) {
  if (s.empty() || s.size() > 27) return false;
  for (unsigned char c : s) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' ||
          c == '-')) {
      return false;
    }
  }
  return true;
}

absl::Status EntryError(absl::string_view source, size_t index,
                        absl::string_view why) {
  return auth::KeyFileEntryError(source, "write_keys", index, why);
}

}  // namespace

bool OriginAllowed(const WriteKeyGrant& grant, absl::string_view origin) {
  for (const std::string& allowed : grant.allowed_origins) {
    if (allowed == "*" || allowed == origin) return true;
  }
  return false;
}

absl::StatusOr<WriteKeySet> WriteKeySet::Parse(absl::string_view yaml,
                                               absl::string_view source) {
  absl::StatusOr<std::vector<YAML::Node>> entries =
      auth::KeyFileEntries(yaml, source, "write_keys");
  if (!entries.ok()) return entries.status();
  WriteKeySet set;
  absl::flat_hash_set<std::string> names;
  for (size_t i = 0; i < entries->size(); ++i) {
    const YAML::Node& entry = (*entries)[i];
    WriteKeyGrant grant;
    std::string sha256;
    std::string channel = "web";
    try {
      for (const auto& kv : entry) {
        const std::string field = kv.first.as<std::string>();
        if (field == "name") {
          grant.name = kv.second.as<std::string>();
        } else if (field == "sha256") {
          sha256 = kv.second.as<std::string>();
        } else if (field == "tenant") {
          grant.tenant = kv.second.as<std::string>();
        } else if (field == "source") {
          grant.source = kv.second.as<std::string>();
        } else if (field == "default_channel") {
          channel = kv.second.as<std::string>();
        } else if (field == "allowed_origins") {
          if (!kv.second.IsSequence()) {
            return EntryError(source, i, "`allowed_origins` must be a list");
          }
          for (const auto& o : kv.second) {
            grant.allowed_origins.push_back(o.as<std::string>());
          }
        } else if (field == "trusted_identities") {
          grant.trusted_identities = kv.second.as<bool>();
        } else {
          return EntryError(source, i,
                            absl::StrCat("unknown field `", field, "`"));
        }
      }
    } catch (const YAML::Exception&) {
      return EntryError(source, i, "a field has the wrong type");
    }
    if (grant.name.empty()) return EntryError(source, i, "`name` is required");
    if (!auth::IsLowerHex64(sha256)) {
      return EntryError(source, i,
                        "`sha256` must be 64 lower-case hex digits (the "
                        "SHA-256 of the key, never the key itself)");
    }
    if (grant.tenant.empty()) {
      return EntryError(source, i, "`tenant` is required");
    }
    if (!IsSourceName(grant.source)) {
      return EntryError(source, i,
                        "`source` must be 1-27 characters of a-z, 0-9, '_', "
                        "'-'");
    }
    omnicx::v1::Channel parsed;
    if (!omnicx::v1::Channel_Parse(
            absl::StrCat("CHANNEL_", absl::AsciiStrToUpper(channel)),
            &parsed) ||
        parsed == omnicx::v1::CHANNEL_UNSPECIFIED) {
      return EntryError(source, i,
                        "`default_channel` must be a channel name such as "
                        "web or mobile_app");
    }
    grant.default_channel = parsed;
    if (!names.insert(absl::StrCat(grant.tenant, "/", grant.name)).second) {
      return EntryError(source, i,
                        absl::StrCat("duplicate name ", grant.name,
                                     " in tenant ", grant.tenant));
    }
    if (!set.by_hash_.emplace(sha256, std::move(grant)).second) {
      return EntryError(source, i, "the same key is listed twice");
    }
  }
  return set;
}

absl::StatusOr<WriteKeySet> WriteKeySet::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("write_keys_file ", path, " cannot be read"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

const WriteKeyGrant* WriteKeySet::Find(absl::string_view presented) const {
  if (presented.empty()) return nullptr;
  auto it = by_hash_.find(keys::Sha256Hex(presented));
  return it == by_hash_.end() ? nullptr : &it->second;
}

bool WriteKeySet::AnyAllows(absl::string_view origin) const {
  for (const auto& [hash, grant] : by_hash_) {
    if (OriginAllowed(grant, origin)) return true;
  }
  return false;
}

}  // namespace omnicx::ingestion
