#include "services/profile/context_assembler.h"

#include <atomic>
#include <functional>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "libs/identity/read_mask.h"
#include "libs/status/error_details.h"
#include "libs/time/proto_time.h"

namespace omnicx::profile {
namespace {

using omnicx::v1::CustomerContext;
using omnicx::v1::SectionStatus;

SectionStatus Section(const std::string& name, const absl::Status& status,
                      absl::Duration latency) {
  SectionStatus s;
  s.set_section(name);
  s.set_code(static_cast<int>(status.code()));
  // No Redis address, Redis error text or peer address reaches the agent.
  s.set_message(status::CallerMessage(status));
  *s.mutable_latency() = time::ToProto(latency);
  return s;
}

// One call in flight: the two remote answers and the local parts meet here;
// whoever finishes last completes it.
//
// Its last reference usually goes on a gRPC callback thread, and with it
// the ClientContexts, each holding a reference to its grpc::Channel. gRPC
// 1.51 (epoll1 poller) runs every callback-API completion on a few
// "nexting" threads shared by all channels and servers of the process; the
// last Channel or Server to let go of them shuts them down and joins them.
// Done on one of those threads, the join of itself fails silently, the
// completion queue is freed under it, and it aborts in
// grpc_completion_queue_next ("grpc_cq_internal_unref ... prior > 0";
// grpc/grpc#32584, #37858). So the assembler, which holds the channels
// through its stubs, waits until every Pending is gone (`released` runs
// after every other member, ClientContexts included) before it lets go of
// them on its own thread.
struct Pending {
  // Destroyed last (members go in reverse order).
  struct OnRelease {
    std::function<void()> run;
    ~OnRelease() {
      if (run) run();
    }
  } released;
  CustomerContext context;
  std::string customer_id;
  std::string signature;
  std::string version;  // the context version read before the parts
  absl::Time start;
  bool cacheable = true;
  std::atomic<int> outstanding{0};
  ContextAssembler::Done done;

