// What a decision knows about its customer, read straight from the profile's
// and the journey's keys in Redis (no call to those services): the customer
// a reference names (merge redirects followed, libs/identity/directory.h),
// their profile (lifetime value, consents, merged ids) and their journey
// summary (stage, health, churn risk, cases, drivers, segments), decoded by
// the same code the profile and journey services use
// (services/profile/profile_decode.h, services/journey/journey_reader.h) and
// derived with the journey model the journey service runs (setting
// weights_file).
//
//   RedisCustomerReader reader(redis, keys, identity_secret, journeys, clock);
//   absl::StatusOr<CustomerInputs> in = reader.Read(ref, /*journey=*/true);
//
// A customer's keys share one hash slot, so resolving the customer id and
// reading both states is one pipelined round trip (one more per merge
// redirect, and for a reference by identity the index lookup). Blocking:
// call it off the gRPC callback threads. What it reads only ranks: consent
// is checked again against the stored consents in the reservation script
// (reserve_actions.lua), so a stale read never delivers an unconsented
// action.
#ifndef OMNICX_SERVICES_RECOMMENDATION_CUSTOMER_READER_H_
#define OMNICX_SERVICES_RECOMMENDATION_CUSTOMER_READER_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/identity/directory.h"
#include "libs/keys/key_builder.h"
#include "libs/redis/client.h"
#include "omnicx/v1/common.pb.h"
#include "omnicx/v1/journey.pb.h"
#include "omnicx/v1/profile.pb.h"
#include "services/journey/journey_reader.h"

namespace omnicx::recommendation {

struct CustomerInputs {
  // The live customer (a merged-away id redirects to the survivor), or the
  // id as given when nobody is known by it (the reservation then finds
  // whether it was erased).
  std::string customer_id;
  // customer_id, lifetime value and the other counters, consents, merged
  // ids (no identities or traits); NotFound for an unknown or erased id.
  absl::StatusOr<omnicx::v1::Profile> profile =
      absl::NotFoundError("no such customer");
  // What GetJourney would answer (the neutral journey of a known customer
  // with no touchpoints yet); FailedPrecondition when not asked for,
  // NotFound for an unknown customer.
  absl::StatusOr<omnicx::v1::JourneySummary> journey =
      absl::FailedPreconditionError("not requested");
};

// An interface so tests can stand in for Redis.
class CustomerReader {
 public:
  virtual ~CustomerReader() = default;
  // The customer `ref` names, and their profile and (when `journey`) their
  // journey. NotFound when a reference other than a customer id names
  // nobody; InvalidArgument for an identity that does not normalise;
  // Unavailable and the like from Redis.
  virtual absl::StatusOr<CustomerInputs> Read(
      const omnicx::v1::CustomerRef& ref, bool journey) = 0;
  // The journey of a live customer id (the profile service resolved it).
  virtual absl::StatusOr<omnicx::v1::JourneySummary> ReadJourney(
      const std::string& customer_id) = 0;
};

class RedisCustomerReader final : public CustomerReader {
 public:
  // `identity_secret` keys the identity index (the profile's and journey's
  // setting of the same name); `clock` dates the journey summary.
  RedisCustomerReader(redis::Client& redis, const keys::KeyBuilder& keys,
                      std::string identity_secret,
                      journey::JourneyReader& journeys,
                      std::function<absl::Time()> clock = absl::Now);

  absl::StatusOr<CustomerInputs> Read(const omnicx::v1::CustomerRef& ref,
                                      bool journey) override;
  absl::StatusOr<omnicx::v1::JourneySummary> ReadJourney(
      const std::string& customer_id) override;

 private:
  redis::Client& redis_;
  const keys::KeyBuilder& keys_;
  identity::CustomerDirectory directory_;
  journey::JourneyReader& journeys_;
  std::function<absl::Time()> clock_;
};

}  // namespace omnicx::recommendation

#endif  // OMNICX_SERVICES_RECOMMENDATION_CUSTOMER_READER_H_
