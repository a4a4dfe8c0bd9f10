#include "libs/auth/authenticator.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "libs/auth/policy.h"
#include "libs/config/config.h"
#include "libs/logging/log.h"
#include "libs/status/error_details.h"

namespace omnicx::auth {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool FileStamp(const std::string& path, int64_t* mtime_ns, int64_t* size) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return false;
  *mtime_ns =
      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  *size = st.st_size;
  return true;
}

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(why);
}

// A JWT is three base64url parts separated by dots; an API key has none.
bool LooksLikeJwt(absl::string_view token) {
  return std::count(token.begin(), token.end(), '.') == 2;
}

}  // namespace

Authenticator::Authenticator(AuthenticatorOptions options)
    : options_(std::move(options)),
      limiter_(options_.rate_limit, options_.rate_limit_burst) {}

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(
    AuthenticatorOptions options) {
  if (options.api_keys_file.empty() && options.jwks_file.empty()) {
    return absl::InvalidArgumentError(
        "no credential source: set auth.api_keys_file and/or auth.jwks_file "
        "(every call is authenticated)");
  }
  std::unique_ptr<Authenticator> auth(new Authenticator(std::move(options)));
  if (!auth->options_.api_keys_file.empty()) {
    absl::Status loaded = auth->LoadKeys();
    if (!loaded.ok()) return loaded;
  } else {
    absl::MutexLock lock(&auth->mu_);
    auth->keys_ = std::make_shared<ApiKeySet>();
  }
  if (!auth->options_.jwks_file.empty()) {
    JwtOptions jwt = auth->options_.jwt;
    jwt.reload_interval = auth->options_.reload_interval;
    absl::StatusOr<std::unique_ptr<JwtVerifier>> verifier =
        JwtVerifier::Create(jwt, auth->options_.jwks_file);
    if (!verifier.ok()) return verifier.status();
    auth->jwt_ = std::move(*verifier);
  }
  auth->next_check_ns_ =
      absl::ToUnixNanos(auth->options_.clock()) +
      absl::ToInt64Nanoseconds(auth->options_.reload_interval);
  return auth;
}

absl::Status Authenticator::LoadKeys() {
  int64_t mtime = 0, size = -1;
  FileStamp(options_.api_keys_file, &mtime, &size);
  absl::StatusOr<std::string> text = ReadFile(options_.api_keys_file);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("auth.api_keys_file: ", text.status().message()));
  }
  absl::StatusOr<ApiKeySet> set =
      ApiKeySet::Parse(*text, options_.api_keys_file);
  if (!set.ok()) return set.status();
  absl::MutexLock lock(&mu_);
  keys_ = std::make_shared<const ApiKeySet>(std::move(*set));
  keys_mtime_ns_ = mtime;
  keys_size_ = size;
  return absl::OkStatus();
}

std::shared_ptr<const ApiKeySet> Authenticator::keys() const {
  absl::ReaderMutexLock lock(&mu_);
  return keys_;
}

void Authenticator::ReloadKeysIfChanged() {
  if (options_.api_keys_file.empty()) return;
  int64_t mtime = 0, size = -1;
  FileStamp(options_.api_keys_file, &mtime, &size);
  {
    absl::ReaderMutexLock lock(&mu_);
    if (mtime == keys_mtime_ns_ && size == keys_size_) return;
  }
  absl::Status s = LoadKeys();
  if (s.ok()) {
    OMNICX_LOG(kInfo) << "reloaded " << options_.api_keys_file;
  } else {
    OMNICX_LOG(kWarn) << "keeping the previous API keys: " << s;
  }
}

void Authenticator::ReloadNow() {
  ReloadKeysIfChanged();
  if (jwt_ != nullptr) (void)jwt_->ReloadNow();
}

void Authenticator::MaybeReload(absl::Time now) {
  const int64_t now_ns = absl::ToUnixNanos(now);
  int64_t next = next_check_ns_.load(std::memory_order_relaxed);
  if (now_ns < next) return;
  const int64_t then =
      now_ns + absl::ToInt64Nanoseconds(options_.reload_interval);
  // One caller does the check; the others go on with the current keys.
  if (!next_check_ns_.compare_exchange_strong(next, then)) return;
  ReloadKeysIfChanged();
}

