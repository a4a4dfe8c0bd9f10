// Recommend and RecordOutcome end to end, without the gRPC server types:
// reads the customer's profile and journey state from Redis in one round
// trip (customer_reader.h), arbitrates over the current catalog and
// statistics, reserves contact-policy slots atomically in Redis (consent
// checked there), and explains the result; feeds outcomes back.
//
//   Recommender recommender(store, watcher, reader, timer, registry, options);
//   recommender.Recommend(request, caller_deadline,
//                         [](absl::StatusOr<RecommendResponse> r) {...});
//
// Never hangs: each call has a budget (setting recommend_budget, clipped to
// the caller's deadline); if no decision is made by then — Redis is slow,
// or the customer cannot be resolved — the answer is the catalog's
// fallback actions that need no consent, marked fallback, with sections
// saying why. Without the journey the decision is made on rules without
// journey features, and the journey section says so. Requests must have
// been validated (request_validation.h).
#ifndef OMNICX_SERVICES_RECOMMENDATION_RECOMMENDER_H_
#define OMNICX_SERVICES_RECOMMENDATION_RECOMMENDER_H_

#include <functional>
#include <memory>
#include <random>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/metrics/registry.h"
#include "libs/server/blocking_executor.h"
#include "libs/server/concurrency_limiter.h"
#include "omnicx/v1/recommendation.pb.h"
#include "services/recommendation/arbiter.h"
#include "services/recommendation/catalog_watcher.h"
#include "services/recommendation/customer_features.h"
#include "services/recommendation/customer_reader.h"
#include "services/recommendation/deadline_timer.h"
#include "services/recommendation/recommendation_store.h"

namespace omnicx::recommendation {

struct RecommenderOptions {
  absl::Duration budget = absl::Milliseconds(100);
  int default_max_actions = 3;
  ArbitrationOptions arbitration;
  FeatureOptions features;
  // Thompson-sampling seed; 0 = random.
  uint64_t seed = 0;
  // Business time (caps, windows, severe-experience recency); injectable.
  std::function<absl::Time()> clock = absl::Now;
  // Where a decision's reads and reservation and an outcome's Redis script
  // run, off the gRPC callback threads; null runs them on the calling
  // thread (tests).
  server::BlockingExecutor* redis_work = nullptr;
  // The most decisions (Recommend and DecideForContext) made at once. Below
  // it the limit adapts to the latency measured
  // (libs/server/concurrency_limiter.h); a call beyond the limit is
  // answered at once with the fallback, its decision section
  // RESOURCE_EXHAUSTED.
  int max_in_flight = 64;
};

class Recommender {
 public:
  using RecommendDone =
      std::function<void(absl::StatusOr<omnicx::v1::RecommendResponse>)>;
  using ContextDone =
      std::function<void(absl::StatusOr<omnicx::v1::DecideForContextResponse>)>;
  using OutcomeDone =
      std::function<void(absl::StatusOr<omnicx::v1::RecordOutcomeResponse>)>;

  Recommender(RecommendationStore& store, CatalogWatcher& watcher,
              CustomerReader& reader, DeadlineTimer& timer,
              metrics::Registry& registry, RecommenderOptions options);
  // Waits (up to 5 s) until no queued work of an earlier call can still
  // run: destroy the DeadlineTimer first, then this.
  ~Recommender();

  // `deadline` is the caller's (absl::InfiniteFuture() when none). `done`
  // runs exactly once, on this or another thread.
  void Recommend(const omnicx::v1::RecommendRequest& request,
                 absl::Time deadline, RecommendDone done);

  // A decision for the profile service's agent context: the profile comes
  // with the request (the caller is trusted to have read it; its consents
  // only order the candidates, the reservation checks the stored consent),
  // only the journey is read, and it is returned with the decision.
  // Requests must have been validated (ValidateDecideForContext).
  void DecideForContext(const omnicx::v1::DecideForContextRequest& request,
                        absl::Time deadline, ContextDone done);

  // NOT_FOUND for an unknown or expired decision, or one that did not
  // recommend the action; UNAVAILABLE when the customer cannot be resolved.
  void RecordOutcome(const omnicx::v1::RecordOutcomeRequest& request,
                     absl::Time deadline, OutcomeDone done);

 private:
  struct Call;
  // Starts the budget watchdog of a call whose request and start are set.
  void StartBudget(const std::shared_ptr<Call>& call, absl::Time deadline);
  // Admits a new call (its start set), or answers it with the fallback at
  // once when the concurrency limit is reached: false.
  bool Admit(const std::shared_ptr<Call>& call);
  // Reads the customer (Recommend) or the journey (DecideForContext), then
  // decides.
  void ReadAndDecide(const std::shared_ptr<Call>& call, bool context);
  void Decide(const std::shared_ptr<Call>& call);
  // `work` on options_.redis_work (the fallback when its queue is full).
  void OffThread(const std::shared_ptr<Call>& call, std::function<void()> work);
  void Fallback(const std::shared_ptr<Call>& call, absl::StatusCode code,
                const std::string& why);
  void Finish(const std::shared_ptr<Call>& call,
              omnicx::v1::RecommendResponse response, bool fallback);
  uint64_t NextSeed();
  // Held by everything a call leaves behind (queued work, the watchdog);
  // the destructor waits for the last one.
  std::shared_ptr<void> InFlight();

  RecommendationStore& store_;
  CatalogWatcher& watcher_;
  CustomerReader& reader_;
  DeadlineTimer& timer_;
  const RecommenderOptions options_;

  absl::Mutex in_flight_mu_;
  int in_flight_ ABSL_GUARDED_BY(in_flight_mu_) = 0;

  server::ConcurrencyLimiter limiter_;

  absl::Mutex rng_mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(rng_mu_);

  metrics::CounterFamily& decisions_;
  metrics::CounterFamily& suppressions_;
  metrics::CounterFamily& outcomes_;
  metrics::CounterFamily& fallbacks_;
  metrics::CounterFamily& inputs_status_;
};

}  // namespace omnicx::recommendation

#endif  // OMNICX_SERVICES_RECOMMENDATION_RECOMMENDER_H_
