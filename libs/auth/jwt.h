// JWT bearer tokens verified against a JWKS file: RS256 and ES256 only
// (an allow-list; `alg: none`, HS* and anything else are refused, so a
// public key can never be used as an HMAC secret), `iss` and `aud` must
// match, `exp` must lie ahead and `nbf` (if present) behind, each within a
// small leeway. The token's `kid` picks the key (an unknown `kid` is
// refused); with no `kid`, each key of the right type is tried. `sub`,
// `tenant` and `role` are required, `trusted_identities` is an optional bool.
//
//   JwtOptions options{.issuer = "https://idp.example", .audience = "omnicx"};
//   auto verifier = JwtVerifier::Create(options, "/etc/omnicx/jwks.json");
//   absl::StatusOr<JwtClaims> claims = (*verifier)->Verify(token, absl::Now());
//
// The JWKS file is re-read when its modification time or size changes,
// checked at most every `reload_interval` on Verify (or at once through
// ReloadNow). A file that fails to parse keeps the previous keys and logs.
// Every failure is UNAUTHENTICATED with a message that names the reason but
// never echoes the token.
#ifndef OMNICX_LIBS_AUTH_JWT_H_
#define OMNICX_LIBS_AUTH_JWT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace omnicx::auth {

struct JwtOptions {
  std::string issuer;
  std::string audience;
  absl::Duration leeway = absl::Seconds(60);
  absl::Duration reload_interval = absl::Seconds(5);
};

// The claims omnicx reads from a verified token.
struct JwtClaims {
  std::string subject;              // `sub`
  std::string tenant;               // `tenant`
  std::string role;                 // `role` (a RoleName)
  bool trusted_identities = false;  // `trusted_identities` (bool), app only
  absl::Time expires;               // `exp`
};

class JwtVerifier {
 public:
  virtual ~JwtVerifier() = default;
  // Reads the JWKS file once; an unreadable or invalid file is an error.
  static absl::StatusOr<std::unique_ptr<JwtVerifier>> Create(
      JwtOptions options, std::string jwks_file);
  // Verifies `token` (compact JWS, without "Bearer ") at time `now`.
  virtual absl::StatusOr<JwtClaims> Verify(absl::string_view token,
                                           absl::Time now) const = 0;
  // Re-reads the JWKS file if it changed.
  virtual absl::Status ReloadNow() = 0;
};

}  // namespace omnicx::auth

#endif  // OMNICX_LIBS_AUTH_JWT_H_