absl::StatusOr<Principal> Authenticator::Authenticate(
    absl::string_view authorization) {
  if (authorization.empty()) {
    return Unauthenticated(
        "missing credential: send metadata `authorization: Bearer <key>`");
  }
  absl::string_view token = authorization;
  if (!absl::ConsumePrefix(&token, "Bearer ") &&
      !absl::ConsumePrefix(&token, "bearer ")) {
    return Unauthenticated("the authorization header must be `Bearer <key>`");
  }
  token = absl::StripAsciiWhitespace(token);
  if (token.empty()) return Unauthenticated("empty credential");
  const absl::Time now = options_.clock();
  MaybeReload(now);
  if (jwt_ != nullptr && LooksLikeJwt(token)) {
    absl::StatusOr<JwtClaims> claims = jwt_->Verify(token, now);
    if (!claims.ok()) return claims.status();
    std::optional<Role> role = ParseRole(claims->role);
    if (!role.has_value()) return Unauthenticated("token has an unknown role");
    Principal p;
    p.tenant = claims->tenant;
    p.role = *role;
    p.name = claims->subject;
    p.trusted_identities = *role == Role::kApp && claims->trusted_identities;
    return p;
  }
  std::shared_ptr<const ApiKeySet> set = keys();
  const ApiKey* key = set->Find(token);
  if (key == nullptr) return Unauthenticated("unknown credential");
  Principal p;
  p.tenant = key->tenant;
  p.role = key->role;
  p.name = key->name;
  p.trusted_identities = key->trusted_identities;
  return p;
}

absl::StatusOr<Principal> Authenticator::Authorize(
    absl::string_view authorization, absl::string_view on_behalf_of,
    absl::string_view method) {
  absl::StatusOr<Principal> who = Authenticate(authorization);
  if (!who.ok()) return who.status();
  if (who->tenant != options_.tenant) {
    return absl::PermissionDeniedError(
        "the credential is not valid for this tenant");
  }
  absl::Status allowed = CheckAllowed(*who, method);
  if (!allowed.ok()) return allowed;
  if (who->role == Role::kInternal) {
    who->on_behalf_of = std::string(on_behalf_of.substr(0, 128));
  }
  // Limits apply at the edge: an internal credential carries every
  // agent's and service's calls at once, each already limited on entry.
  absl::Duration wait;
  if (who->role != Role::kInternal &&
      !limiter_.TryTake(absl::StrCat(who->tenant, "/", who->name),
                        options_.clock(), &wait)) {
    return status::WithRetryDelay(
        absl::ResourceExhaustedError(
            "rate limit of this credential reached; retry later"),
        wait);
  }
  return who;
}

absl::StatusOr<Principal> Authenticator::Authorize(
    const grpc::ServerContextBase& context, absl::string_view method) {
  const auto& metadata = context.client_metadata();
  auto header = [&](absl::string_view name) -> absl::string_view {
    auto it = metadata.find(grpc::string_ref(name.data(), name.size()));
    if (it == metadata.end()) return {};
    return absl::string_view(it->second.data(), it->second.size());
  };
  return Authorize(header(kAuthorizationHeader), header(kOnBehalfOfHeader),
                   method);
}

absl::StatusOr<ServiceCredential> ServiceCredential::FromFile(
    const std::string& path, absl::string_view setting) {
  if (path.empty()) return ServiceCredential();
  absl::StatusOr<std::string> text = config::ReadSecretFile(setting, path);
  if (!text.ok()) return text.status();
  // A key has no white space; an editor's trailing blanks are not part of it.
  std::string key(absl::StripAsciiWhitespace(*text));
  if (key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(setting, ": \"", path, "\" is empty"));
  }
  return FromString(std::move(key));
}

absl::StatusOr<ServiceCredential> ServiceCredential::FromKeyFile(
    const std::string& path, absl::string_view flag) {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag,
        "=PATH is required: every call but health needs an API key "
        "(./omnicx up writes one per role to .state/keys/<role>.key)"));
  }
  return FromFile(path, flag);
}

ServiceCredential ServiceCredential::FromString(std::string bearer) {
  ServiceCredential c;
  c.header_ = absl::StrCat("Bearer ", bearer);
  return c;
}

void ServiceCredential::Attach(grpc::ClientContext* context,
                               absl::string_view on_behalf_of) const {
  if (header_.empty()) return;
  context->AddMetadata(kAuthorizationHeader, header_);
  if (!on_behalf_of.empty()) {
    context->AddMetadata(kOnBehalfOfHeader, std::string(on_behalf_of));
  }
}

}  // namespace omnicx::auth
