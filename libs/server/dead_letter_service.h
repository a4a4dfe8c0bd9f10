// The DeadLetterService of a consumer service (protos/omnicx/v1/
// dead_letters.proto): an admin's list, show, replay and drop of its
// dead-letter stream, over streams::DeadLetterQueue, and the
// `omnicx_dead_letters` gauge (the stream's depth at scrape time).
//
//   // in a service's Build(), after making its consumers:
//   AddDeadLetterService(context, "journey", {c1.get(), c2.get()}, bundle);
#ifndef OMNICX_LIBS_SERVER_DEAD_LETTER_SERVICE_H_
#define OMNICX_LIBS_SERVER_DEAD_LETTER_SERVICE_H_

#include <string>
#include <vector>

#include "libs/auth/authenticator.h"
#include "libs/server/service_main.h"
#include "libs/streams/dead_letters.h"
#include "omnicx/v1/dead_letters.grpc.pb.h"

namespace omnicx::server {

class DeadLetterServiceImpl final
    : public omnicx::v1::DeadLetterService::CallbackService {
 public:
  DeadLetterServiceImpl(streams::DeadLetterQueue& queue,
                        auth::Authenticator& auth)
      : queue_(queue), auth_(auth) {}

  grpc::ServerUnaryReactor* ListDeadLetters(
      grpc::CallbackServerContext* context,
      const omnicx::v1::ListDeadLettersRequest* request,
      omnicx::v1::ListDeadLettersResponse* response) override;
  grpc::ServerUnaryReactor* GetDeadLetter(
      grpc::CallbackServerContext* context,
      const omnicx::v1::DeadLetterRef* request,
      omnicx::v1::DeadLetter* response) override;
  grpc::ServerUnaryReactor* ReplayDeadLetter(
      grpc::CallbackServerContext* context,
      const omnicx::v1::DeadLetterRef* request,
      omnicx::v1::ReplayDeadLetterResponse* response) override;
  grpc::ServerUnaryReactor* DropDeadLetter(
      grpc::CallbackServerContext* context,
      const omnicx::v1::DeadLetterRef* request,
      omnicx::v1::DropDeadLetterResponse* response) override;

 private:
  streams::DeadLetterQueue& queue_;
  auth::Authenticator& auth_;
};

// Adds the service for `group`'s dead-letter stream (keys.DeadLetter(group))
// to `bundle`, replaying through `consumers` (which the bundle keeps alive),
// and registers the depth gauge.
void AddDeadLetterService(ServiceContext& context, const std::string& group,
                          std::vector<streams::StreamConsumer*> consumers,
                          ServiceBundle& bundle);

}  // namespace omnicx::server

#endif  // OMNICX_LIBS_SERVER_DEAD_LETTER_SERVICE_H_
