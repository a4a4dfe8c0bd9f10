// The gate every omnicx RPC passes first: reads `authorization: Bearer
// <credential>`, verifies it (an API key, or a JWT when a JWKS file is
// configured), checks the credential's tenant is the one this process serves,
// checks the role may call the method (policy.h), and takes a token from the
// credential's rate-limit bucket.
//
//   absl::StatusOr<Principal> who =
//       auth.Authorize(*context, "/omnicx.v1.ProfileService/GetProfile");
//   if (!who.ok()) return Done(context, who.status());
//
// Failures: no, unknown, expired or malformed credential → UNAUTHENTICATED;
// another tenant's credential or a role outside the method's list →
// PERMISSION_DENIED; over the rate → RESOURCE_EXHAUSTED with RetryInfo.
// Messages never echo the credential. Internal callers (role `internal`) may
// name the original caller in `x-omnicx-on-behalf-of`; from anyone else that
// header is ignored.
//
// The API keys file is re-read when it changes (checked at most every
// reload_interval, on a call); a broken file keeps the previous keys.
#ifndef OMNICX_LIBS_AUTH_AUTHENTICATOR_H_
#define OMNICX_LIBS_AUTH_AUTHENTICATOR_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "libs/auth/api_keys.h"
#include "libs/auth/jwt.h"
#include "libs/auth/principal.h"
#include "libs/auth/rate_limiter.h"

namespace omnicx::auth {

inline constexpr char kAuthorizationHeader[] = "authorization";
inline constexpr char kOnBehalfOfHeader[] = "x-omnicx-on-behalf-of";

struct AuthenticatorOptions {
  // The tenant this process serves; credentials of other tenants are
  // refused.
  std::string tenant = "default";
  std::string api_keys_file;
  // Empty = no JWTs.
  std::string jwks_file;
  JwtOptions jwt;
  absl::Duration reload_interval = absl::Seconds(5);
  // Per credential; 0 = no limit.
  double rate_limit = 0;
  int rate_limit_burst = 1;
  std::function<absl::Time()> clock = absl::Now;
};

class Authenticator {
 public:
  // Reads the key files; fails if neither is configured or one is invalid.
  static absl::StatusOr<std::unique_ptr<Authenticator>> Create(
      AuthenticatorOptions options);

  // The whole check for a call to `method` (a gRPC full name).
  absl::StatusOr<Principal> Authorize(const grpc::ServerContextBase& context,
                                      absl::string_view method);
  // The same from header values (HTTP front ends and tests).
  absl::StatusOr<Principal> Authorize(absl::string_view authorization,
                                      absl::string_view on_behalf_of,
                                      absl::string_view method);
  // Only verifies the credential (no tenant, role or rate check).
  absl::StatusOr<Principal> Authenticate(absl::string_view authorization);

  // Re-reads the API keys and JWKS files if they changed.
  void ReloadNow();

 private:
  explicit Authenticator(AuthenticatorOptions options);
  absl::Status LoadKeys();
  void MaybeReload(absl::Time now);
  void ReloadKeysIfChanged();
  std::shared_ptr<const ApiKeySet> keys() const;

  const AuthenticatorOptions options_;
  std::unique_ptr<JwtVerifier> jwt_;
  RateLimiter limiter_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const ApiKeySet> keys_ ABSL_GUARDED_BY(mu_);
  int64_t keys_mtime_ns_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t keys_size_ ABSL_GUARDED_BY(mu_) = -1;
  std::atomic<int64_t> next_check_ns_{0};
};

// The credential an omnicx service sends on its own outgoing calls, read
// once from auth.credential_file; also what the command-line tools and load
// generators send (their --key_file).
//
//   absl::StatusOr<ServiceCredential> key =
//       ServiceCredential::FromKeyFile("/path/to/agent.key");
//   grpc::ClientContext context;
//   key->Attach(&context);  // authorization: Bearer <key>
class ServiceCredential {
 public:
  // An empty path gives a credential that attaches nothing; errors name
  // `setting` (config::ReadSecretFile).
  static absl::StatusOr<ServiceCredential> FromFile(
      const std::string& path,
      absl::string_view setting = "auth.credential_file");
  // For command-line tools and load generators: the key in `path`, given
  // as their `flag` (--key_file=PATH). Unlike FromFile an empty path is an
  // error; errors name the flag and the path, never the key.
  static absl::StatusOr<ServiceCredential> FromKeyFile(
      const std::string& path, absl::string_view flag = "--key_file");
  static ServiceCredential FromString(std::string bearer);
  ServiceCredential() = default;

  // Adds `authorization` and, when given, the original caller's name.
  void Attach(grpc::ClientContext* context,
              absl::string_view on_behalf_of = "") const;

 private:
  std::string header_;  // "Bearer <key>"
};

}  // namespace omnicx::auth

#endif  // OMNICX_LIBS_AUTH_AUTHENTICATOR_H_
