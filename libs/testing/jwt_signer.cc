#include "libs/testing/jwt_signer.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/keys/digest.h"

namespace omnicx::testing {
namespace {

constexpr int kP256CoordinateBytes = 32;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "jwt_signer: OpenSSL failed: %s\n", what);
  std::abort();
}

void Check(bool ok, const char* what) {
  if (!ok) Die(what);
}

std::string BigNumParam(EVP_PKEY* pkey, const char* name, int pad_to) {
  BIGNUM* bn = nullptr;
  Check(EVP_PKEY_get_bn_param(pkey, name, &bn) == 1, name);
  const int size = pad_to > 0 ? pad_to : BN_num_bytes(bn);
  std::string out(static_cast<size_t>(size), '\0');
  Check(BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), size) ==
            size,
        name);
  BN_free(bn);
  return out;
}

std::string SigningInput(const nlohmann::json& header,
                         const nlohmann::json& payload) {
  return absl::StrCat(Base64UrlEncode(header.dump()), ".",
                      Base64UrlEncode(payload.dump()));
}

std::string DerEcdsaToRaw(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  Check(sig != nullptr, "d2i_ECDSA_SIG");
  std::string raw(2 * kP256CoordinateBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  Check(BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, kP256CoordinateBytes) ==
                kP256CoordinateBytes &&
            BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + kP256CoordinateBytes,
                         kP256CoordinateBytes) == kP256CoordinateBytes,
        "ECDSA r/s");
  ECDSA_SIG_free(sig);
  return raw;
}

}  // namespace

TestKey TestKey::Rsa(std::string kid) {
  EVP_PKEY* pkey = EVP_RSA_gen(2048);
  Check(pkey != nullptr, "EVP_RSA_gen");
  return TestKey(Type::kRsa, std::move(kid),
                 std::shared_ptr<EVP_PKEY>(pkey, EVP_PKEY_free));
}

TestKey TestKey::Ec(std::string kid) {
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  Check(pkey != nullptr, "EVP_EC_gen");
  return TestKey(Type::kEc, std::move(kid),
                 std::shared_ptr<EVP_PKEY>(pkey, EVP_PKEY_free));
}

nlohmann::json TestKey::PublicJwk() const {
  nlohmann::json jwk = {{"kid", kid_}, {"alg", alg()}, {"use", "sig"}};
  if (type_ == Type::kRsa) {
    jwk["kty"] = "RSA";
    jwk["n"] = Base64UrlEncode(BigNumParam(pkey(), OSSL_PKEY_PARAM_RSA_N, 0));
    jwk["e"] = Base64UrlEncode(BigNumParam(pkey(), OSSL_PKEY_PARAM_RSA_E, 0));
  } else {
    jwk["kty"] = "EC";
    jwk["crv"] = "P-256";
    jwk["x"] = Base64UrlEncode(
        BigNumParam(pkey(), OSSL_PKEY_PARAM_EC_PUB_X, kP256CoordinateBytes));
    jwk["y"] = Base64UrlEncode(
        BigNumParam(pkey(), OSSL_PKEY_PARAM_EC_PUB_Y, kP256CoordinateBytes));
  }
  return jwk;
}

std::string TestKey::PublicKeyPem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  Check(bio != nullptr && PEM_write_bio_PUBKEY(bio, pkey()) == 1,
        "PEM_write_bio_PUBKEY");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  return pem;
}

std::string TestKey::PublicKeyDer() const {
  unsigned char* der = nullptr;
  const int size = i2d_PUBKEY(pkey(), &der);
  Check(size > 0, "i2d_PUBKEY");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(size));
  OPENSSL_free(der);
  return out;
}

std::string Jwks(const std::vector<const TestKey*>& keys) {
  nlohmann::json list = nlohmann::json::array();
  for (const TestKey* key : keys) list.push_back(key->PublicJwk());
  return nlohmann::json{{"keys", list}}.dump();
}

nlohmann::json JwtHeader(const TestKey& key) {
  return {{"alg", key.alg()}, {"kid", key.kid()}, {"typ", "JWT"}};
}

std::string Base64UrlEncode(absl::string_view bytes) {
  return absl::WebSafeBase64Escape(bytes);  // unpadded
}

std::string SignJwt(const TestKey& key, const nlohmann::json& header,
                    const nlohmann::json& payload) {
  const std::string input = SigningInput(header, payload);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  Check(ctx != nullptr && EVP_DigestSignInit(ctx, nullptr, EVP_sha256(),
                                             nullptr, key.pkey()) == 1,
        "EVP_DigestSignInit");
  size_t size = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  Check(EVP_DigestSign(ctx, nullptr, &size, data, input.size()) == 1,
        "EVP_DigestSign size");
  std::string signature(size, '\0');
  Check(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()),
                       &size, data, input.size()) == 1,
        "EVP_DigestSign");
  signature.resize(size);
  EVP_MD_CTX_free(ctx);
  if (key.type() == TestKey::Type::kEc) signature = DerEcdsaToRaw(signature);
  return absl::StrCat(input, ".", Base64UrlEncode(signature));
}

std::string SignJwtHs256(absl::string_view secret, const nlohmann::json& header,
                         const nlohmann::json& payload) {
  const std::string input = SigningInput(header, payload);
  return absl::StrCat(input, ".",
                      Base64UrlEncode(absl::HexStringToBytes(
                          keys::HmacSha256Hex(secret, input))));
}

std::string UnsignedJwt(const nlohmann::json& header,
                        const nlohmann::json& payload) {
  return absl::StrCat(SigningInput(header, payload), ".");
}

}  // namespace omnicx::testing