  grpc::ClientContext journey_call;
  omnicx::v1::GetJourneyRequest journey_request;
  omnicx::v1::GetJourneyResponse journey_response;
  grpc::ClientContext decide_call;
  omnicx::v1::DecideForContextRequest decide_request;
  omnicx::v1::DecideForContextResponse decide_response;
  absl::Mutex mu;  // guards context.sections appends from callbacks
};

}  // namespace

ContextAssembler::ContextAssembler(
    ProfileStore& store, std::shared_ptr<grpc::Channel> journey,
    std::shared_ptr<grpc::Channel> recommendation, ContextOptions options,
    auth::ServiceCredential credential)
    : store_(store),
      journey_(omnicx::v1::JourneyService::NewStub(journey)),
      recommendation_(
          omnicx::v1::RecommendationService::NewStub(recommendation)),
      options_(options),
      credential_(std::move(credential)),
      limiter_([&options] {
        server::ConcurrencyLimiterOptions o;
        o.max_limit = std::max(1, options.max_in_flight);
        o.min_limit = std::min(o.min_limit, o.max_limit);
        return o;
      }()) {}

ContextAssembler::~ContextAssembler() {
  absl::MutexLock lock(&calls_mu_);
  calls_mu_.Await(absl::Condition(
      +[](int* calls) { return *calls == 0; }, &live_calls_));
}

void ContextAssembler::Assemble(
    const omnicx::v1::GetCustomerContextRequest& request, Done done,
    absl::string_view caller) {
  const std::optional<absl::Time> admitted = limiter_.TryAcquire();
  if (!admitted.has_value()) {
    done(status::WithRetryDelay(
        absl::ResourceExhaustedError(absl::StrCat(
            "the profile service is assembling as many customer contexts as "
            "it can answer in time (",
            limiter_.limit(), " at once); retry shortly")),
        absl::Milliseconds(100)));
    return;
  }
  const absl::Time start = *admitted;
  // Every answer, fresh or cached, leaves with identity values masked
  // (libs/identity/read_mask.h); the cache keeps what was assembled.
  done = [this, start,
          done = std::move(done)](absl::StatusOr<CustomerContext> result) {
    limiter_.Release(start);
    if (result.ok()) identity::MaskContextForRead(&*result);
    done(std::move(result));
  };
  if (options_.redis_work == nullptr) {
    AssembleNow(request, std::move(done), caller, start);
    return;
  }
  // The Redis reads and the cache write block: they run on the executor's
  // threads, not on this gRPC callback thread.
  auto shared_done = std::make_shared<Done>(std::move(done));
  if (!options_.redis_work->Submit(
          [this, request, shared_done, caller = std::string(caller), start] {
            AssembleNow(request, std::move(*shared_done), caller, start);
          })) {
    (*shared_done)(status::WithRetryDelay(
        absl::ResourceExhaustedError(
            "the profile service has too much Redis work queued; retry "
            "shortly"),
        absl::Milliseconds(100)));
  }
}

void ContextAssembler::AssembleNow(
    const omnicx::v1::GetCustomerContextRequest& request, Done done,
    absl::string_view caller, absl::Time start) {
  if (request.timeline_limit() < 0 ||
      request.timeline_limit() > options_.max_timeline_limit) {
    done(status::InvalidArgumentError(
        "invalid timeline limit",
        {{"timeline_limit", absl::StrCat("must be between 0 and ",
                                         options_.max_timeline_limit)}}));
    return;
  }
  if (request.customer().ref_case() == omnicx::v1::CustomerRef::REF_NOT_SET) {
    done(status::InvalidArgumentError(
        "customer is required",
        {{"customer", "set customer_id, anonymous_id or identity"}}));
    return;
  }
  const int limit = request.timeline_limit() == 0
                        ? options_.default_timeline_limit
                        : request.timeline_limit();
  const std::string signature =
      absl::StrCat(limit, "|", request.channel(), "|",
                   request.include_recommendations() ? 1 : 0);
  // One round trip after the identity's owner is found reads the redirect,
  // the cached context with the current context version, the profile and
  // the recent timeline together (a cache hit wastes the last two, which
  // are cheap). The version is read first: what follows is never older.
  ProfileStore::TimelineRead timeline;
  redis::PipelineReplies reads;
  absl::StatusOr<std::string> cid = store_.directory().Lookup(
      request.customer(),
      [&](const std::string& id) {
        timeline =
            *store_.PlanTimeline(id, limit, "", {}, std::nullopt, std::nullopt);
        std::vector<redis::Command> c = store_.ContextReads(id, signature);
        for (redis::Command& r : store_.ProfileReads(id))
          c.push_back(std::move(r));
        c.push_back(timeline.command);
        return c;
      },
      &reads);
  if (absl::IsInvalidArgument(cid.status())) {
    done(status::InvalidArgumentError(
        "invalid customer reference",
        {{request.customer().has_identity() ? "customer.identity.value"
                                            : "customer",
          std::string(cid.status().message())}}));
    return;
  }
  if (!cid.ok()) {
    done(cid.status());
    return;
  }
  constexpr size_t kProfileAt = ProfileStore::kContextReads;
  constexpr size_t kTimelineAt = kProfileAt + ProfileStore::kProfileReads;
  if (reads.size() != kTimelineAt + 1) {
    done(absl::InternalError("context reads are missing replies"));
    return;
  }
  // A cached context of the current version is served; without a version
  // (its reads failed) the context is assembled and not cached.
  absl::StatusOr<ProfileStore::ContextRead> cached =
      ProfileStore::ParseContextRead(reads, 0);
  if (cached.ok() && cached->cached.has_value()) {
    CustomerContext context;
    if (context.ParseFromString(*cached->cached)) {
      done(std::move(context));
      return;
    }
  }

  auto pending = std::make_shared<Pending>();
  {
    absl::MutexLock lock(&calls_mu_);
    ++live_calls_;
  }
  pending->released.run = [this] {
    absl::MutexLock lock(&calls_mu_);
    --live_calls_;
  };
  pending->customer_id = *cid;
  pending->signature = signature;
  if (cached.ok()) {
    pending->version = std::move(cached->version);
  } else {
    pending->cacheable = false;
  }
  pending->start = start;
  pending->done = std::move(done);
  pending->outstanding = 2;  // the local parts, the remote ones
  credential_.Attach(&pending->journey_call, caller);
  credential_.Attach(&pending->decide_call, caller);
  const absl::Time deadline = start + options_.total_timeout;

  // Answers first and caches after: the agent does not wait for the cache
  // write (one Redis round trip). The write holds `pending`, so the
  // assembler outlives it.
  auto finish = [this, pending] {
    if (pending->outstanding.fetch_sub(1) != 1) return;
    const bool cache = pending->cacheable;
    std::string serialized;
    if (cache) serialized = pending->context.SerializeAsString();
    pending->done(std::move(pending->context));
    if (!cache) return;
    auto write = [this, pending, serialized = std::move(serialized)] {
      (void)store_.CacheContext(pending->customer_id, pending->signature,
                                pending->version, serialized,
                                options_.cache_ttl);
    };
    // Off the gRPC callback thread this may run on; a full queue skips the
    // write (the next call assembles afresh).
    if (options_.redis_work == nullptr) {
      write();
    } else {
      (void)options_.redis_work->Submit(std::move(write));
    }
  };

  // The journey alone: when no decision is asked for, or the decision (which
  // brings the journey with it) failed.
  auto fetch_journey = [this, pending, finish, deadline] {
    pending->journey_request.mutable_customer()->set_customer_id(
        pending->customer_id);
    pending->journey_call.set_deadline(absl::ToChronoTime(
        std::min(absl::Now() + options_.journey_timeout, deadline)));
    journey_->async()->GetJourney(
        &pending->journey_call, &pending->journey_request,
        &pending->journey_response, [pending, finish](grpc::Status s) {
          {
            absl::MutexLock lock(&pending->mu);
            const absl::Status status = status::FromGrpcStatus(s);
            *pending->context.add_sections() =
                Section("journey", status, absl::Now() - pending->start);
            if (s.ok()) {
              *pending->context.mutable_journey() =
                  std::move(*pending->journey_response.mutable_journey());
            } else {
              pending->cacheable = false;
            }
          }
          finish();
        });
  };

  // Local parts, read above: profile and recent timeline. The profile goes
  // with the decision, so it is parsed before the remote part starts.
  absl::StatusOr<omnicx::v1::Profile> profile =
      store_.ParseProfile(*cid, reads, kProfileAt);

  // Remote part: one call. With recommendations, DecideForContext gets what
  // was read of the profile and answers with the journey it used; without,
  // or without a profile to hand over, GetJourney.
  if (request.include_recommendations() && profile.ok()) {
    auto& dr = pending->decide_request;
    auto& rr = *dr.mutable_request();
    rr.mutable_customer()->set_customer_id(*cid);
    rr.set_channel(request.channel());
    rr.set_max_actions(3);
    rr.set_intent("agent_console");
    omnicx::v1::ContextProfile& cp = *dr.mutable_profile();
    cp.set_customer_id(*cid);
    cp.set_lifetime_value(profile->lifetime_value());
    for (const omnicx::v1::Consent& c : profile->consents()) {
      if (c.granted()) cp.add_consented_purposes(c.purpose());
    }
    pending->decide_call.set_deadline(absl::ToChronoTime(
        std::min(start + options_.recommendation_timeout, deadline)));
    recommendation_->async()->DecideForContext(
        &pending->decide_call, &pending->decide_request,
        &pending->decide_response,
        [pending, finish, fetch_journey](grpc::Status s) {
          {
            absl::MutexLock lock(&pending->mu);
            const absl::Status status = status::FromGrpcStatus(s);
            *pending->context.add_sections() = Section(
                "recommendations", status, absl::Now() - pending->start);
            if (!s.ok()) {
              pending->cacheable = false;
            } else {
              omnicx::v1::DecideForContextResponse& r =
                  pending->decide_response;
              for (auto& a : *r.mutable_decision()->mutable_actions()) {
                *pending->context.add_next_best_actions() = std::move(a);
              }
              pending->context.set_decision_id(r.decision().decision_id());
              omnicx::v1::SectionStatus journey = r.journey_section();
              journey.set_section("journey");
              if (journey.code() == 0 && r.has_journey()) {
                *pending->context.mutable_journey() =
                    std::move(*r.mutable_journey());
              } else {
                if (journey.code() == 0) {
                  journey.set_code(
                      static_cast<int>(absl::StatusCode::kUnknown));
                }
                pending->cacheable = false;
              }
              *pending->context.add_sections() = std::move(journey);
            }
          }
          if (s.ok()) {
            finish();
          } else {
            fetch_journey();  // calls finish
          }
        });
  } else {
    if (request.include_recommendations()) {
      absl::MutexLock lock(&pending->mu);
      *pending->context.add_sections() =
          Section("recommendations",
                  absl::FailedPreconditionError(
                      "not requested: the profile could not be read"),
                  absl::ZeroDuration());
    }
    fetch_journey();
  }

  absl::StatusOr<TimelinePage> recent =
      !profile.ok() ? absl::StatusOr<TimelinePage>(profile.status())
      : !reads[kTimelineAt].ok()
          ? absl::StatusOr<TimelinePage>(reads[kTimelineAt].status())
          : ProfileStore::ParseTimeline(timeline, *reads[kTimelineAt]);
  {
    absl::MutexLock lock(&pending->mu);
    const absl::Duration local = absl::Now() - start;
    *pending->context.add_sections() =
        Section("profile", profile.status(), local);
    *pending->context.add_sections() =
        Section("timeline", recent.status(), local);
    if (profile.ok()) {
      *pending->context.mutable_profile() = std::move(*profile);
    } else {
      pending->cacheable = false;
    }
    if (recent.ok()) {
      for (auto& e : recent->interactions) {
        *pending->context.add_recent() = std::move(e);
      }
    }
  }
  finish();
}

}  // namespace omnicx::profile
