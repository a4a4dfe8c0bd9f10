// A gRPC callback-API message allocator that parses each call's request
// onto a protobuf arena. For a large request (a 100-event TrackBatch is over
// a thousand allocations) parsing allocates from a few blocks, and freeing
// the request is releasing the blocks instead of a destructor walk over
// every event.
//
//   class MyService : public v1::Foo::CallbackService {
//     MyService() { SetMessageAllocatorFor_Bar(&bar_allocator_); }
//     server::ArenaRequestAllocator<v1::BarRequest, v1::BarResponse>
//         bar_allocator_;
//   };
//
// The allocator must outlive the calls, so it is a member of the service.
// The response stays on the heap: handlers move heap-built messages into it,
// which is a cheap swap only between messages on the same (here: no) arena.
// The request belongs to the call and lives until the reactor is done, so a
// handler may modify it in place (see MutableRequest in ingestion_service.cc).
#ifndef OMNICX_LIBS_SERVER_ARENA_ALLOCATOR_H_
#define OMNICX_LIBS_SERVER_ARENA_ALLOCATOR_H_

#include "google/protobuf/arena.h"
#include "grpcpp/support/message_allocator.h"

namespace omnicx::server {

template <typename Request, typename Response>
class ArenaRequestAllocator final
    : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override {
    return new Holder();
  }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    Holder() : arena_(Options()) {
      this->set_request(
          google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(&response_);
    }
    void Release() override { delete this; }

   private:
    static google::protobuf::ArenaOptions Options() {
      google::protobuf::ArenaOptions options;
      options.start_block_size = 16 << 10;
      options.max_block_size = 256 << 10;
      return options;
    }

    google::protobuf::Arena arena_;
    Response response_;
  };
};

}  // namespace omnicx::server

#endif  // OMNICX_LIBS_SERVER_ARENA_ALLOCATOR_H_
