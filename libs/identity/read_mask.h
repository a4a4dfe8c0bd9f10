// The one masking of identity values in what reads return: every read of
// every service (GetProfile, UpdateTraits, SetConsent, GetTimeline,
// GetCustomerContext, ...) passes its answer through these before it goes
// out; only an admin's ExportCustomer returns raw values.
//
//   omnicx::v1::Profile profile = ...;   // as stored, raw
//   identity::MaskProfileForRead(&profile);
//
// Rules (docs/security.md, "Personal data"):
//   - every Identity, whatever its type (known or custom), in `identities`,
//     `links[].identity`, an interaction's `customer.identity` and
//     `identities`, and an interaction's `customer.anonymous_id`: masked
//     with MaskIdentity (`j***@example.com`, `+1******4567`, `****4567`);
//   - traits and interaction properties (google.protobuf.Struct): a field
//     whose name is an identity type or contains "email", "phone" or
//     "mobile" has every string or number beneath it masked as that type;
//     any other string is masked as MaskText does;
//   - free text (consent and link sources, feedback comments, other
//     strings in traits and properties): MaskText.
#ifndef OMNICX_LIBS_IDENTITY_READ_MASK_H_
#define OMNICX_LIBS_IDENTITY_READ_MASK_H_

#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"
#include "omnicx/v1/common.pb.h"
#include "omnicx/v1/profile.pb.h"

namespace omnicx::identity {

// `text` with every email address and every "+"-prefixed phone number it
// holds masked: the whole text when it normalises as one, else each token
// between separators (space, `,;:=<>()[]"'/`). A phone number written with
// spaces inside running text ("call +1 555 123 4567") is not recognised.
std::string MaskText(absl::string_view text);

void MaskStructForRead(google::protobuf::Struct* fields);
void MaskInteractionForRead(omnicx::v1::Interaction* interaction);
void MaskConsentForRead(omnicx::v1::Consent* consent);
void MaskProfileForRead(omnicx::v1::Profile* profile);
// Profile and recent timeline (the journey and the actions hold none).
void MaskContextForRead(omnicx::v1::CustomerContext* context);

}  // namespace omnicx::identity

#endif  // OMNICX_LIBS_IDENTITY_READ_MASK_H_
