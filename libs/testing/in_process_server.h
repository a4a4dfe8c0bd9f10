// Starts gRPC services in-process on 127.0.0.1:0 with the project's server
// bootstrap (health, reflection, metrics-free), for tests that want a real
// channel without a separate process.
//
//   IngestionServiceImpl service(intake);
//   auto server = StartInProcess({&service});
//   auto stub = omnicx::v1::IngestionService::NewStub(ChannelTo(**server));
//   // ChannelTo sends TestCredentials::Default()'s admin key on every call.
#ifndef OMNICX_LIBS_TESTING_IN_PROCESS_SERVER_H_
#define OMNICX_LIBS_TESTING_IN_PROCESS_SERVER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "libs/server/server.h"
#include "libs/testing/test_credentials.h"

namespace omnicx::testing {

inline absl::StatusOr<std::unique_ptr<server::Server>> StartInProcess(
    const std::vector<grpc::Service*>& services,
    server::ServerOptions options = {}) {
  options.address = "127.0.0.1:0";
  return server::Server::Start(std::move(options), services);
}

// A channel that sends TestCredentials::Default()'s admin key on every call.
inline std::shared_ptr<grpc::Channel> ChannelTo(const server::Server& server) {
  return ChannelWithKey(server.dial_address(),
                        TestCredentials::Default().key(auth::Role::kAdmin));
}

// A channel that sends `key` on every call.
inline std::shared_ptr<grpc::Channel> ChannelTo(const server::Server& server,
                                                const std::string& key) {
  return ChannelWithKey(server.dial_address(), key);
}

}  // namespace omnicx::testing

#endif  // OMNICX_LIBS_TESTING_IN_PROCESS_SERVER_H_
