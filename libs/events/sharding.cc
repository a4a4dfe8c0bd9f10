#include "libs/events/sharding.h"

#include "absl/strings/str_cat.h"
#include "libs/keys/digest.h"

namespace omnicx::events {

std::string CustomerRefKey(const omnicx::v1::CustomerRef& ref) {
  switch (ref.ref_case()) {
    case omnicx::v1::CustomerRef::kCustomerId:
      return absl::StrCat("cid:", ref.customer_id());
    case omnicx::v1::CustomerRef::kAnonymousId:
      return absl::StrCat("anon:", ref.anonymous_id());
    case omnicx::v1::CustomerRef::kIdentity:
      return absl::StrCat(ref.identity().type(), ":", ref.identity().value());
    case omnicx::v1::CustomerRef::REF_NOT_SET:
      break;
  }
  return "";
}

int ShardFor(const omnicx::v1::CustomerRef& ref, int shards) {
  return static_cast<int>(keys::StableHash64(CustomerRefKey(ref)) %
                          static_cast<uint64_t>(shards));
}

}  // namespace omnicx::events
