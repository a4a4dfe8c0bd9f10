// The decision's inputs from the other services: ProfileService.GetProfile
// (canonical id, consents, lifetime value) and JourneyService.GetJourney
// (stage, health, churn risk, open cases, drivers, segments), each under its
// own deadline, with a short local cache of successful answers.
//
//   InputFetcher inputs(profile_channel, journey_channel, options);
//   inputs.GetProfile(ref, deadline, [](absl::StatusOr<Profile> p) {...});
//   inputs.GetJourney(customer_id, deadline, [](auto j) {...});
//
// `done` runs exactly once: at once on a cache hit, else on a gRPC client
// thread. Errors keep their gRPC code (UNAVAILABLE, DEADLINE_EXCEEDED,
// NOT_FOUND, ...). A cached profile only ranks: consent is checked against
// the stored consents when a decision reserves (reserve_actions.lua).
// Cache expiry runs on `clock` (tests pass a time::SimulatedClock); the
// gRPC call deadlines are real time.
#ifndef OMNICX_SERVICES_RECOMMENDATION_INPUT_FETCHER_H_
#define OMNICX_SERVICES_RECOMMENDATION_INPUT_FETCHER_H_

#include <functional>
#include <list>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "libs/auth/authenticator.h"
#include "libs/time/clock.h"
#include "omnicx/v1/journey.grpc.pb.h"
#include "omnicx/v1/profile.grpc.pb.h"

namespace omnicx::recommendation {

struct InputOptions {
  absl::Duration profile_timeout = absl::Milliseconds(40);
  absl::Duration journey_timeout = absl::Milliseconds(40);
  // 0 disables the cache.
  absl::Duration cache_ttl = absl::Seconds(1);
  // Each cache holds at most this many entries; a new one then evicts the
  // least recently used.
  size_t max_cache_entries = 200000;
};

class InputFetcher {
 public:
  using ProfileDone =
      std::function<void(absl::StatusOr<omnicx::v1::Profile> profile)>;
  using JourneyDone =
      std::function<void(absl::StatusOr<omnicx::v1::JourneySummary> journey)>;

  // Calls carry `credential` (the recommendation service's own).
  InputFetcher(std::shared_ptr<grpc::Channel> profile,
               std::shared_ptr<grpc::Channel> journey, InputOptions options,
               auth::ServiceCredential credential = {},
               time::Clock& clock = time::RealClock());

  // The call's deadline is min(now + timeout, `deadline`); `caller` names
  // the original caller for the peer's audit.
  void GetProfile(const omnicx::v1::CustomerRef& customer, absl::Time deadline,
                  ProfileDone done, absl::string_view caller = "");
  void GetJourney(const std::string& customer_id, absl::Time deadline,
                  JourneyDone done, absl::string_view caller = "");

 private:
  template <typename T>
  struct Cache {
    struct Entry {
      absl::Time expires;
      T value;
      std::list<std::string>::iterator use;  // its place in `uses`
    };
    absl::Mutex mu;
    // Keys, most recently used first.
    std::list<std::string> uses ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string, Entry> entries ABSL_GUARDED_BY(mu);
  };
  template <typename T>
  bool Lookup(Cache<T>& cache, const std::string& key, T* out);
  template <typename T>
  void Store(Cache<T>& cache, const std::string& key, const T& value);

  std::unique_ptr<omnicx::v1::ProfileService::Stub> profile_;
  std::unique_ptr<omnicx::v1::JourneyService::Stub> journey_;
  const InputOptions options_;
  const auth::ServiceCredential credential_;
  time::Clock& clock_;
  Cache<omnicx::v1::Profile> profiles_;
  Cache<omnicx::v1::JourneySummary> journeys_;
};

}  // namespace omnicx::recommendation

#endif  // OMNICX_SERVICES_RECOMMENDATION_INPUT_FETCHER_H_
