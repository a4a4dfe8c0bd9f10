// Helpers shared by the files of ProfileStore (profile_store.cc,
// profile_resolve.cc, profile_merge.cc, profile_erase.cc,
// profile_reads.cc). Not for use outside the store.
#ifndef OMNICX_SERVICES_PROFILE_PROFILE_STORE_INTERNAL_H_
#define OMNICX_SERVICES_PROFILE_PROFILE_STORE_INTERNAL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "omnicx/v1/common.pb.h"

namespace omnicx::profile::store_internal {

// A write refused because the customer was erased meanwhile (the consumer
// acknowledges the event and counts it as erased).
inline absl::Status ErasedError() {
  return absl::FailedPreconditionError(
      "the customer was erased; the event is not applied");
}

// "type:value", as stored in a customer's identity set and claims.
inline std::string IdentityString(const omnicx::v1::Identity& identity) {
  return absl::StrCat(identity.type(), ":", identity.value());
}

}  // namespace omnicx::profile::store_internal

#endif  // OMNICX_SERVICES_PROFILE_PROFILE_STORE_INTERNAL_H_
