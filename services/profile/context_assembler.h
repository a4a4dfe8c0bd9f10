// GetCustomerContext: everything an agent needs while the phone rings, in
// one call that never fails whole because one part is slow or down.
//
//   ContextAssembler assembler(store, journey_channel, recommendation_channel,
//                              options);
//   assembler.Assemble(request, [](absl::StatusOr<CustomerContext> c) {...});
//
// The context makes one internal call. With recommendations it is
// RecommendationService.DecideForContext, which gets what was read here of
// the profile (id, granted consents, lifetime value; the recommendation
// service does not read the profile again, and checks consent against the
// stored consents when it reserves) and answers with the decision and the
// journey it read for it; without recommendations, or if that call fails,
// JourneyService.GetJourney. Each is under its own deadline (clipped to
// what is left of the whole call's budget); the profile and recent timeline
// are read from Redis in one round trip. Whatever is missing
// comes back with a SectionStatus saying why (UNAVAILABLE, DEADLINE_EXCEEDED,
// UNIMPLEMENTED, ...). A complete answer is cached for a short TTL, written
// just after the answer goes out, under the customer's context version read
// before its parts (ProfileStore::ContextReads); it is served only while
// that version is current, so any change the context shows (an event,
// consent, traits, a link, a merge, the journey) makes the next call fresh,
// and a cache write racing such a change writes nothing.
#ifndef OMNICX_SERVICES_PROFILE_CONTEXT_ASSEMBLER_H_
#define OMNICX_SERVICES_PROFILE_CONTEXT_ASSEMBLER_H_

#include <atomic>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "libs/auth/authenticator.h"
#include "libs/server/blocking_executor.h"
#include "libs/server/concurrency_limiter.h"
#include "omnicx/v1/journey.grpc.pb.h"
#include "omnicx/v1/profile.pb.h"
#include "omnicx/v1/recommendation.grpc.pb.h"
#include "services/profile/profile_store.h"

namespace omnicx::profile {

struct ContextOptions {
  absl::Duration journey_timeout = absl::Milliseconds(50);
  absl::Duration recommendation_timeout = absl::Milliseconds(50);
  absl::Duration total_timeout = absl::Milliseconds(150);
  absl::Duration cache_ttl = absl::Seconds(2);
  int default_timeline_limit = 20;
  int max_timeline_limit = 200;
  // The most calls assembled at once. Below it the limit adapts to the
  // latency measured (libs/server/concurrency_limiter.h); a call beyond the
  // limit is refused at once with RESOURCE_EXHAUSTED and a retry hint, so an
  // overloaded service answers the calls it admits at about their unloaded
  // latency instead of queueing every caller past its deadline.
  int max_in_flight = 64;
  // Where the Redis reads and the cache write run, off the gRPC callback
  // threads; null runs them on the calling thread (tests).
  server::BlockingExecutor* redis_work = nullptr;
};

class ContextAssembler {
 public:
  using Done =
      std::function<void(absl::StatusOr<omnicx::v1::CustomerContext> result)>;

  // The calls to journey and recommendation carry `credential` (the
  // profile service's own) and the agent's name.
  ContextAssembler(ProfileStore& store, std::shared_ptr<grpc::Channel> journey,
                   std::shared_ptr<grpc::Channel> recommendation,
                   ContextOptions options,
                   auth::ServiceCredential credential = {});
  // Waits until every call it started has released its state: cache
  // writes still running after their answers went out, and each call's
  // ClientContexts, which hold references to the channels. Those then go
  // with the stubs on this thread, never on a gRPC callback thread (see
  // the .cc: gRPC 1.51 aborts when the last user of its callback threads
  // is released on one of them).
  ~ContextAssembler();

  // Calls `done` exactly once, from this thread or a gRPC client thread.
  // Fails whole only for a bad request, an unknown customer, or Redis being
  // unavailable for the profile itself.
  // `caller` names the agent for the internal calls' audit.
  void Assemble(const omnicx::v1::GetCustomerContextRequest& request, Done done,
                absl::string_view caller = "");

 private:
  // Assemble after the in-flight check, on the thread that does the Redis
  // work.
  void AssembleNow(const omnicx::v1::GetCustomerContextRequest& request,
                   Done done, absl::string_view caller, absl::Time start);

  ProfileStore& store_;
  std::unique_ptr<omnicx::v1::JourneyService::Stub> journey_;
  std::unique_ptr<omnicx::v1::RecommendationService::Stub> recommendation_;
  ContextOptions options_;
  const auth::ServiceCredential credential_;
  server::ConcurrencyLimiter limiter_;
  // Calls whose state (answer parts, ClientContexts, cache write) is still
  // alive, on whatever thread; the destructor waits for none.
  absl::Mutex calls_mu_;
  int live_calls_ ABSL_GUARDED_BY(calls_mu_) = 0;
};

}  // namespace omnicx::profile

#endif  // OMNICX_SERVICES_PROFILE_CONTEXT_ASSEMBLER_H_
