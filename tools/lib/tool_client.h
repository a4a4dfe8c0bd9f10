// What the command-line tools that call an omnicx service share: the
// connection flags, the API key, the channel, and how a failed call is
// printed.
//
//   omnicx::tools::ToolClient client("omnicx-dlq", "127.0.0.1:50053");
//   for (int i = 1; i < argc; ++i) {
//     if (client.ParseFlag(argc, argv, i)) continue;
//     ... the tool's own flags ...
//   }
//   if (absl::Status s = client.Connect(); !s.ok()) return 2;  // printed
//   grpc::ClientContext context;
//   client.Prepare(context, absl::Seconds(10));
//   grpc::Status status = Stub::NewStub(client.channel())->Call(&context, ...);
//   if (!status.ok()) return client.Fail(status);  // 3 for NOT_FOUND, else 1
//
// Flags: --address, --key_file (the API key, sent as `authorization: Bearer`),
// --tls_ca_file, --tls_cert_file, --tls_key_file (TLS; cert + key: mTLS).
#ifndef OMNICX_TOOLS_LIB_TOOL_CLIENT_H_
#define OMNICX_TOOLS_LIB_TOOL_CLIENT_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "libs/auth/authenticator.h"
#include "omnicx/config/v1/config.pb.h"

namespace omnicx::tools {

class ToolClient {
 public:
  ToolClient(std::string tool, std::string default_address)
      : tool_(std::move(tool)), address_(std::move(default_address)) {}

  // Takes argv[i] (and its value, advancing i) when it is a connection
  // flag; false otherwise.
  bool ParseFlag(int argc, char** argv, int& i);
  // Reads the key and dials; prints the error (tool-prefixed) and returns
  // it when the flags are unusable.
  absl::Status Connect();
  // Attaches the key and a deadline.
  void Prepare(grpc::ClientContext& context, absl::Duration deadline) const;
  // Prints "<tool>: <CODE>: <message>"; the exit status: 3 for NOT_FOUND,
  // else 1.
  int Fail(const grpc::Status& status) const;

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  // For usage messages.
  static constexpr char kFlagsUsage[] =
      "--key_file F [--address HOST:PORT] [--tls_ca_file F [--tls_cert_file F "
      "--tls_key_file F]]";

 private:
  std::string tool_;
  std::string address_;
  std::string key_file_;
  omnicx::config::v1::TlsConfig tls_;
  std::optional<auth::ServiceCredential> key_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace omnicx::tools

#endif  // OMNICX_TOOLS_LIB_TOOL_CLIENT_H_
