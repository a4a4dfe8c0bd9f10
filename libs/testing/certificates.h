// Throw-away X.509 material for TLS tests: a CA that issues P-256 leaf
// certificates for 127.0.0.1 and localhost (server and client use), with a
// chosen serial and validity window, as PEM strings; and a file writer.
//
//   auto ca = TestCertificateAuthority::Create("test CA");
//   auto server = ca->Issue("server", /*serial=*/1, absl::Now() -
//   absl::Hours(1),
//                           absl::Now() + absl::Hours(1));
//   ASSERT_OK(WriteFile(dir + "/tls.crt", server->cert_pem));
//   ASSERT_OK(WriteFile(dir + "/tls.key", server->key_pem, 0600));
#ifndef OMNICX_LIBS_TESTING_CERTIFICATES_H_
#define OMNICX_LIBS_TESTING_CERTIFICATES_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace omnicx::testing {

struct KeyAndCert {
  std::string key_pem;   // PKCS#8
  std::string cert_pem;  // the leaf only
};

class TestCertificateAuthority {
 public:
  // A self-signed CA certificate valid from an hour ago for a day.
  static absl::StatusOr<TestCertificateAuthority> Create(
      const std::string& common_name);

  const std::string& cert_pem() const { return ca_.cert_pem; }

  // A leaf certificate for `subject_alt_names` (OpenSSL syntax), usable for
  // serverAuth and clientAuth, signed by this CA.
  absl::StatusOr<KeyAndCert> Issue(const std::string& common_name,
                                   int64_t serial, absl::Time not_before,
                                   absl::Time not_after,
                                   const std::string& subject_alt_names =
                                       "IP:127.0.0.1,DNS:localhost") const;

 private:
  explicit TestCertificateAuthority(KeyAndCert ca) : ca_(std::move(ca)) {}
  KeyAndCert ca_;
};

// Writes `contents` to `path` (replacing it) with permissions `mode`.
absl::Status WriteFile(const std::string& path, const std::string& contents,
                       mode_t mode = 0644);

}  // namespace omnicx::testing

#endif  // OMNICX_LIBS_TESTING_CERTIFICATES_H_
