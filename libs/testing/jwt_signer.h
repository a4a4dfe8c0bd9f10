// Test-only JWT minting: fresh RSA-2048 / EC P-256 key pairs, their JWKS
// entries, and compact JWS tokens signed with them (RS256 / ES256), plus the
// deliberately bad tokens a verifier must refuse (`alg: none`, HS256).
//
//   TestKey rsa = TestKey::Rsa("k1");
//   WriteFile(dir + "/jwks.json", Jwks({&rsa}));
//   std::string token = SignJwt(rsa, JwtHeader(rsa),
//                               {{"iss", "https://idp.test"}, {"aud",
//                               "omnicx"},
//                                {"sub", "alice"}, {"tenant", "acme"},
//                                {"role", "agent"}, {"exp", 1900000000}});
//
// Key generation and signing cannot fail in a healthy test process; they
// abort with a message if OpenSSL does.
#ifndef OMNICX_LIBS_TESTING_JWT_SIGNER_H_
#define OMNICX_LIBS_TESTING_JWT_SIGNER_H_

#include <openssl/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace omnicx::testing {

class TestKey {
 public:
  enum class Type { kRsa, kEc };

  // A new RSA-2048 key (RS256).
  static TestKey Rsa(std::string kid);
  // A new EC P-256 key (ES256).
  static TestKey Ec(std::string kid);

  Type type() const { return type_; }
  const std::string& kid() const { return kid_; }
  // "RS256" or "ES256".
  const char* alg() const { return type_ == Type::kRsa ? "RS256" : "ES256"; }
  EVP_PKEY* pkey() const { return pkey_.get(); }

  // The public key as a JWK (kty, kid, alg, use and n/e or crv/x/y).
  nlohmann::json PublicJwk() const;
  // The public key as PEM ("-----BEGIN PUBLIC KEY-----...") and as DER
  // (SubjectPublicKeyInfo): the secrets of an HS256 key-confusion attack.
  std::string PublicKeyPem() const;
  std::string PublicKeyDer() const;

 private:
  TestKey(Type type, std::string kid, std::shared_ptr<EVP_PKEY> pkey)
      : type_(type), kid_(std::move(kid)), pkey_(std::move(pkey)) {}

  Type type_;
  std::string kid_;
  std::shared_ptr<EVP_PKEY> pkey_;
};

// {"keys": [...]} serialised, for a JWKS file.
std::string Jwks(const std::vector<const TestKey*>& keys);

// {"alg": key.alg(), "kid": key.kid(), "typ": "JWT"}.
nlohmann::json JwtHeader(const TestKey& key);

std::string Base64UrlEncode(absl::string_view bytes);

// header.payload.signature with the signature made by `key` (RS256 for RSA,
// ES256 as raw r||s for EC) whatever `header` says, so tests can also lie.
std::string SignJwt(const TestKey& key, const nlohmann::json& header,
                    const nlohmann::json& payload);
// HMAC-SHA-256 over header.payload with `secret` (for refusal tests).
std::string SignJwtHs256(absl::string_view secret, const nlohmann::json& header,
                         const nlohmann::json& payload);
// header.payload. with an empty signature (`alg: none` style).
std::string UnsignedJwt(const nlohmann::json& header,
                        const nlohmann::json& payload);

}  // namespace omnicx::testing

#endif  // OMNICX_LIBS_TESTING_JWT_SIGNER_H_
