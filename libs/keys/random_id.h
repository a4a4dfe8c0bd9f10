// Unguessable identifiers (customer ids, decision ids) from OpenSSL's
// CSPRNG. Ids name customers and decisions in requests, so a predictable
// generator would let anyone who sees one id guess others.
//
//   std::string cid = RandomId("c_");         // "c_" + 32 lower-case hex
//   std::string did = RandomId("d_", 8);      // "d_" + 16 lower-case hex
//
// Seeded generators (std::mt19937 and friends) stay for what is not an
// identifier: Thompson sampling, backoff jitter, simulations.
#ifndef OMNICX_LIBS_KEYS_RANDOM_ID_H_
#define OMNICX_LIBS_KEYS_RANDOM_ID_H_

#include <string>

#include "absl/strings/string_view.h"

namespace omnicx::keys {

// `prefix` followed by `bytes` random bytes (1-64) as lower-case hex.
// Aborts if the CSPRNG fails: an id that might repeat must never be issued.
std::string RandomId(absl::string_view prefix, int bytes = 16);

}  // namespace omnicx::keys

#endif  // OMNICX_LIBS_KEYS_RANDOM_ID_H_
