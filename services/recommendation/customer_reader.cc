#include "services/recommendation/customer_reader.h"

#include <utility>
#include <vector>

#include "libs/status/status_macros.h"
#include "services/profile/profile_decode.h"

namespace omnicx::recommendation {

RedisCustomerReader::RedisCustomerReader(redis::Client& redis,
                                         const keys::KeyBuilder& keys,
                                         std::string identity_secret,
                                         journey::JourneyReader& journeys,
                                         std::function<absl::Time()> clock)
    : redis_(redis),
      keys_(keys),
      directory_(redis, keys, std::move(identity_secret)),
      journeys_(journeys),
      clock_(std::move(clock)) {}

absl::StatusOr<CustomerInputs> RedisCustomerReader::Read(
    const omnicx::v1::CustomerRef& ref, bool journey) {
  // Read with the last redirect check, in the customer's slot:
  // [0] profile hash, [1] consents, [2] merged ids, then the journey's reads.
  auto also = [this, journey](const std::string& cid) {
    std::vector<redis::Command> reads = {{"HGETALL", keys_.Profile(cid)},
                                         {"HGETALL", keys_.Consents(cid)},
                                         {"SMEMBERS", keys_.MergedIds(cid)}};
    if (journey) {
      for (redis::Command& c : journeys_.LoadCommands(cid)) {
        reads.push_back(std::move(c));
      }
    }
    return reads;
  };
  redis::PipelineReplies r;
  absl::StatusOr<std::string> cid = directory_.Lookup(ref, also, &r);
  CustomerInputs in;
  if (absl::IsNotFound(cid.status()) && ref.has_customer_id()) {
    // Nobody by that id (never seen, or erased): decided without a profile
    // or journey under the id given; the reservation refuses an erased one.
    in.customer_id = ref.customer_id();
    if (journey) in.journey = absl::NotFoundError("no such customer");
    return in;
  }
  if (!cid.ok()) return cid.status();
  in.customer_id = *cid;
  if (r.size() != 3 + (journey ? journey::JourneyReader::kLoadCommands : 0)) {
    return absl::InternalError("customer read incomplete");
  }
  for (size_t i = 0; i < 3; ++i) OMNICX_RETURN_IF_ERROR(r[i].status());
  omnicx::v1::Profile profile;
  profile.set_customer_id(*cid);
  absl::Status decoded = profile::DecodeProfileHash(*r[0], *cid, &profile);
  if (!decoded.ok()) {
    in.profile = decoded;
  } else {
    profile::DecodeConsents(*r[1], &profile);
    profile::DecodeMergedIds(*r[2], &profile);
    in.profile = std::move(profile);
  }
  if (journey) {
    redis::PipelineReplies reads;
    reads.push_back(std::move(r[3]));
    reads.push_back(std::move(r[4]));
    absl::StatusOr<std::optional<journey::JourneyState>> state =
        journeys_.LoadFrom(*cid, reads);
    if (state.ok()) {
      in.journey = journeys_.Summary(*cid, std::move(*state), clock_());
    } else {
      in.journey = state.status();
    }
  }
  return in;
}

absl::StatusOr<omnicx::v1::JourneySummary> RedisCustomerReader::ReadJourney(
    const std::string& customer_id) {
  OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies r,
                          redis_.Pipeline(journeys_.LoadCommands(customer_id)));
  OMNICX_ASSIGN_OR_RETURN(std::optional<journey::JourneyState> state,
                          journeys_.LoadFrom(customer_id, r));
  return journeys_.Summary(customer_id, std::move(state), clock_());
}

}  // namespace omnicx::recommendation
