// The one decoder of the profile service's per-customer hashes, for every
// service that reads them: the profile hash (counter state `s`), the traits
// hash, the consents hash and the merged-customer set. The profile service
// (GetProfile, the agent context) and the recommendation service (Recommend
// reads the profile directly) use it.
//
//   Profile p;
//   p.set_customer_id(cid);
//   OMNICX_RETURN_IF_ERROR(DecodeProfileHash(profile_hash_reply, cid, &p));
//   DecodeConsents(consents_hash_reply, &p);  // granted or not, by purpose
//
// Each takes the reply of HGETALL (hashes) or SMEMBERS (sets) of the key
// named in its comment (libs/keys/key_builder.h).
#ifndef OMNICX_SERVICES_PROFILE_PROFILE_DECODE_H_
#define OMNICX_SERVICES_PROFILE_PROFILE_DECODE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "libs/redis/reply.h"
#include "omnicx/v1/profile.pb.h"

namespace omnicx::profile {

// KeyBuilder::Profile: fills the counters (first/last seen, event count,
// lifetime value, channels); DataLoss when the state does not parse.
absl::Status DecodeProfileHash(const redis::Reply& hash,
                               absl::string_view customer_id,
                               omnicx::v1::Profile* profile);

// KeyBuilder::Traits: the traits (the `<name>:ms` bookkeeping is skipped).
void DecodeTraits(const redis::Reply& hash, omnicx::v1::Profile* profile);

// KeyBuilder::Consents: the latest consent per purpose, sorted by purpose
// (the `<purpose>:granted` flags the reservation script reads are skipped).
void DecodeConsents(const redis::Reply& hash, omnicx::v1::Profile* profile);

// KeyBuilder::MergedIds: the customers merged into this one, sorted.
void DecodeMergedIds(const redis::Reply& set, omnicx::v1::Profile* profile);

}  // namespace omnicx::profile

#endif  // OMNICX_SERVICES_PROFILE_PROFILE_DECODE_H_
