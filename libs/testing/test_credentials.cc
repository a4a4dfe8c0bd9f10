#include "libs/testing/test_credentials.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "libs/auth/api_keys.h"
#include "libs/keys/digest.h"

namespace omnicx::testing {
namespace {

class BearerInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerInterceptor(const std::string& header) : header_(header) {}
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                PRE_SEND_INITIAL_METADATA)) {
      auto* md = methods->GetSendInitialMetadata();
      if (md->find(auth::kAuthorizationHeader) == md->end()) {
        md->emplace(auth::kAuthorizationHeader, header_);
      }
    }
    methods->Proceed();
  }

 private:
  const std::string& header_;
};

class BearerInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerInterceptorFactory(std::string bearer)
      : header_(absl::StrCat("Bearer ", bearer)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerInterceptor(header_);
  }

 private:
  std::string header_;
};

}  // namespace

TestCredentials::TestCredentials(std::string tenant)
    : tenant_(std::move(tenant)) {
  char tmpl[] = "/tmp/omnicx-creds-XXXXXX";
  dir_ = mkdtemp(tmpl);
  file_ = dir_ + "/keys.yaml";
  auto add = [&](const std::string& name, auth::Role role, bool trusted) {
    const std::string key = auth::NewApiKey();
    keys_[name] = key;
    absl::StrAppend(
        &entries_, "  - name: ", name, "\n    sha256: ", keys::Sha256Hex(key),
        "\n    tenant: ", tenant_, "\n    role: ", auth::RoleName(role), "\n");
    if (trusted) absl::StrAppend(&entries_, "    trusted_identities: true\n");
  };
  for (auth::Role role :
       {auth::Role::kApp, auth::Role::kAgent, auth::Role::kService,
        auth::Role::kAnalyst, auth::Role::kAdmin}) {
    add(std::string(auth::RoleName(role)), role, false);
  }
  add("app-trusted", auth::Role::kApp, true);
  for (const char* service : {"profile", "recommendation", "journey"}) {
    // Internal keys are named after the service (the policy checks it).
    const std::string key = auth::NewApiKey();
    keys_[absl::StrCat("internal-", service)] = key;
    absl::StrAppend(&entries_, "  - name: ", service,
                    "\n    sha256: ", keys::Sha256Hex(key),
                    "\n    tenant: ", tenant_, "\n    role: internal\n");
  }
  std::ofstream(file_) << "keys:\n" << entries_;
  auth::AuthenticatorOptions options;
  options.tenant = tenant_;
  options.api_keys_file = file_;
  authenticator_ = NewAuthenticator(options);
}

TestCredentials::~TestCredentials() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

TestCredentials& TestCredentials::Default() {
  static TestCredentials* creds = new TestCredentials("default");
  return *creds;
}

const std::string& TestCredentials::key(auth::Role role) const {
  return keys_.at(std::string(auth::RoleName(role)));
}

std::unique_ptr<auth::Authenticator> TestCredentials::NewAuthenticator(
    auth::AuthenticatorOptions options) const {
  if (options.api_keys_file.empty()) options.api_keys_file = file_;
  auto created = auth::Authenticator::Create(std::move(options));
  if (!created.ok()) {
    fprintf(stderr, "TestCredentials: %s\n",
            std::string(created.status().message()).c_str());
    abort();
  }
  return std::move(*created);
}

std::string TestCredentials::WriteKeysFileWith(
    const std::vector<const TestCredentials*>& others) const {
  std::string yaml = absl::StrCat("keys:\n", entries_);
  std::string name = "joint";
  for (const TestCredentials* other : others) {
    absl::StrAppend(&yaml, other->entries_);
    absl::StrAppend(&name, "-", other->tenant_);
  }
  const std::string path = absl::StrCat(dir_, "/", name, ".yaml");
  std::ofstream(path) << yaml;
  return path;
}

std::shared_ptr<grpc::Channel> ChannelWithKey(const std::string& address,
                                              const std::string& bearer) {
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(std::make_unique<BearerInterceptorFactory>(bearer));
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      address, grpc::InsecureChannelCredentials(), grpc::ChannelArguments(),
      std::move(interceptors));
}

}  // namespace omnicx::testing
