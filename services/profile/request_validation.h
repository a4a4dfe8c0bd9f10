// Validation of profile write requests — pure, tested directly.
//
//   std::vector<status::FieldViolation> v = ValidateTraits(request.traits());
#ifndef OMNICX_SERVICES_PROFILE_REQUEST_VALIDATION_H_
#define OMNICX_SERVICES_PROFILE_REQUEST_VALIDATION_H_

#include <vector>

#include "google/protobuf/struct.pb.h"
#include "libs/status/error_details.h"
#include "omnicx/v1/profile.pb.h"

namespace omnicx::profile {

// At most 100 traits, names 1–64 of [A-Za-z0-9_.-], 16 KiB in total.
std::vector<status::FieldViolation> ValidateTraits(
    const google::protobuf::Struct& traits);

// Purpose 1–64 of [a-z0-9_-]; source at most 64 bytes; a valid time if set.
std::vector<status::FieldViolation> ValidateConsent(
    const omnicx::v1::SetConsentRequest& request);

}  // namespace omnicx::profile

#endif  // OMNICX_SERVICES_PROFILE_REQUEST_VALIDATION_H_
