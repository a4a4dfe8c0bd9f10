#include "libs/testing/certificates.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "absl/strings/str_cat.h"

namespace omnicx::testing {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Free>;
using Cert = std::unique_ptr<X509, Free>;
using Bio = std::unique_ptr<BIO, Free>;

std::string BioString(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

absl::StatusOr<std::string> KeyPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                                nullptr)) {
    return absl::InternalError("PEM_write_bio_PrivateKey failed");
  }
  return BioString(bio.get());
}

absl::StatusOr<std::string> CertPem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) {
    return absl::InternalError("PEM_write_bio_X509 failed");
  }
  return BioString(bio.get());
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid,
                          const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, Free> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (ext == nullptr || !X509_add_ext(cert, ext.get(), -1)) {
    return absl::InternalError(absl::StrCat("extension ", value, " failed"));
  }
  return absl::OkStatus();
}

// Builds and signs a certificate for `key`; a null issuer = self-signed.
absl::StatusOr<Cert> MakeCert(EVP_PKEY* key, const std::string& common_name,
                              int64_t serial, absl::Time not_before,
                              absl::Time not_after, X509* issuer,
                              EVP_PKEY* issuer_key, bool is_ca,
                              const std::string& subject_alt_names) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set_int64(X509_get_serialNumber(cert.get()), serial);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(not_after));
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(
      name, "CN", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  X509_set_issuer_name(
      cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(cert.get(), key);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  absl::Status s =
      AddExtension(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (is_ca) {
    if (s.ok()) {
      s = AddExtension(cert.get(), signer, NID_basic_constraints,
                       "critical,CA:TRUE");
    }
    if (s.ok()) {
      s = AddExtension(cert.get(), signer, NID_key_usage,
                       "critical,keyCertSign,cRLSign");
    }
  } else {
    if (s.ok()) {
      s = AddExtension(cert.get(), signer, NID_basic_constraints, "CA:FALSE");
    }
    if (s.ok()) {
      s = AddExtension(cert.get(), signer, NID_authority_key_identifier,
                       "keyid");
    }
    if (s.ok()) {
      s = AddExtension(cert.get(), signer, NID_key_usage,
                       "critical,digitalSignature");
    }
    if (s.ok()) {
      s = AddExtension(cert.get(), signer, NID_ext_key_usage,
                       "serverAuth,clientAuth");
    }
    if (s.ok()) {
      s = AddExtension(cert.get(), signer, NID_subject_alt_name,
                       subject_alt_names.c_str());
    }
  }
  if (!s.ok()) return s;
  if (X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key,
                EVP_sha256()) == 0) {
    return absl::InternalError("X509_sign failed");
  }
  return cert;
}

absl::StatusOr<Key> ParseKey(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return absl::InternalError("cannot parse the CA key");
  return key;
}

absl::StatusOr<Cert> ParseCert(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) return absl::InternalError("cannot parse the CA cert");
  return cert;
}

}  // namespace

absl::StatusOr<TestCertificateAuthority> TestCertificateAuthority::Create(
    const std::string& common_name) {
  Key key(EVP_EC_gen("P-256"));
  if (key == nullptr) return absl::InternalError("EC key generation failed");
  const absl::Time now = absl::Now();
  absl::StatusOr<Cert> cert =
      MakeCert(key.get(), common_name, 1, now - absl::Hours(1),
               now + absl::Hours(24), nullptr, nullptr, /*is_ca=*/true, "");
  if (!cert.ok()) return cert.status();
  KeyAndCert ca;
  absl::StatusOr<std::string> key_pem = KeyPem(key.get());
  absl::StatusOr<std::string> cert_pem = CertPem(cert->get());
  if (!key_pem.ok()) return key_pem.status();
  if (!cert_pem.ok()) return cert_pem.status();
  ca.key_pem = std::move(*key_pem);
  ca.cert_pem = std::move(*cert_pem);
  return TestCertificateAuthority(std::move(ca));
}

absl::StatusOr<KeyAndCert> TestCertificateAuthority::Issue(
    const std::string& common_name, int64_t serial, absl::Time not_before,
    absl::Time not_after, const std::string& subject_alt_names) const {
  absl::StatusOr<Key> ca_key = ParseKey(ca_.key_pem);
  if (!ca_key.ok()) return ca_key.status();
  absl::StatusOr<Cert> ca_cert = ParseCert(ca_.cert_pem);
  if (!ca_cert.ok()) return ca_cert.status();
  Key key(EVP_EC_gen("P-256"));
  if (key == nullptr) return absl::InternalError("EC key generation failed");
  absl::StatusOr<Cert> cert = MakeCert(
      key.get(), common_name, serial, not_before, not_after, ca_cert->get(),
      ca_key->get(), /*is_ca=*/false, subject_alt_names);
  if (!cert.ok()) return cert.status();
  KeyAndCert out;
  absl::StatusOr<std::string> key_pem = KeyPem(key.get());
  absl::StatusOr<std::string> cert_pem = CertPem(cert->get());
  if (!key_pem.ok()) return key_pem.status();
  if (!cert_pem.ok()) return cert_pem.status();
  out.key_pem = std::move(*key_pem);
  out.cert_pem = std::move(*cert_pem);
  return out;
}

absl::Status WriteFile(const std::string& path, const std::string& contents,
                       mode_t mode) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot write ", path));
  fchmod(fd, mode);  // an existing file keeps its mode through open()
  const ssize_t n = write(fd, contents.data(), contents.size());
  close(fd);
  if (n != static_cast<ssize_t>(contents.size())) {
    return absl::InternalError(absl::StrCat("short write to ", path));
  }
  return absl::OkStatus();
}

}  // namespace omnicx::testing
