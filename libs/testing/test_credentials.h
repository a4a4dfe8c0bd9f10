// Real credentials for tests: one API key per role (and one internal key
// per calling service) for a tenant, written hashed to a temporary keys file
// that a real Authenticator reads, plus channels that send a key on every
// call. Tests exercise the same gate production uses; nothing is bypassed.
//
//   TestCredentials& creds = TestCredentials::Default();   // tenant default
//   ProfileServiceImpl service(store, creds.authenticator(), ...);
//   auto server = StartInProcess({&service});
//   auto admin = ProfileService::NewStub(ChannelTo(**server));  // admin key
//   auto agent = ProfileService::NewStub(
//       ChannelTo(**server, creds.key(auth::Role::kAgent)));
#ifndef OMNICX_LIBS_TESTING_TEST_CREDENTIALS_H_
#define OMNICX_LIBS_TESTING_TEST_CREDENTIALS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "grpcpp/grpcpp.h"
#include "libs/auth/authenticator.h"
#include "libs/auth/principal.h"
#include "libs/server/server.h"

namespace omnicx::testing {

class TestCredentials {
 public:
  // Keys of `tenant` for every role, an untrusted app key ("app") and a
  // trusted one ("app-trusted"), and internal keys named "profile",
  // "recommendation" and "journey". Rate limits off.
  explicit TestCredentials(std::string tenant = "default");
  ~TestCredentials();
  // The process-wide instance for tenant "default".
  static TestCredentials& Default();

  // The plaintext key of `role` (app: untrusted).
  const std::string& key(auth::Role role) const;
  const std::string& trusted_app_key() const { return keys_.at("app-trusted"); }
  // The internal key of an omnicx service ("profile", "recommendation").
  const std::string& internal_key(absl::string_view service) const {
    return keys_.at(std::string("internal-") + std::string(service));
  }
  const std::string& tenant() const { return tenant_; }
  const std::string& api_keys_file() const { return file_; }
  // An Authenticator for this tenant over the keys file (no rate limit).
  auth::Authenticator& authenticator() { return *authenticator_; }
  // A new Authenticator with other options (rate limits, another tenant).
  std::unique_ptr<auth::Authenticator> NewAuthenticator(
      auth::AuthenticatorOptions options) const;
  // Writes a keys file holding this tenant's keys and those of `others`
  // (in this object's temporary directory) and returns its path. A process
  // serving this tenant that reads it knows the other tenants' keys, so
  // they are refused as another tenant's (PERMISSION_DENIED), not as
  // unknown:
  //   TestCredentials other("other");
  //   options.api_keys_file = creds.WriteKeysFileWith({&other});
  std::string WriteKeysFileWith(
      const std::vector<const TestCredentials*>& others) const;

 private:
  std::string tenant_;
  std::string dir_;
  std::string file_;
  std::map<std::string, std::string> keys_;
  std::string entries_;  // the YAML list items of the keys file
  std::unique_ptr<auth::Authenticator> authenticator_;
};

// A channel to `server` that sends `bearer` (a plaintext key) on every call;
// ChannelTo(server) sends the Default() admin key.
std::shared_ptr<grpc::Channel> ChannelWithKey(const std::string& address,
                                              const std::string& bearer);

}  // namespace omnicx::testing

#endif  // OMNICX_LIBS_TESTING_TEST_CREDENTIALS_H_
