// Write keys of the HTTP tracking API: untrusted app credentials that
// browsers and mobile apps embed (anyone can copy one). Stored only as the
// SHA-256 hex of the key; each is bound to a tenant, a source, a default
// channel and the browser origins allowed to use it. The YAML file
// (write_keys_file, docs/http-api.md):
//
//   write_keys:
//     - name: shop-web                # for logs and metrics
//       sha256: 9f86d08...            # sha256sum of the key
//       tenant: default
//       source: web                   # dedupe scope of messageIds
//       default_channel: web          # web, mobile_app, ... (channel names)
//       allowed_origins: ["https://shop.example"]   # or ["*"]; [] = none
//       trusted_identities: false     # true only for server-side sources
//
//   absl::StatusOr<WriteKeySet> keys = WriteKeySet::Parse(yaml, path);
//   const WriteKeyGrant* grant = keys->Find(presented);  // nullptr: unknown
#ifndef OMNICX_SERVICES_INGESTION_WRITE_KEYS_H_
#define OMNICX_SERVICES_INGESTION_WRITE_KEYS_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/ingestion/tracking_mapping.h"

namespace omnicx::ingestion {

class WriteKeySet {
 public:
  // Unknown fields, malformed hashes, bad sources or channels and duplicate
  // keys or names are INVALID_ARGUMENT naming the entry.
  static absl::StatusOr<WriteKeySet> Parse(absl::string_view yaml,
                                           absl::string_view source);
  static absl::StatusOr<WriteKeySet> Load(const std::string& path);

  // The grant of the key whose hash matches `presented`, or nullptr.
  const WriteKeyGrant* Find(absl::string_view presented) const;
  // Does any key allow `origin` ("*" matches every origin)?
  bool AnyAllows(absl::string_view origin) const;
  size_t size() const { return by_hash_.size(); }

 private:
  absl::flat_hash_map<std::string, WriteKeyGrant> by_hash_;
};

// Is `origin` in `grant`'s allowed origins (or are all allowed)?
bool OriginAllowed(const WriteKeyGrant& grant, absl::string_view origin);

}  // namespace omnicx::ingestion

#endif  // OMNICX_SERVICES_INGESTION_WRITE_KEYS_H_
