#include "libs/auth/jwt.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "nlohmann/json.hpp"

namespace omnicx::auth {
namespace {

using Json = nlohmann::json;

// Far above any real token (a few hundred bytes to a few KiB); bounds the
// work an unauthenticated caller can cause before the signature check.
constexpr size_t kMaxTokenBytes = 16 * 1024;
constexpr off_t kMaxJwksBytes = 1024 * 1024;
constexpr int kMinRsaBits = 2048;
constexpr size_t kP256CoordinateBytes = 32;
// NumericDates beyond this (year ~5138) are refused rather than converted.
constexpr double kMaxNumericDate = 1e11;

absl::Status Refused(absl::string_view reason) {
  return absl::UnauthenticatedError(absl::StrCat("JWT refused: ", reason));
}

// --- base64url -------------------------------------------------------------

int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// RFC 7515 base64url without padding, strictly: no '=', no whitespace, no
// standard-alphabet characters and no stray bits in the last character, so
// each byte string has exactly one encoding.
bool Base64UrlDecode(absl::string_view in, std::string* out) {
  out->clear();
  if (in.size() % 4 == 1) return false;
  out->reserve(in.size() * 3 / 4);
  uint32_t bits = 0;
  int bit_count = 0;
  for (char c : in) {
    const int v = Base64UrlValue(c);
    if (v < 0) return false;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out->push_back(static_cast<char>((bits >> bit_count) & 0xff));
    }
  }
  return (bits & ((1u << bit_count) - 1)) == 0;
}

// --- keys ------------------------------------------------------------------

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

enum class KeyType { kRsa, kEc };

struct Jwk {
  std::string kid;  // empty when the JWKS entry has none
  KeyType type;
  Pkey pkey;
};

// One parse of the JWKS file; never changed once built, shared by readers.
struct KeySet {
  std::vector<Jwk> keys;
};

// Identifies one version of the file: a rename or symlink swap changes the
// inode, an in-place write changes size or times.
struct FileStamp {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = -1;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;

  static FileStamp Of(const struct stat& st) {
    FileStamp s;
    s.dev = st.st_dev;
    s.ino = st.st_ino;
    s.size = st.st_size;
    s.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    s.ctime_ns = int64_t{st.st_ctim.tv_sec} * 1000000000 + st.st_ctim.tv_nsec;
    return s;
  }
  bool operator==(const FileStamp& o) const {
    return dev == o.dev && ino == o.ino && size == o.size &&
           mtime_ns == o.mtime_ns && ctime_ns == o.ctime_ns;
  }
  bool operator!=(const FileStamp& o) const { return !(*this == o); }
};

absl::Status FileError(absl::string_view path, absl::string_view what,
                       int error) {
  return absl::ErrnoToStatus(error,
                             absl::StrCat("jwks_file ", path, ": ", what));
}

struct FileContents {
  std::string data;
  FileStamp stamp;
};

// Reads the file and stamps it from the same descriptor, so the stamp
// describes exactly the bytes read.
absl::StatusOr<FileContents> ReadJwksFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FileError(path, "cannot open", errno);
  FileContents out;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int error = errno;
    close(fd);
    return FileError(path, "cannot stat", error);
  }
  if (st.st_size > kMaxJwksBytes) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("jwks_file ", path, ": larger than 1 MiB"));
  }
  out.stamp = FileStamp::Of(st);
  char buffer[8192];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      close(fd);
      return FileError(path, "cannot read", error);
    }
    if (n == 0) break;
    out.data.append(buffer, static_cast<size_t>(n));
    if (out.data.size() > static_cast<size_t>(kMaxJwksBytes)) {
      close(fd);
      return absl::InvalidArgumentError(
          absl::StrCat("jwks_file ", path, ": larger than 1 MiB"));
    }
  }
  close(fd);
  return out;
}

// A JWKS member holding base64url bytes. Padding is tolerated here (the file
// is the operator's, and some tools pad), never in tokens.
absl::StatusOr<std::string> KeyBytes(const Json& jwk, const char* member) {
  auto it = jwk.find(member);
  if (it == jwk.end() || !it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("missing or non-string \"", member, "\""));
  }
  absl::string_view text = it->get_ref<const std::string&>();
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string bytes;
  if (text.empty() || !Base64UrlDecode(text, &bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", member, "\" is not base64url"));
  }
  return bytes;
}

struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamsFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using Bn = std::unique_ptr<BIGNUM, BnFree>;

// Builds a public key of `type_name` ("RSA", "EC") from `params` and runs
// OpenSSL's public-key checks (RSA exponent and modulus sanity; EC point on
// the curve and not the identity).
absl::StatusOr<Pkey> PublicKeyFromParams(const char* type_name,
                                         OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamsFree> params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type_name, nullptr));
  if (params == nullptr || ctx == nullptr) {
    return absl::InternalError("OpenSSL could not allocate a key");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) !=
          1) {
    return absl::InvalidArgumentError("not a valid public key");
  }
  Pkey pkey(raw);
  PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (check == nullptr || EVP_PKEY_public_check(check.get()) != 1) {
    return absl::InvalidArgumentError("public key fails validation");
  }
  return pkey;
}

absl::StatusOr<Pkey> RsaKey(const Json& jwk) {
  OMNICX_ASSIGN_OR_RETURN(std::string n, KeyBytes(jwk, "n"));
  OMNICX_ASSIGN_OR_RETURN(std::string e, KeyBytes(jwk, "e"));
  Bn bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                    static_cast<int>(n.size()), nullptr));
  Bn bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                    static_cast<int>(e.size()), nullptr));
  if (bn_n == nullptr || bn_e == nullptr) {
    return absl::InternalError("OpenSSL could not allocate a number");
  }
  if (BN_num_bits(bn_n.get()) < kMinRsaBits) {
    return absl::InvalidArgumentError(
        absl::StrCat("RSA modulus shorter than ", kMinRsaBits, " bits"));
  }
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) !=
          1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) !=
          1) {
    return absl::InternalError("OpenSSL could not build key parameters");
  }
  return PublicKeyFromParams("RSA", bld.get());
}

absl::StatusOr<Pkey> EcP256Key(const Json& jwk) {
  auto crv = jwk.find("crv");
  if (crv == jwk.end() || !crv->is_string() || *crv != "P-256") {
    return absl::InvalidArgumentError("EC key is not on curve P-256");
  }
  OMNICX_ASSIGN_OR_RETURN(std::string x, KeyBytes(jwk, "x"));
  OMNICX_ASSIGN_OR_RETURN(std::string y, KeyBytes(jwk, "y"));
  if (x.size() != kP256CoordinateBytes || y.size() != kP256CoordinateBytes) {
    return absl::InvalidArgumentError("P-256 coordinates must be 32 bytes");
  }
  // SEC 1 uncompressed point: 0x04 || x || y.
  std::string point = absl::StrCat("\x04", x, y);
  char group[] = "prime256v1";
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                      group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY,
                                       point.data(), point.size()) != 1) {
    return absl::InternalError("OpenSSL could not build key parameters");
  }
  return PublicKeyFromParams("EC", bld.get());
}

