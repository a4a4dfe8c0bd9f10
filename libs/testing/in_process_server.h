// Starts gRPC services in-process on 127.0.0.1:0 with the project's server
// bootstrap (health, reflection, metrics-free), for tests that want a real
// channel without a separate process.
//
//   IngestionServiceImpl service(intake);
//   auto server = StartInProcess({&service});
//   auto stub = omnicx::v1::IngestionService::NewStub(ChannelTo(**server));
#ifndef OMNICX_LIBS_TESTING_IN_PROCESS_SERVER_H_
#define OMNICX_LIBS_TESTING_IN_PROCESS_SERVER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "libs/server/server.h"

namespace omnicx::testing {

inline absl::StatusOr<std::unique_ptr<server::Server>> StartInProcess(
    const std::vector<grpc::Service*>& services,
    server::ServerOptions options = {}) {
  options.address = "127.0.0.1:0";
  return server::Server::Start(std::move(options), services);
}

inline std::shared_ptr<grpc::Channel> ChannelTo(const server::Server& server) {
  return grpc::CreateChannel(server.dial_address(),
                             grpc::InsecureChannelCredentials());
}

}  // namespace omnicx::testing

#endif  // OMNICX_LIBS_TESTING_IN_PROCESS_SERVER_H_
