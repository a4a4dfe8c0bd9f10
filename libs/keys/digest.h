// SHA-256 and HMAC-SHA-256 as lower-case hex, over OpenSSL's libcrypto.
//
//   std::string h = Sha256Hex("event-123");
//   std::string k = HmacSha256Hex(secret, "email:jane@example.com");
#ifndef OMNICX_LIBS_KEYS_DIGEST_H_
#define OMNICX_LIBS_KEYS_DIGEST_H_

#include <string>

#include "absl/strings/string_view.h"

namespace omnicx::keys {

std::string Sha256Hex(absl::string_view data);
std::string HmacSha256Hex(absl::string_view secret, absl::string_view data);
// A 64-bit hash of `data` (first 8 bytes of SHA-256), stable across builds
// and machines; used to pick shards.
uint64_t StableHash64(absl::string_view data);

}  // namespace omnicx::keys

#endif  // OMNICX_LIBS_KEYS_DIGEST_H_