// The keys of a JWKS document usable for RS256/ES256. Entries of other key
// types, curves or uses (e.g. encryption keys the IdP publishes alongside)
// are skipped; a malformed RSA/EC signing key, a duplicate `kid` or a file
// with no usable key at all is an error.
absl::StatusOr<std::shared_ptr<const KeySet>> ParseJwks(
    absl::string_view text) {
  const Json doc = Json::parse(text.begin(), text.end(), nullptr,
                               /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("not JSON");
  auto keys = doc.is_object() ? doc.find("keys") : doc.end();
  if (keys == doc.end() || !keys->is_array()) {
    return absl::InvalidArgumentError("no \"keys\" array");
  }
  auto set = std::make_shared<KeySet>();
  for (size_t i = 0; i < keys->size(); ++i) {
    const Json& jwk = (*keys)[i];
    const std::string where = absl::StrCat("keys[", i, "]: ");
    if (!jwk.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(where, "not an object"));
    }
    auto kty = jwk.find("kty");
    if (kty == jwk.end() || !kty->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(where, "no \"kty\""));
    }
    auto use = jwk.find("use");
    if (use != jwk.end() && *use != "sig") continue;
    auto alg = jwk.find("alg");
    Jwk key;
    if (*kty == "RSA") {
      if (alg != jwk.end() && *alg != "RS256") continue;
      key.type = KeyType::kRsa;
    } else if (*kty == "EC") {
      if (alg != jwk.end() && *alg != "ES256") continue;
      auto crv = jwk.find("crv");
      if (crv != jwk.end() && *crv != "P-256") continue;
      key.type = KeyType::kEc;
    } else {
      continue;
    }
    auto kid = jwk.find("kid");
    if (kid != jwk.end()) {
      if (!kid->is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "\"kid\" is not a string"));
      }
      key.kid = kid->get<std::string>();
      for (const Jwk& other : set->keys) {
        if (!key.kid.empty() && other.kid == key.kid) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, "duplicate kid \"", key.kid, "\""));
        }
      }
    }
    absl::StatusOr<Pkey> pkey =
        key.type == KeyType::kRsa ? RsaKey(jwk) : EcP256Key(jwk);
    if (!pkey.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, pkey.status().message()));
    }
    key.pkey = *std::move(pkey);
    set->keys.push_back(std::move(key));
  }
  if (set->keys.empty()) {
    return absl::InvalidArgumentError("no RS256 or ES256 signing key");
  }
  return std::shared_ptr<const KeySet>(std::move(set));
}

// --- signatures ------------------------------------------------------------

const EVP_MD* Sha256Algorithm() {
  static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  return md;
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

// JWS carries ES256 signatures as the raw 32-byte r and s (RFC 7518 3.4);
// OpenSSL verifies the DER ECDSA-Sig-Value.
bool RawEcdsaToDer(absl::string_view raw, std::string* der) {
  if (raw.size() != 2 * kP256CoordinateBytes) return false;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(bytes, kP256CoordinateBytes, nullptr);
  BIGNUM* s =
      BN_bin2bn(bytes + kP256CoordinateBytes, kP256CoordinateBytes, nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr ||
      ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return false;
  }
  const int length = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (length <= 0) return false;
  der->resize(static_cast<size_t>(length));
  auto* out = reinterpret_cast<unsigned char*>(der->data());
  return i2d_ECDSA_SIG(sig.get(), &out) == length;
}

// SHA-256 over `signed_part` with `key`; `signature` is what OpenSSL expects
// (PKCS#1 v1.5 bytes for RSA, DER for ECDSA).
bool VerifySha256(EVP_PKEY* key, absl::string_view signed_part,
                  absl::string_view signature) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || Sha256Algorithm() == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, Sha256Algorithm(), nullptr,
                           key) != 1) {
    return false;
  }
  // For RSA the default padding is PKCS#1 v1.5, which RS256 is.
  return EVP_DigestVerify(
             ctx.get(),
             reinterpret_cast<const unsigned char*>(signature.data()),
             signature.size(),
             reinterpret_cast<const unsigned char*>(signed_part.data()),
             signed_part.size()) == 1;
}

// --- claims ----------------------------------------------------------------

// A NumericDate (seconds since the epoch, possibly fractional).
bool NumericDate(const Json& value, absl::Time* out) {
  if (!value.is_number()) return false;
  const double seconds = value.get<double>();
  if (!std::isfinite(seconds) || std::fabs(seconds) > kMaxNumericDate) {
    return false;
  }
  *out = absl::UnixEpoch() + absl::Seconds(seconds);
  return true;
}

bool NonEmptyString(const Json& payload, const char* name, std::string* out) {
  auto it = payload.find(name);
  if (it == payload.end() || !it->is_string()) return false;
  *out = it->get<std::string>();
  return !out->empty();
}

