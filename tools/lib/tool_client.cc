#include "tools/lib/tool_client.h"

#include <chrono>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/server/tls.h"
#include "libs/status/error_details.h"

namespace omnicx::tools {

bool ToolClient::ParseFlag(int argc, char** argv, int& i) {
  const std::string a = argv[i];
  auto value = [&](const std::string& flag) -> std::optional<std::string> {
    if (absl::StartsWith(a, flag + "=")) return a.substr(flag.size() + 1);
    if (a == flag && i + 1 < argc) return std::string(argv[++i]);
    return std::nullopt;
  };
  if (auto v = value("--key_file")) {
    key_file_ = *v;
  } else if (auto v = value("--address")) {
    address_ = *v;
  } else if (auto v = value("--tls_ca_file")) {
    tls_.set_ca_file(*v);
  } else if (auto v = value("--tls_cert_file")) {
    tls_.set_cert_file(*v);
  } else if (auto v = value("--tls_key_file")) {
    tls_.set_key_file(*v);
  } else {
    return false;
  }
  return true;
}

absl::Status ToolClient::Connect() {
  absl::Status error;
  if (tls_.cert_file().empty() != tls_.key_file().empty()) {
    error = absl::InvalidArgumentError(
        "--tls_cert_file and --tls_key_file go together");
  } else {
    absl::StatusOr<auth::ServiceCredential> key =
        auth::ServiceCredential::FromKeyFile(key_file_);
    if (key.ok()) {
      key_ = *std::move(key);
      channel_ = server::DialService(address_, tls_);
      return absl::OkStatus();
    }
    error = key.status();
  }
  std::cerr << tool_ << ": " << error.message() << "\n";
  return error;
}

void ToolClient::Prepare(grpc::ClientContext& context,
                         absl::Duration deadline) const {
  if (key_) key_->Attach(&context);
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(deadline));
}

int ToolClient::Fail(const grpc::Status& status) const {
  std::cerr << tool_ << ": " << status::StatusCodeName(status.error_code())
            << ": " << status.error_message() << "\n";
  return status.error_code() == grpc::StatusCode::NOT_FOUND ? 3 : 1;
}

}  // namespace omnicx::tools
