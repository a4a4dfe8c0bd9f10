#include "libs/identity/directory.h"

#include "libs/identity/normalize.h"
#include "libs/status/error_details.h"
#include "libs/status/status_macros.h"

namespace omnicx::identity {

using omnicx::v1::CustomerRef;
using omnicx::v1::Identity;

std::string CustomerDirectory::Digest(const Identity& identity) const {
  return IdentityDigest(secret_, identity.type(), identity.value());
}

absl::StatusOr<std::string> CustomerDirectory::Canonical(
    absl::string_view customer_id) const {
  return Canonical(customer_id, nullptr, nullptr);
}

absl::StatusOr<std::string> CustomerDirectory::Canonical(
    absl::string_view customer_id, const AlsoRead& also,
    redis::PipelineReplies* replies) const {
  std::string cid(customer_id);
  for (int hop = 0; hop < 16; ++hop) {
    std::vector<redis::Command> commands = {{"EXISTS", keys_.Profile(cid)},
                                            {"GET", keys_.MergedInto(cid)}};
    if (also) {
      for (redis::Command& c : also(cid)) commands.push_back(std::move(c));
    }
    OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies r,
                            redis_.Pipeline(commands));
    OMNICX_RETURN_IF_ERROR(r[0].status());
    OMNICX_RETURN_IF_ERROR(r[1].status());
    if (!r[1]->is_nil()) {
      cid = r[1]->str();
      continue;
    }
    if (r[0]->integer() != 1) return absl::NotFoundError("no such customer");
    if (replies != nullptr) {
      replies->assign(std::make_move_iterator(r.begin() + 2),
                      std::make_move_iterator(r.end()));
    }
    return cid;
  }
  return absl::InternalError("merge redirects form a chain too long to follow");
}

absl::StatusOr<std::string> CustomerDirectory::Lookup(
    const CustomerRef& ref) const {
  return Lookup(ref, nullptr, nullptr);
}

absl::StatusOr<std::string> CustomerDirectory::Lookup(
    const CustomerRef& ref, const AlsoRead& also,
    redis::PipelineReplies* replies) const {
  Identity identity;
  switch (ref.ref_case()) {
    case CustomerRef::kCustomerId:
      return Canonical(ref.customer_id(), also, replies);
    case CustomerRef::kAnonymousId:
      identity.set_type("anonymous_id");
      identity.set_value(ref.anonymous_id());
      break;
    case CustomerRef::kIdentity:
      identity = ref.identity();
      break;
    case CustomerRef::REF_NOT_SET:
      return absl::InvalidArgumentError("customer reference is required");
  }
  absl::StatusOr<std::string> normalized =
      NormalizeIdentity(identity.type(), identity.value());
  if (!normalized.ok()) return normalized.status();
  identity.set_value(*normalized);
  OMNICX_ASSIGN_OR_RETURN(
      redis::Reply owner,
      redis_.Command({"GET", keys_.IdentityIndex(Digest(identity))}));
  if (owner.is_nil()) {
    return absl::NotFoundError("no customer with that identity");
  }
  return Canonical(owner.str(), also, replies);
}

absl::StatusOr<std::string> CustomerDirectory::LookupRequest(
    const CustomerRef& ref) const {
  return LookupRequest(ref, nullptr, nullptr);
}

absl::StatusOr<std::string> CustomerDirectory::LookupRequest(
    const CustomerRef& ref, const AlsoRead& also,
    redis::PipelineReplies* replies) const {
  if (ref.ref_case() == CustomerRef::REF_NOT_SET) {
    return status::InvalidArgumentError(
        "customer is required",
        {{"customer", "set customer_id, anonymous_id or identity"}});
  }
  absl::StatusOr<std::string> cid = Lookup(ref, also, replies);
  if (absl::IsInvalidArgument(cid.status())) {
    const std::string field =
        ref.has_identity() ? "customer.identity.value" : "customer";
    return status::InvalidArgumentError(
        "invalid customer reference",
        {{field, std::string(cid.status().message())}});
  }
  return cid;
}

}  // namespace omnicx::identity