bool AudienceMatches(const Json& aud, const std::string& audience) {
  if (aud.is_string()) return aud.get_ref<const std::string&>() == audience;
  if (!aud.is_array()) return false;
  for (const Json& one : aud) {
    if (one.is_string() && one.get_ref<const std::string&>() == audience) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<Json> DecodeJsonObject(absl::string_view part,
                                      absl::string_view what) {
  std::string bytes;
  if (!Base64UrlDecode(part, &bytes)) {
    return Refused(absl::StrCat(what, " is not base64url"));
  }
  Json json = Json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return Refused(absl::StrCat(what, " is not a JSON object"));
  }
  return json;
}

// --- the verifier ----------------------------------------------------------

class JwtVerifierImpl : public JwtVerifier {
 public:
  JwtVerifierImpl(JwtOptions options, std::string path,
                  std::shared_ptr<const KeySet> keys, FileStamp stamp)
      : options_(std::move(options)),
        path_(std::move(path)),
        keys_(std::move(keys)),
        stamp_(stamp) {}

  absl::StatusOr<JwtClaims> Verify(absl::string_view token,
                                   absl::Time now) const override;

  absl::Status ReloadNow() override { return ReloadIfChanged(); }

 private:
  std::shared_ptr<const KeySet> Keys(absl::Time now) const;
  absl::Status ReloadIfChanged() const;
  absl::StatusOr<JwtClaims> CheckClaims(const Json& payload,
                                        absl::Time now) const;

  const JwtOptions options_;
  const std::string path_;

  // Serialises file checks so one thread reads while the others keep
  // verifying with the current snapshot.
  mutable absl::Mutex reload_mu_;
  mutable absl::Mutex mu_ ABSL_ACQUIRED_AFTER(reload_mu_);
  mutable std::shared_ptr<const KeySet> keys_ ABSL_GUARDED_BY(mu_);
  // The file version last read, also when it failed to parse (so a broken
  // file is logged once, not on every check), and why it failed.
  mutable FileStamp stamp_ ABSL_GUARDED_BY(reload_mu_);
  mutable absl::Status stamp_error_ ABSL_GUARDED_BY(reload_mu_);
  mutable absl::Time next_check_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

std::shared_ptr<const KeySet> JwtVerifierImpl::Keys(absl::Time now) const {
  {
    absl::MutexLock lock(&mu_);
    if (now < next_check_) return keys_;
    next_check_ = now + options_.reload_interval;
  }
  ReloadIfChanged().IgnoreError();  // failures are logged inside
  absl::MutexLock lock(&mu_);
  return keys_;
}

absl::Status JwtVerifierImpl::ReloadIfChanged() const {
  absl::MutexLock reload_lock(&reload_mu_);
  struct stat st;
  if (stat(path_.c_str(), &st) != 0) {
    absl::Status error = FileError(path_, "cannot stat", errno);
    OMNICX_LOG(kWarn) << error.message() << "; keeping the previous keys";
    return error;
  }
  if (FileStamp::Of(st) == stamp_) return stamp_error_;
  absl::StatusOr<FileContents> contents = ReadJwksFile(path_);
  if (!contents.ok()) {
    OMNICX_LOG(kWarn) << contents.status().message()
                      << "; keeping the previous keys";
    return contents.status();
  }
  stamp_ = contents->stamp;
  absl::StatusOr<std::shared_ptr<const KeySet>> keys =
      ParseJwks(contents->data);
  if (!keys.ok()) {
    stamp_error_ = absl::InvalidArgumentError(
        absl::StrCat("jwks_file ", path_, ": ", keys.status().message()));
    OMNICX_LOG(kWarn) << stamp_error_.message()
                      << "; keeping the previous keys";
    return stamp_error_;
  }
  stamp_error_ = absl::OkStatus();
  OMNICX_LOG(kInfo) << "jwks_file " << path_
                    << " reloaded: " << (*keys)->keys.size() << " keys";
  absl::MutexLock lock(&mu_);
  keys_ = *std::move(keys);
  return absl::OkStatus();
}

absl::StatusOr<JwtClaims> JwtVerifierImpl::Verify(absl::string_view token,
                                                  absl::Time now) const {
  if (token.empty()) return Refused("empty token");
  if (token.size() > kMaxTokenBytes) return Refused("token too large");
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return Refused("not a compact JWS");

  OMNICX_ASSIGN_OR_RETURN(Json header, DecodeJsonObject(parts[0], "header"));
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string()) return Refused("no alg");
  // An allow-list: `none`, HS256 (whose secret could be taken to be a
  // public key) and everything else never reach a key.
  KeyType type;
  if (*alg == "RS256") {
    type = KeyType::kRsa;
  } else if (*alg == "ES256") {
    type = KeyType::kEc;
  } else {
    return Refused("unsupported alg");
  }
  if (header.contains("crit")) return Refused("unsupported crit header");
  const std::string* kid = nullptr;
  auto kid_it = header.find("kid");
  if (kid_it != header.end()) {
    if (!kid_it->is_string()) return Refused("kid is not a string");
    kid = &kid_it->get_ref<const std::string&>();
  }

  std::string signature;
  if (parts[2].empty()) return Refused("no signature");
  if (!Base64UrlDecode(parts[2], &signature)) {
    return Refused("signature is not base64url");
  }
  if (type == KeyType::kEc) {
    std::string der;
    if (!RawEcdsaToDer(signature, &der)) {
      return Refused("ES256 signature is not 64 bytes");
    }
    signature = std::move(der);
  }

  const std::shared_ptr<const KeySet> keys = Keys(now);
  const absl::string_view signed_part(token.data(),
                                      parts[0].size() + 1 + parts[1].size());
  bool verified = false;
  bool candidate = false;
  for (const Jwk& key : keys->keys) {
    if (kid != nullptr && key.kid != *kid) continue;
    if (key.type != type) continue;
    candidate = true;
    if (VerifySha256(key.pkey.get(), signed_part, signature)) {
      verified = true;
      break;
    }
  }
  if (!candidate) {
    return Refused(kid != nullptr ? "unknown kid" : "no key for alg");
  }
  if (!verified) return Refused("bad signature");

  OMNICX_ASSIGN_OR_RETURN(Json payload, DecodeJsonObject(parts[1], "payload"));
  return CheckClaims(payload, now);
}

absl::StatusOr<JwtClaims> JwtVerifierImpl::CheckClaims(const Json& payload,
                                                       absl::Time now) const {
  auto iss = payload.find("iss");
  if (iss == payload.end() || !iss->is_string() ||
      iss->get_ref<const std::string&>() != options_.issuer) {
    return Refused("wrong issuer");
  }
  auto aud = payload.find("aud");
  if (aud == payload.end() || !AudienceMatches(*aud, options_.audience)) {
    return Refused("wrong audience");
  }
  JwtClaims claims;
  auto exp = payload.find("exp");
  if (exp == payload.end() || !NumericDate(*exp, &claims.expires)) {
    return Refused("missing or invalid exp");
  }
  if (now >= claims.expires + options_.leeway) return Refused("expired");
  auto nbf = payload.find("nbf");
  if (nbf != payload.end()) {
    absl::Time not_before;
    if (!NumericDate(*nbf, &not_before)) return Refused("invalid nbf");
    if (now + options_.leeway < not_before) return Refused("not yet valid");
  }
  if (!NonEmptyString(payload, "sub", &claims.subject)) {
    return Refused("missing sub");
  }
  if (!NonEmptyString(payload, "tenant", &claims.tenant)) {
    return Refused("missing tenant");
  }
  if (!NonEmptyString(payload, "role", &claims.role)) {
    return Refused("missing role");
  }
  auto trusted = payload.find("trusted_identities");
  if (trusted != payload.end()) {
    if (!trusted->is_boolean()) {
      return Refused("trusted_identities is not a boolean");
    }
    claims.trusted_identities = trusted->get<bool>();
  }
  return claims;
}

}  // namespace

absl::StatusOr<std::unique_ptr<JwtVerifier>> JwtVerifier::Create(
    JwtOptions options, std::string jwks_file) {
  if (options.issuer.empty()) {
    return absl::InvalidArgumentError("JWT issuer must not be empty");
  }
  if (options.audience.empty()) {
    return absl::InvalidArgumentError("JWT audience must not be empty");
  }
  if (options.leeway < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("JWT leeway must not be negative");
  }
  if (options.reload_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "JWKS reload interval must not be negative");
  }
  OMNICX_ASSIGN_OR_RETURN(FileContents contents, ReadJwksFile(jwks_file));
  absl::StatusOr<std::shared_ptr<const KeySet>> keys = ParseJwks(contents.data);
  if (!keys.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("jwks_file ", jwks_file, ": ", keys.status().message()));
  }
  return std::unique_ptr<JwtVerifier>(
      new JwtVerifierImpl(std::move(options), std::move(jwks_file),
                          *std::move(keys), contents.stamp));
}

}  // namespace omnicx::auth
