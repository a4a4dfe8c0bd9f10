#include "libs/auth/authenticator.h"

#include <fstream>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/test/client_context_test_peer.h"
#include "gtest/gtest.h"
#include "libs/auth/api_keys.h"
#include "libs/auth/rate_limiter.h"
#include "libs/keys/digest.h"
#include "libs/status/error_details.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/jwt_signer.h"
#include "libs/testing/test_credentials.h"

namespace omnicx::auth {
namespace {

using ::omnicx::status::IsOk;
using ::omnicx::status::StatusIs;
using ::omnicx::testing::TestCredentials;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kGetProfile[] = "/omnicx.v1.ProfileService/GetProfile";
constexpr char kGetJourney[] = "/omnicx.v1.JourneyService/GetJourney";
constexpr char kErase[] = "/omnicx.v1.ProfileService/EraseCustomer";

std::string Bearer(const std::string& key) { return "Bearer " + key; }

TEST(ApiKeySetTest, ParsesEntriesAndFindsByKey) {
  const std::string key = NewApiKey();
  EXPECT_EQ(key.size(), 4u + 43u);
  absl::StatusOr<ApiKeySet> set = ApiKeySet::Parse(
      absl::StrCat(
          "keys:\n  - name: console\n    sha256: ", keys::Sha256Hex(key),
          "\n    tenant: acme\n    role: agent\n"),
      "keys.yaml");
  ASSERT_THAT(set, IsOk());
  const ApiKey* found = set->Find(key);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->name, "console");
  EXPECT_EQ(found->tenant, "acme");
  EXPECT_EQ(found->role, Role::kAgent);
  EXPECT_EQ(set->Find(key + "x"), nullptr);
  EXPECT_EQ(set->Find(keys::Sha256Hex(key)), nullptr);  // the hash is no key
}

// Found by config_yaml_fuzzer: a top-level key that is not a plain string
// (a YAML complex key) threw out of the parser instead of an error.
TEST(ApiKeySetTest, ATopLevelKeyThatIsNotAStringIsAnError) {
  EXPECT_THAT(ApiKeySet::Parse("? [keys]\n: []\n", "f"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("field names must be plain strings")));
  EXPECT_THAT(ApiKeySet::Parse("? {a: b}\n: x\nkeys: []\n", "f"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("field names must be plain strings")));
}

TEST(ApiKeySetTest, RejectsBadEntriesNamingThem) {
  const std::string h = keys::Sha256Hex("k");
  EXPECT_THAT(ApiKeySet::Parse("keys:\n  - name: a\n    sha256: abc\n    "
                               "tenant: t\n    role: agent\n",
                               "f"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("keys[0]: `sha256` must be 64")));
  EXPECT_THAT(
      ApiKeySet::Parse(absl::StrCat("keys:\n  - name: a\n    sha256: ", h,
                                    "\n    tenant: t\n    role: root\n"),
                       "f"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("`role` must be")));
  EXPECT_THAT(
      ApiKeySet::Parse(absl::StrCat("keys:\n  - name: a\n    sha256: ", h,
                                    "\n    tenant: t\n    role: agent\n    "
                                    "trusted_identities: true\n"),
                       "f"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("app keys only")));
  EXPECT_THAT(
      ApiKeySet::Parse(absl::StrCat("keys:\n  - name: a\n    sha256: ", h,
                                    "\n    tenant: t\n    role: app\n  - "
                                    "name: b\n    sha256: ",
                                    h, "\n    tenant: t\n    role: app\n"),
                       "f"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys[1]")));
  EXPECT_THAT(ApiKeySet::Parse("keys:\n  - name: a\n    key: x\n", "f"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown field `key`")));
}

// Each tenant has its own internal keys named after the services, so a
// name is unique per tenant, not per file.
TEST(ApiKeySetTest, NamesAreUniquePerTenant) {
  auto entry = [](const std::string& name, const std::string& tenant) {
    return absl::StrCat("  - name: ", name,
                        "\n    sha256: ", keys::Sha256Hex(NewApiKey()),
                        "\n    tenant: ", tenant, "\n    role: internal\n");
  };
  absl::StatusOr<ApiKeySet> two_tenants =
      ApiKeySet::Parse(absl::StrCat("keys:\n", entry("profile", "acme"),
                                    entry("profile", "globex")),
                       "f");
  ASSERT_THAT(two_tenants, IsOk());
  EXPECT_EQ(two_tenants->size(), 2u);
  EXPECT_THAT(ApiKeySet::Parse(absl::StrCat("keys:\n", entry("profile", "acme"),
                                            entry("profile", "acme")),
                               "f"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("keys[1]: duplicate name profile in tenant "
                                 "acme")));
}

TEST(AuthenticatorTest, RefusesToStartWithoutACredentialSource) {
  EXPECT_THAT(Authenticator::Create(AuthenticatorOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("auth.api_keys_file")));
}

TEST(AuthenticatorTest, MissingMalformedOrUnknownCredentialIsUnauthenticated) {
  TestCredentials creds;
  Authenticator& auth = creds.authenticator();
  EXPECT_THAT(auth.Authorize("", "", kGetProfile),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("missing credential")));
  EXPECT_THAT(auth.Authorize(creds.key(Role::kAgent), "", kGetProfile),
              StatusIs(absl::StatusCode::kUnauthenticated));  // no "Bearer "
  EXPECT_THAT(auth.Authorize("Basic abc", "", kGetProfile),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(auth.Authorize("Bearer ", "", kGetProfile),
              StatusIs(absl::StatusCode::kUnauthenticated));
  const std::string unknown = NewApiKey();
  absl::StatusOr<Principal> denied =
      auth.Authorize(Bearer(unknown), "", kGetProfile);
  EXPECT_THAT(denied, StatusIs(absl::StatusCode::kUnauthenticated,
                               "unknown credential"));
  EXPECT_THAT(std::string(denied.status().message()), Not(HasSubstr(unknown)));
}

TEST(AuthenticatorTest, KnownKeyGivesItsPrincipalAndRoleIsEnforced) {
  TestCredentials creds;
  Authenticator& auth = creds.authenticator();
  absl::StatusOr<Principal> agent =
      auth.Authorize(Bearer(creds.key(Role::kAgent)), "", kGetProfile);
  ASSERT_THAT(agent, IsOk());
  EXPECT_EQ(agent->tenant, "default");
  EXPECT_EQ(agent->role, Role::kAgent);
  EXPECT_EQ(agent->name, "agent");
  EXPECT_FALSE(agent->TrustsIdentities());
  EXPECT_THAT(auth.Authorize(Bearer(creds.key(Role::kAgent)), "", kErase),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "role agent may not call EraseCustomer"));
  EXPECT_THAT(auth.Authorize(Bearer(creds.key(Role::kAdmin)), "", kErase),
              IsOk());
  absl::StatusOr<Principal> trusted = auth.Authorize(
      Bearer(creds.trusted_app_key()), "", "/omnicx.v1.IngestionService/Track");
  ASSERT_THAT(trusted, IsOk());
  EXPECT_TRUE(trusted->TrustsIdentities());
}

TEST(AuthenticatorTest, AnotherTenantsCredentialIsRefused) {
  TestCredentials mine("acme");
  TestCredentials theirs("globex");
  AuthenticatorOptions options;
  options.tenant = "acme";
  options.api_keys_file = theirs.api_keys_file();
  std::unique_ptr<Authenticator> auth = theirs.NewAuthenticator(options);
  EXPECT_THAT(
      auth->Authorize(Bearer(theirs.key(Role::kAdmin)), "", kGetProfile),
      StatusIs(absl::StatusCode::kPermissionDenied,
               "the credential is not valid for this tenant"));
  // acme's own keys are not in that file at all.
  EXPECT_THAT(auth->Authorize(Bearer(mine.key(Role::kAdmin)), "", kGetProfile),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(AuthenticatorTest, OnBehalfOfIsTakenOnlyFromInternalCallers) {
  TestCredentials creds;
  Authenticator& auth = creds.authenticator();
  absl::StatusOr<Principal> internal = auth.Authorize(
      Bearer(creds.internal_key("profile")), "console-7", kGetJourney);
  ASSERT_THAT(internal, IsOk());
  EXPECT_EQ(internal->AuditName(), "profile (for console-7)");
  absl::StatusOr<Principal> agent =
      auth.Authorize(Bearer(creds.key(Role::kAgent)), "admin", kGetProfile);
  ASSERT_THAT(agent, IsOk());
  EXPECT_EQ(agent->AuditName(), "agent");
}

TEST(AuthenticatorTest, KeysFileIsReloadedWhenItChanges) {
  TestCredentials creds;
  absl::Time now = absl::FromUnixSeconds(1000);
  AuthenticatorOptions options;
  options.clock = [&now] { return now; };
  options.reload_interval = absl::Seconds(5);
  std::unique_ptr<Authenticator> auth = creds.NewAuthenticator(options);
  const std::string added = NewApiKey();
  {
    std::ofstream out(creds.api_keys_file(), std::ios::app);
    out << "  - name: late\n    sha256: " << keys::Sha256Hex(added)
        << "\n    tenant: default\n    role: agent\n";
  }
  EXPECT_THAT(auth->Authorize(Bearer(added), "", kGetProfile),
              StatusIs(absl::StatusCode::kUnauthenticated));
  now += absl::Seconds(6);  // past the reload interval: the file is re-read
  EXPECT_THAT(auth->Authorize(Bearer(added), "", kGetProfile), IsOk());
  // A broken file keeps the keys in force.
  std::ofstream(creds.api_keys_file()) << "keys: [ broken";
  auth->ReloadNow();
  EXPECT_THAT(auth->Authorize(Bearer(added), "", kGetProfile), IsOk());
}

TEST(AuthenticatorTest, JwtsGiveTheirClaimsAsPrincipal) {
  TestCredentials creds;
  const omnicx::testing::TestKey& key =
      []() -> const omnicx::testing::TestKey& {
    static omnicx::testing::TestKey* k =
        new omnicx::testing::TestKey(omnicx::testing::TestKey::Ec("k1"));
    return *k;
  }();
  const std::string jwks = creds.api_keys_file() + ".jwks.json";
  std::ofstream(jwks) << omnicx::testing::Jwks({&key});
  const absl::Time now = absl::FromUnixSeconds(1900000000);
  AuthenticatorOptions options;
  options.jwks_file = jwks;
  options.jwt.issuer = "https://idp.test";
  options.jwt.audience = "omnicx";
  options.clock = [now] { return now; };
  std::unique_ptr<Authenticator> auth = creds.NewAuthenticator(options);
  nlohmann::json claims = {{"iss", "https://idp.test"},
                           {"aud", "omnicx"},
                           {"sub", "alice"},
                           {"tenant", "default"},
                           {"role", "agent"},
                           {"exp", absl::ToUnixSeconds(now) + 300}};
  const std::string token =
      omnicx::testing::SignJwt(key, omnicx::testing::JwtHeader(key), claims);
  absl::StatusOr<Principal> alice =
      auth->Authorize(Bearer(token), "", kGetProfile);
  ASSERT_THAT(alice, IsOk());
  EXPECT_EQ(alice->name, "alice");
  EXPECT_EQ(alice->role, Role::kAgent);
  EXPECT_THAT(auth->Authorize(Bearer(token), "", kErase),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // API keys keep working beside JWTs.
  EXPECT_THAT(auth->Authorize(Bearer(creds.key(Role::kAgent)), "", kGetProfile),
              IsOk());

  nlohmann::json expired = claims;
  expired["exp"] = absl::ToUnixSeconds(now) - 3600;
  EXPECT_THAT(
      auth->Authorize(Bearer(omnicx::testing::SignJwt(
                          key, omnicx::testing::JwtHeader(key), expired)),
                      "", kGetProfile),
      StatusIs(absl::StatusCode::kUnauthenticated));
  nlohmann::json other_audience = claims;
  other_audience["aud"] = "someone-else";
  EXPECT_THAT(auth->Authorize(
                  Bearer(omnicx::testing::SignJwt(
                      key, omnicx::testing::JwtHeader(key), other_audience)),
                  "", kGetProfile),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(auth->Authorize(Bearer(omnicx::testing::UnsignedJwt(
                                  {{"alg", "none"}, {"typ", "JWT"}}, claims)),
                              "", kGetProfile),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(auth->Authorize(Bearer(omnicx::testing::SignJwtHs256(
                                  key.PublicKeyPem(),
                                  {{"alg", "HS256"}, {"typ", "JWT"}}, claims)),
                              "", kGetProfile),
              StatusIs(absl::StatusCode::kUnauthenticated));
  nlohmann::json unknown_role = claims;
  unknown_role["role"] = "root";
  EXPECT_THAT(
      auth->Authorize(Bearer(omnicx::testing::SignJwt(
                          key, omnicx::testing::JwtHeader(key), unknown_role)),
                      "", kGetProfile),
      StatusIs(absl::StatusCode::kUnauthenticated));
  nlohmann::json other_tenant = claims;
  other_tenant["tenant"] = "globex";
  EXPECT_THAT(
      auth->Authorize(Bearer(omnicx::testing::SignJwt(
                          key, omnicx::testing::JwtHeader(key), other_tenant)),
                      "", kGetProfile),
      StatusIs(absl::StatusCode::kPermissionDenied));
}

// The `authorization` value `credential` attaches to a call.
std::string AttachedHeader(const ServiceCredential& credential) {
  grpc::ClientContext context;
  credential.Attach(&context);
  std::multimap<std::string, std::string> sent =
      grpc::testing::ClientContextTestPeer(&context).GetSendInitialMetadata();
  auto it = sent.find(kAuthorizationHeader);
  return it == sent.end() ? "" : it->second;
}

TEST(ServiceCredentialTest, KeyFileIsSentAsBearerAndPassesTheGate) {
  TestCredentials creds;
  const std::string path = ::testing::TempDir() + "/agent-key-file";
  std::ofstream(path) << creds.key(Role::kAgent) << "  \n";
  absl::StatusOr<ServiceCredential> key = ServiceCredential::FromKeyFile(path);
  ASSERT_THAT(key, IsOk());
  const std::string header = AttachedHeader(*key);
  EXPECT_EQ(header, Bearer(creds.key(Role::kAgent)));
  absl::StatusOr<Principal> who = creds.authenticator().Authorize(
      header, "", "/omnicx.v1.ProfileService/GetCustomerContext");
  ASSERT_THAT(who, IsOk());
  EXPECT_EQ(who->role, Role::kAgent);
}

TEST(ServiceCredentialTest, KeyFileIsRequiredAndReadableAndNotEmpty) {
  EXPECT_THAT(ServiceCredential::FromKeyFile(""),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--key_file=PATH is required")));
  EXPECT_THAT(ServiceCredential::FromKeyFile("", "--analyst_key_file"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--analyst_key_file=PATH is required")));
  const std::string missing = ::testing::TempDir() + "/no-such-key-file";
  EXPECT_THAT(ServiceCredential::FromKeyFile(missing),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cannot read \"" + missing)));
  const std::string blank = ::testing::TempDir() + "/blank-key-file";
  std::ofstream(blank) << " \n";
  EXPECT_THAT(ServiceCredential::FromKeyFile(blank),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"" + blank + "\" is empty")));
  // A service without auth.credential_file sends nothing.
  absl::StatusOr<ServiceCredential> none = ServiceCredential::FromFile("");
  ASSERT_THAT(none, IsOk());
  EXPECT_EQ(AttachedHeader(*none), "");
}

TEST(RateLimiterTest, OneCallerRunningDryLeavesAnotherAlone) {
  TestCredentials creds;
  absl::Time now = absl::FromUnixSeconds(1000);
  AuthenticatorOptions options;
  options.clock = [&now] { return now; };
  options.rate_limit = 10;
  options.rate_limit_burst = 3;
  std::unique_ptr<Authenticator> auth = creds.NewAuthenticator(options);
  const std::string noisy = Bearer(creds.key(Role::kAgent));
  const std::string quiet = Bearer(creds.key(Role::kService));
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(auth->Authorize(noisy, "", kGetProfile), IsOk());
  }
  absl::Status limited = auth->Authorize(noisy, "", kGetProfile).status();
  EXPECT_THAT(limited, StatusIs(absl::StatusCode::kResourceExhausted));
  ASSERT_TRUE(status::GetRetryDelay(limited).has_value());
  EXPECT_NEAR(absl::ToDoubleMilliseconds(*status::GetRetryDelay(limited)), 100,
              1);
  EXPECT_THAT(auth->Authorize(quiet, "", kGetProfile), IsOk());
  now += absl::Milliseconds(100);  // one token back
  EXPECT_THAT(auth->Authorize(noisy, "", kGetProfile), IsOk());
  EXPECT_THAT(auth->Authorize(noisy, "", kGetProfile),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST(RateLimiterTest, ZeroRateIsNoLimit) {
  RateLimiter limiter(0, 1);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(limiter.TryTake("x", absl::UnixEpoch(), nullptr));
  }
}

}  // namespace
}  // namespace omnicx::auth
