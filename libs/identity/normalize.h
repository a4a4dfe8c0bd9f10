// Identity normalisation: the one definition of what an email, a phone
// number or an id looks like, used by ingestion (to validate events) and by
// the profile service (to look identities up), so `" Jane@Example.COM "`
// written at ingestion is found by a lookup for `jane@example.com`.
//
//   absl::StatusOr<std::string> v = NormalizeIdentity("email", " A@B.com ");
//   // *v == "a@b.com"
//
// Rules:
//   email        trimmed, lower-cased; local@domain, local 1–64 bytes without
//                spaces or control characters, domain of dot-separated
//                labels [a-z0-9-] with at least one dot; at most 254 bytes.
//   phone        E.164: "+" (or "00") then 8–15 digits; spaces, dots,
//                dashes and parentheses are dropped. Numbers without a
//                country code are rejected (no default country is guessed).
//   crm_id, device_id, loyalty_id, anonymous_id
//                trimmed, 1–128 visible ASCII characters.
// Error messages are phrased to follow a field path ("must be ...").
#ifndef OMNICX_LIBS_IDENTITY_NORMALIZE_H_
#define OMNICX_LIBS_IDENTITY_NORMALIZE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace omnicx::identity {

// True for the identity types omnicx knows.
bool IsKnownIdentityType(absl::string_view type);

// The normalised value, or InvalidArgument with a description.
absl::StatusOr<std::string> NormalizeIdentity(absl::string_view type,
                                              absl::string_view value);

// For opaque ids (event ids, customer ids): 1–max_len visible ASCII
// characters (0x21–0x7E).
bool IsVisibleAsciiId(absl::string_view id, size_t max_len);

// The identity index key material: HMAC-SHA-256 (hex) of "type:value" with
// the configured secret, so emails and phone numbers never appear in key
// names. `value` must already be normalised.
std::string IdentityDigest(absl::string_view secret, absl::string_view type,
                           absl::string_view value);

// Masks an identity value for display: `j***@example.com`, `+1******4567`,
// ids keep their last 4 characters.
std::string MaskIdentity(absl::string_view type, absl::string_view value);

}  // namespace omnicx::identity

#endif  // OMNICX_LIBS_IDENTITY_NORMALIZE_H_
