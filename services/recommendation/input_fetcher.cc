#include "services/recommendation/input_fetcher.h"

#include <algorithm>

#include "libs/status/error_details.h"

namespace omnicx::recommendation {
namespace {

template <typename Request, typename Response>
struct Call {
  grpc::ClientContext context;
  Request request;
  Response response;
};

}  // namespace

InputFetcher::InputFetcher(std::shared_ptr<grpc::Channel> profile,
                           std::shared_ptr<grpc::Channel> journey,
                           InputOptions options,
                           auth::ServiceCredential credential,
                           time::Clock& clock)
    : profile_(omnicx::v1::ProfileService::NewStub(profile)),
      journey_(omnicx::v1::JourneyService::NewStub(journey)),
      options_(options),
      credential_(std::move(credential)),
      clock_(clock) {}

template <typename T>
bool InputFetcher::Lookup(Cache<T>& cache, const std::string& key, T* out) {
  if (options_.cache_ttl <= absl::ZeroDuration()) return false;
  absl::MutexLock lock(&cache.mu);
  auto it = cache.entries.find(key);
  if (it == cache.entries.end()) return false;
  if (it->second.expires < clock_.Now()) {
    cache.uses.erase(it->second.use);
    cache.entries.erase(it);
    return false;
  }
  cache.uses.splice(cache.uses.begin(), cache.uses, it->second.use);
  *out = it->second.value;
  return true;
}

template <typename T>
void InputFetcher::Store(Cache<T>& cache, const std::string& key,
                         const T& value) {
  if (options_.cache_ttl <= absl::ZeroDuration()) return;
  const absl::Time expires = clock_.Now() + options_.cache_ttl;
  absl::MutexLock lock(&cache.mu);
  auto it = cache.entries.find(key);
  if (it != cache.entries.end()) {
    it->second.expires = expires;
    it->second.value = value;
    cache.uses.splice(cache.uses.begin(), cache.uses, it->second.use);
    return;
  }
  while (!cache.uses.empty() &&
         cache.entries.size() >=
             std::max<size_t>(1, options_.max_cache_entries)) {
    cache.entries.erase(cache.uses.back());
    cache.uses.pop_back();
  }
  cache.uses.push_front(key);
  cache.entries.emplace(
      key, typename Cache<T>::Entry{expires, value, cache.uses.begin()});
}

void InputFetcher::GetProfile(const omnicx::v1::CustomerRef& customer,
                              absl::Time deadline, ProfileDone done,
                              absl::string_view caller) {
  const std::string key = customer.SerializeAsString();
  omnicx::v1::Profile cached;
  if (Lookup(profiles_, key, &cached)) {
    done(std::move(cached));
    return;
  }
  using ProfileCall =
      Call<omnicx::v1::GetProfileRequest, omnicx::v1::GetProfileResponse>;
  auto* call = new ProfileCall;
  credential_.Attach(&call->context, caller);
  *call->request.mutable_customer() = customer;
  call->context.set_deadline(absl::ToChronoTime(
      std::min(absl::Now() + options_.profile_timeout, deadline)));
  profile_->async()->GetProfile(
      &call->context, &call->request, &call->response,
      [this, call, key, done = std::move(done)](grpc::Status s) {
        std::unique_ptr<ProfileCall> owned(call);
        if (!s.ok()) {
          done(status::FromGrpcStatus(s));
          return;
        }
        Store(profiles_, key, call->response.profile());
        done(std::move(*call->response.mutable_profile()));
      });
}

void InputFetcher::GetJourney(const std::string& customer_id,
                              absl::Time deadline, JourneyDone done,
                              absl::string_view caller) {
  omnicx::v1::JourneySummary cached;
  if (Lookup(journeys_, customer_id, &cached)) {
    done(std::move(cached));
    return;
  }
  using JourneyCall =
      Call<omnicx::v1::GetJourneyRequest, omnicx::v1::GetJourneyResponse>;
  auto* call = new JourneyCall;
  credential_.Attach(&call->context, caller);
  call->request.mutable_customer()->set_customer_id(customer_id);
  call->context.set_deadline(absl::ToChronoTime(
      std::min(absl::Now() + options_.journey_timeout, deadline)));
  journey_->async()->GetJourney(
      &call->context, &call->request, &call->response,
      [this, call, customer_id, done = std::move(done)](grpc::Status s) {
        std::unique_ptr<JourneyCall> owned(call);
        if (!s.ok()) {
          done(status::FromGrpcStatus(s));
          return;
        }
        Store(journeys_, customer_id, call->response.journey());
        done(std::move(*call->response.mutable_journey()));
      });
}

}  // namespace omnicx::recommendation
