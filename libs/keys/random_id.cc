#include "libs/keys/random_id.h"

#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace omnicx::keys {

std::string RandomId(absl::string_view prefix, int bytes) {
  unsigned char buffer[64];
  if (bytes < 1 || bytes > static_cast<int>(sizeof(buffer))) {
    std::fprintf(stderr, "RandomId: %d bytes asked, 1-64 allowed\n", bytes);
    std::abort();
  }
  if (RAND_bytes(buffer, bytes) != 1) {
    std::fprintf(stderr, "RandomId: the OpenSSL CSPRNG failed\n");
    std::abort();
  }
  return absl::StrCat(prefix,
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(buffer), bytes)));
}

}  // namespace omnicx::keys
