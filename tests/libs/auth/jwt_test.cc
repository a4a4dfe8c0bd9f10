#include "libs/auth/jwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/jwt_signer.h"
#include "nlohmann/json.hpp"

namespace omnicx::auth {
namespace {

using ::nlohmann::json;
using ::omnicx::status::StatusIs;
using ::omnicx::testing::Base64UrlEncode;
using ::omnicx::testing::Jwks;
using ::omnicx::testing::JwtHeader;
using ::omnicx::testing::SignJwt;
using ::omnicx::testing::SignJwtHs256;
using ::omnicx::testing::TestKey;
using ::omnicx::testing::UnsignedJwt;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kIssuer[] = "https://idp.test";
constexpr char kAudience[] = "omnicx";
const absl::Time kNow = absl::FromUnixSeconds(1800000000);

int64_t Unix(absl::Time t) { return absl::ToUnixSeconds(t); }

// Replaces the file the way deploy tooling does (write aside, rename), so
// every version is a new inode even within one timestamp tick.
void WriteFile(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  FILE* f = fopen(tmp.c_str(), "w");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(fwrite(contents.data(), 1, contents.size(), f), contents.size());
  ASSERT_EQ(fclose(f), 0);
  ASSERT_EQ(rename(tmp.c_str(), path.c_str()), 0);
}

auto Refused(absl::string_view reason) {
  return StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr(reason));
}

class JwtVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/jwt_test_XXXXXX";
    ASSERT_NE(mkdtemp(dir_.data()), nullptr);
    path_ = dir_ + "/jwks.json";
    WriteFile(path_, Jwks({&Rsa(), &Ec()}));
  }

  void TearDown() override {
    remove(path_.c_str());
    rmdir(dir_.c_str());
  }

  std::unique_ptr<JwtVerifier> NewVerifier(
      absl::Duration reload_interval = absl::Seconds(5)) {
    JwtOptions options;
    options.issuer = kIssuer;
    options.audience = kAudience;
    options.leeway = absl::Seconds(60);
    options.reload_interval = reload_interval;
    absl::StatusOr<std::unique_ptr<JwtVerifier>> verifier =
        JwtVerifier::Create(options, path_);
    EXPECT_TRUE(verifier.ok()) << verifier.status();
    return verifier.ok() ? *std::move(verifier) : nullptr;
  }

  static json Claims() {
    return {{"iss", kIssuer},
            {"aud", kAudience},
            {"sub", "console-7"},
            {"tenant", "acme"},
            {"role", "agent"},
            {"iat", Unix(kNow - absl::Minutes(1))},
            {"exp", Unix(kNow + absl::Hours(1))}};
  }

  static std::string Sign(const TestKey& key, const json& claims) {
    return SignJwt(key, JwtHeader(key), claims);
  }

  // The keys in the file at the start, and the one rotated in. RSA key
  // generation takes up to a second, so each is made once per process and
  // only when a test uses it.
  static const TestKey& Rsa() {
    static const TestKey* const key = new TestKey(TestKey::Rsa("rsa-1"));
    return *key;
  }
  static const TestKey& Ec() {
    static const TestKey* const key = new TestKey(TestKey::Ec("ec-1"));
    return *key;
  }
  static const TestKey& RsaNext() {
    static const TestKey* const key = new TestKey(TestKey::Rsa("rsa-2"));
    return *key;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(JwtVerifierTest, AcceptsRs256WithItsClaims) {
  auto verifier = NewVerifier();
  ASSERT_OK_AND_ASSIGN(JwtClaims claims,
                       verifier->Verify(Sign(Rsa(), Claims()), kNow));
  EXPECT_EQ(claims.subject, "console-7");
  EXPECT_EQ(claims.tenant, "acme");
  EXPECT_EQ(claims.role, "agent");
  EXPECT_FALSE(claims.trusted_identities);
  EXPECT_EQ(claims.expires, kNow + absl::Hours(1));
}

TEST_F(JwtVerifierTest, AcceptsEs256AndTrustedIdentities) {
  auto verifier = NewVerifier();
  json claims = Claims();
  claims["role"] = "app";
  claims["trusted_identities"] = true;
  ASSERT_OK_AND_ASSIGN(JwtClaims got,
                       verifier->Verify(Sign(Ec(), claims), kNow));
  EXPECT_EQ(got.role, "app");
  EXPECT_TRUE(got.trusted_identities);
}

TEST_F(JwtVerifierTest, WithoutKidTriesEveryKeyOfTheAlg) {
  auto verifier = NewVerifier();
  EXPECT_OK(
      verifier->Verify(SignJwt(Rsa(), {{"alg", "RS256"}}, Claims()), kNow));
  EXPECT_OK(
      verifier->Verify(SignJwt(Ec(), {{"alg", "ES256"}}, Claims()), kNow));
}

TEST_F(JwtVerifierTest, ExpiryHasALeeway) {
  auto verifier = NewVerifier();
  json claims = Claims();
  claims["exp"] = Unix(kNow - absl::Seconds(30));
  EXPECT_OK(verifier->Verify(Sign(Rsa(), claims), kNow));
  claims["exp"] = Unix(kNow - absl::Seconds(60));
  EXPECT_THAT(verifier->Verify(Sign(Rsa(), claims), kNow), Refused("expired"));
  claims["exp"] = Unix(kNow - absl::Hours(1));
  EXPECT_THAT(verifier->Verify(Sign(Rsa(), claims), kNow), Refused("expired"));
}

TEST_F(JwtVerifierTest, NotBeforeHasALeeway) {
  auto verifier = NewVerifier();
  json claims = Claims();
  claims["nbf"] = Unix(kNow + absl::Seconds(30));
  EXPECT_OK(verifier->Verify(Sign(Rsa(), claims), kNow));
  claims["nbf"] = Unix(kNow + absl::Seconds(120));
  EXPECT_THAT(verifier->Verify(Sign(Rsa(), claims), kNow),
              Refused("not yet valid"));
  claims["nbf"] = "soon";
  EXPECT_THAT(verifier->Verify(Sign(Rsa(), claims), kNow),
              Refused("invalid nbf"));
}

TEST_F(JwtVerifierTest, FractionalNumericDatesAreAccepted) {
  auto verifier = NewVerifier();
  json claims = Claims();
  claims["exp"] = Unix(kNow) + 10.5;
  ASSERT_OK_AND_ASSIGN(JwtClaims got,
                       verifier->Verify(Sign(Ec(), claims), kNow));
  EXPECT_EQ(got.expires, kNow + absl::Milliseconds(10500));
}

TEST_F(JwtVerifierTest, IssuerMustMatch) {
  auto verifier = NewVerifier();
  json claims = Claims();
  claims["iss"] = "https://evil.test";
  EXPECT_THAT(verifier->Verify(Sign(Rsa(), claims), kNow),
              Refused("wrong issuer"));
  claims.erase("iss");
  EXPECT_THAT(verifier->Verify(Sign(Rsa(), claims), kNow),
              Refused("wrong issuer"));
}

TEST_F(JwtVerifierTest, AudienceMustMatchAsStringOrInArray) {
  auto verifier = NewVerifier();
  json claims = Claims();
  claims["aud"] = "someone-else";
  EXPECT_THAT(verifier->Verify(Sign(Rsa(), claims), kNow),
              Refused("wrong audience"));
  claims["aud"] = json::array({"someone-else", kAudience});
  EXPECT_OK(verifier->Verify(Sign(Rsa(), claims), kNow));
  claims["aud"] = json::array({"someone-else", "another"});
  EXPECT_THAT(verifier->Verify(Sign(Rsa(), claims), kNow),
              Refused("wrong audience"));
  claims.erase("aud");
  EXPECT_THAT(verifier->Verify(Sign(Rsa(), claims), kNow),
              Refused("wrong audience"));
}

TEST_F(JwtVerifierTest, AlgNoneIsRefused) {
  auto verifier = NewVerifier();
  for (const char* alg : {"none", "None", "NONE"}) {
    EXPECT_THAT(
        verifier->Verify(
            UnsignedJwt({{"alg", alg}, {"kid", "rsa-1"}}, Claims()), kNow),
        Refused("unsupported alg"))
        << alg;
  }
  // A permitted alg with the signature left off.
  EXPECT_THAT(verifier->Verify(UnsignedJwt(JwtHeader(Rsa()), Claims()), kNow),
              Refused("no signature"));
}

TEST_F(JwtVerifierTest, Hs256KeyedWithThePublicKeyIsRefused) {
  auto verifier = NewVerifier();
  const json header = {{"alg", "HS256"}, {"kid", "rsa-1"}, {"typ", "JWT"}};
  for (const std::string& secret :
       {Rsa().PublicKeyPem(), Rsa().PublicKeyDer(), Ec().PublicKeyPem()}) {
    EXPECT_THAT(verifier->Verify(SignJwtHs256(secret, header, Claims()), kNow),
                Refused("unsupported alg"));
  }
  EXPECT_THAT(
      verifier->Verify(SignJwt(Rsa(), {{"alg", "RS512"}}, Claims()), kNow),
      Refused("unsupported alg"));
}

TEST_F(JwtVerifierTest, UnknownKidIsRefused) {
  auto verifier = NewVerifier();
  EXPECT_THAT(verifier->Verify(Sign(RsaNext(), Claims()), kNow),
              Refused("unknown kid"));
  // A kid naming a key of the other type is no match either.
  EXPECT_THAT(
      verifier->Verify(
          SignJwt(Rsa(), {{"alg", "RS256"}, {"kid", "ec-1"}}, Claims()), kNow),
      Refused("unknown kid"));
  // Without a kid, no key of the file verifies it.
  EXPECT_THAT(
      verifier->Verify(SignJwt(RsaNext(), {{"alg", "RS256"}}, Claims()), kNow),
      Refused("bad signature"));
}

TEST_F(JwtVerifierTest, TamperedTokensAreRefused) {
  auto verifier = NewVerifier();
  for (const TestKey* key : {&Rsa(), &Ec()}) {
    const std::string token = Sign(*key, Claims());
    const std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
    json forged = Claims();
    forged["role"] = "admin";
    const std::string tampered_payload = absl::StrCat(
        parts[0], ".", Base64UrlEncode(forged.dump()), ".", parts[2]);
    EXPECT_THAT(verifier->Verify(tampered_payload, kNow),
                Refused("bad signature"));
    std::string flipped = token;
    flipped[flipped.size() - 5] =
        flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';
    EXPECT_THAT(verifier->Verify(flipped, kNow), Refused("bad signature"));
  }
}

TEST_F(JwtVerifierTest, Es256SignatureMustBeRawRAndS) {
  auto verifier = NewVerifier();
  const std::string token = Sign(Ec(), Claims());
  const std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  const std::string too_long = absl::StrCat(
      parts[0], ".", parts[1], ".", Base64UrlEncode(std::string(72, '\x01')));
  EXPECT_THAT(verifier->Verify(too_long, kNow),
              Refused("ES256 signature is not 64 bytes"));
}

TEST_F(JwtVerifierTest, RequiredClaimsMustBePresent) {
  auto verifier = NewVerifier();
  for (const char* name : {"sub", "tenant", "role"}) {
    json claims = Claims();
    claims.erase(name);
    EXPECT_THAT(verifier->Verify(Sign(Rsa(), claims), kNow),
                Refused(absl::StrCat("missing ", name)));
    claims[name] = "";
    EXPECT_THAT(verifier->Verify(Sign(Rsa(), claims), kNow),
                Refused(absl::StrCat("missing ", name)));
    claims[name] = 7;
    EXPECT_THAT(verifier->Verify(Sign(Rsa(), claims), kNow),
                Refused(absl::StrCat("missing ", name)));
  }
  json claims = Claims();
  claims.erase("exp");
  EXPECT_THAT(verifier->Verify(Sign(Rsa(), claims), kNow),
              Refused("missing or invalid exp"));
  claims = Claims();
  claims["trusted_identities"] = "true";
  EXPECT_THAT(verifier->Verify(Sign(Rsa(), claims), kNow),
              Refused("trusted_identities is not a boolean"));
}

TEST_F(JwtVerifierTest, MalformedTokensAreRefusedWithoutEchoingThem) {
  auto verifier = NewVerifier();
  const std::string good = Sign(Rsa(), Claims());
  const std::vector<absl::string_view> parts = absl::StrSplit(good, '.');
  const std::string header = std::string(parts[0]);
  const std::string payload = std::string(parts[1]);
  const std::string signature = std::string(parts[2]);
  struct Case {
    std::string token;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"", "empty token"},
      {"Bearer " + good, "header is not base64url"},
      {header + "." + payload, "not a compact JWS"},
      {good + ".extra", "not a compact JWS"},
      {"e30=." + payload + "." + signature, "header is not base64url"},
      {Base64UrlEncode("{\"alg\":") + "." + payload + "." + signature,
       "header is not a JSON object"},
      {Base64UrlEncode("[\"RS256\"]") + "." + payload + "." + signature,
       "header is not a JSON object"},
      {Base64UrlEncode("{\"alg\":256}") + "." + payload + "." + signature,
       "no alg"},
      {header + "." + payload + "." + signature + "=",
       "signature is not base64url"},
      {header + "." + payload + "." + signature.substr(1),
       "signature is not base64url"},
      {std::string(20000, 'a'), "token too large"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<JwtClaims> got = verifier->Verify(c.token, kNow);
    EXPECT_THAT(got, Refused(c.reason)) << c.token.substr(0, 40);
    EXPECT_THAT(std::string(got.status().message()),
                Not(HasSubstr(payload.substr(0, 12))));
  }
}

TEST_F(JwtVerifierTest, PayloadIsReadOnlyAfterTheSignature) {
  auto verifier = NewVerifier();
  // Signed, but the payload is not JSON: refused as malformed.
  const std::string token = SignJwt(Rsa(), JwtHeader(Rsa()), "just a string");
  EXPECT_THAT(verifier->Verify(token, kNow),
              Refused("payload is not a JSON object"));
}

TEST_F(JwtVerifierTest, CreateRejectsBadFilesAndOptions) {
  JwtOptions options;
  options.issuer = kIssuer;
  options.audience = kAudience;
  EXPECT_THAT(JwtVerifier::Create(options, path_ + ".missing"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("jwks_file")));

  const auto invalid = [&](const std::string& contents,
                           absl::string_view reason) {
    WriteFile(path_, contents);
    EXPECT_THAT(JwtVerifier::Create(options, path_),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(reason)))
        << contents.substr(0, 60);
  };
  invalid("{not json", "not JSON");
  invalid("{\"keys\": {}}", "no \"keys\" array");
  invalid("{\"keys\": []}", "no RS256 or ES256 signing key");
  invalid(R"({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})",
          "no RS256 or ES256 signing key");
  json short_rsa = Rsa().PublicJwk();
  short_rsa["n"] = std::string(short_rsa["n"]).substr(0, 172);  // 1032 bits
  invalid(json{{"keys", {short_rsa}}}.dump(), "shorter than 2048 bits");
  json off_curve = Ec().PublicJwk();
  std::string y = off_curve["y"];
  y[5] = y[5] == 'A' ? 'B' : 'A';
  off_curve["y"] = y;
  invalid(json{{"keys", {off_curve}}}.dump(), "keys[0]: ");
  json no_x = Ec().PublicJwk();
  no_x.erase("x");
  invalid(json{{"keys", {no_x}}}.dump(), "missing or non-string \"x\"");
  invalid(json{{"keys", {Rsa().PublicJwk(), Rsa().PublicJwk()}}}.dump(),
          "duplicate kid");

  WriteFile(path_, Jwks({&Rsa()}));
  JwtOptions no_issuer = options;
  no_issuer.issuer.clear();
  EXPECT_THAT(JwtVerifier::Create(no_issuer, path_),
              StatusIs(absl::StatusCode::kInvalidArgument));
  JwtOptions no_audience = options;
  no_audience.audience.clear();
  EXPECT_THAT(JwtVerifier::Create(no_audience, path_),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(JwtVerifierTest, SkipsKeysItCannotUse) {
  json enc = RsaNext().PublicJwk();
  enc["use"] = "enc";
  json rs512 = RsaNext().PublicJwk();
  rs512["alg"] = "RS512";
  rs512["kid"] = "rs512";
  json p384 = {{"kty", "EC"}, {"crv", "P-384"}, {"kid", "p384"}};
  json oct = {{"kty", "oct"}, {"k", "c2VjcmV0"}, {"kid", "hmac"}};
  WriteFile(path_,
            json{{"keys", {enc, rs512, p384, oct, Ec().PublicJwk()}}}.dump());
  auto verifier = NewVerifier();
  EXPECT_OK(verifier->Verify(Sign(Ec(), Claims()), kNow));
  EXPECT_THAT(verifier->Verify(Sign(RsaNext(), Claims()), kNow),
              Refused("unknown kid"));
}

TEST_F(JwtVerifierTest, ReloadNowPicksUpARotatedKey) {
  auto verifier = NewVerifier();
  const std::string old_token = Sign(Rsa(), Claims());
  const std::string new_token = Sign(RsaNext(), Claims());
  EXPECT_OK(verifier->Verify(old_token, kNow));
  EXPECT_THAT(verifier->Verify(new_token, kNow), Refused("unknown kid"));

  WriteFile(path_, Jwks({&RsaNext()}));
  ASSERT_OK(verifier->ReloadNow());
  EXPECT_THAT(verifier->Verify(old_token, kNow), Refused("unknown kid"));
  EXPECT_OK(verifier->Verify(new_token, kNow));
  // Unchanged file: nothing to do.
  EXPECT_OK(verifier->ReloadNow());
}

TEST_F(JwtVerifierTest, NewKeyMaterialUnderTheSameKidReplacesTheOld) {
  auto verifier = NewVerifier();
  const std::string old_token = Sign(Rsa(), Claims());
  const TestKey same_kid = TestKey::Ec("rsa-1");
  WriteFile(path_, Jwks({&same_kid}));
  ASSERT_OK(verifier->ReloadNow());
  EXPECT_THAT(verifier->Verify(old_token, kNow), Refused("unknown kid"));
  EXPECT_OK(verifier->Verify(Sign(same_kid, Claims()), kNow));
}

TEST_F(JwtVerifierTest, VerifyRereadsTheFileEveryReloadInterval) {
  auto verifier = NewVerifier(absl::Seconds(5));
  const std::string old_token = Sign(Rsa(), Claims());
  const std::string new_token = Sign(RsaNext(), Claims());
  EXPECT_OK(verifier->Verify(old_token, kNow));  // checks the file: unchanged

  WriteFile(path_, Jwks({&RsaNext()}));
  // Within the interval the old keys stay in force.
  EXPECT_OK(verifier->Verify(old_token, kNow + absl::Seconds(4)));
  EXPECT_THAT(verifier->Verify(new_token, kNow + absl::Seconds(4)),
              Refused("unknown kid"));
  // Once it has passed, the next Verify sees the new file.
  EXPECT_OK(verifier->Verify(new_token, kNow + absl::Seconds(5)));
  EXPECT_THAT(verifier->Verify(old_token, kNow + absl::Seconds(5)),
              Refused("unknown kid"));
}

TEST_F(JwtVerifierTest, ABrokenReplacementKeepsTheOldKeys) {
  auto verifier = NewVerifier(absl::Seconds(5));
  const std::string token = Sign(Rsa(), Claims());
  EXPECT_OK(verifier->Verify(token, kNow));

  WriteFile(path_, "{\"keys\": [{\"kty\": \"RSA\", \"n\": \"!!\"");
  EXPECT_THAT(
      verifier->ReloadNow(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("jwks_file")));
  EXPECT_OK(verifier->Verify(token, kNow + absl::Seconds(10)));
  WriteFile(path_, Jwks({}));
  EXPECT_OK(verifier->Verify(token, kNow + absl::Seconds(20)));
  // Already read: reported again, not re-read or logged again.
  EXPECT_THAT(verifier->ReloadNow(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no RS256 or ES256 signing key")));
  EXPECT_OK(verifier->Verify(token, kNow + absl::Seconds(30)));

  // A deleted file also keeps the keys.
  ASSERT_EQ(remove(path_.c_str()), 0);
  EXPECT_THAT(verifier->ReloadNow(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_OK(verifier->Verify(token, kNow + absl::Seconds(40)));

  // A good file again is picked up.
  WriteFile(path_, Jwks({&RsaNext()}));
  ASSERT_OK(verifier->ReloadNow());
  EXPECT_THAT(verifier->Verify(token, kNow + absl::Seconds(40)),
              Refused("unknown kid"));
}

TEST_F(JwtVerifierTest, VerifiesWhileTheFileIsRotated) {
  // Interval 0: every Verify checks the file, racing the writer below.
  auto verifier = NewVerifier(absl::ZeroDuration());
  const std::string token = Sign(Rsa(), Claims());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (!verifier->Verify(token, kNow).ok()) ++failures;
      }
    });
  }
  // Every version of the file holds the key the token was signed with.
  for (int i = 0; i < 50; ++i) {
    WriteFile(path_, i % 2 == 0 ? Jwks({&Rsa()}) : Jwks({&Rsa(), &Ec()}));
    if (i % 5 == 0) verifier->ReloadNow().IgnoreError();
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace omnicx::auth
