// Validation of profile requests — pure, tested directly. Each returns the
// field violations (empty when valid); the adapter turns them into
// INVALID_ARGUMENT with BadRequest details and writes nothing.
//
//   std::vector<status::FieldViolation> v = ValidateTraits(request.traits());
#ifndef OMNICX_SERVICES_PROFILE_REQUEST_VALIDATION_H_
#define OMNICX_SERVICES_PROFILE_REQUEST_VALIDATION_H_

#include <vector>

#include "absl/time/time.h"
#include "google/protobuf/repeated_field.h"
#include "google/protobuf/struct.pb.h"
#include "libs/status/error_details.h"
#include "omnicx/v1/profile.pb.h"

namespace omnicx::profile {

// At most 100 traits, names 1–64 of [A-Za-z0-9_.-], 16 KiB in total.
std::vector<status::FieldViolation> ValidateTraits(
    const google::protobuf::Struct& traits);

// Purpose 1–64 of [a-z0-9_-]; source at most 64 bytes; a valid time if
// set, at most kMaxConsentSkew after `now` (a far-future decision would
// override every later one, since the latest time wins).
inline constexpr absl::Duration kMaxConsentSkew = absl::Minutes(5);
std::vector<status::FieldViolation> ValidateConsent(
    const omnicx::v1::SetConsentRequest& request, absl::Time now);

// At least one identity, each normalised exactly as at ingestion (a bad one
// is named "identities[i].type" or "identities[i].value"); the normalised
// identities, in order, are appended to `normalized`.
std::vector<status::FieldViolation> ValidateLinkIdentities(
    const omnicx::v1::LinkIdentitiesRequest& request,
    google::protobuf::RepeatedPtrField<omnicx::v1::Identity>* normalized);

// page_size 0–500 (0 = 50). The page token is checked where it is decoded.
inline constexpr int kDefaultTimelinePageSize = 50;
inline constexpr int kMaxTimelinePageSize = 500;
std::vector<status::FieldViolation> ValidateTimeline(
    const omnicx::v1::GetTimelineRequest& request);

}  // namespace omnicx::profile

#endif  // OMNICX_SERVICES_PROFILE_REQUEST_VALIDATION_H_
