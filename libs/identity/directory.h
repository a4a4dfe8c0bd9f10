// Read-only customer lookup over the profile service's identity index: the
// one way any service turns a CustomerRef (customer id, anonymous id or any
// identity, normalised here exactly as at ingestion) into the live canonical
// customer id, following merge redirects.
//
//   CustomerDirectory directory(redis, keys, identity_secret);
//   absl::StatusOr<std::string> cid = directory.Lookup(request.customer());
//
// Errors: InvalidArgument for a missing reference or an identity that does
// not normalise; NotFound when nobody is known; Unavailable from Redis.
// The profile service writes the index (services/profile/profile_store.h);
// this class only reads it.
#ifndef OMNICX_LIBS_IDENTITY_DIRECTORY_H_
#define OMNICX_LIBS_IDENTITY_DIRECTORY_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/keys/key_builder.h"
#include "libs/redis/client.h"
#include "omnicx/v1/common.pb.h"

namespace omnicx::identity {

class CustomerDirectory {
 public:
  CustomerDirectory(redis::Client& redis, const keys::KeyBuilder& keys,
                    std::string identity_secret)
      : redis_(redis), keys_(keys), secret_(std::move(identity_secret)) {}

  // The customer a request names.
  absl::StatusOr<std::string> Lookup(const omnicx::v1::CustomerRef& ref) const;

  // Lookup for a gRPC request's `customer` field: a missing or malformed
  // reference is INVALID_ARGUMENT with a field violation (`customer`,
  // `customer.identity.value`), ready for status::ToGrpcStatus.
  absl::StatusOr<std::string> LookupRequest(
      const omnicx::v1::CustomerRef& ref) const;

  // Follows merge redirects to the live customer; NotFound when none.
  absl::StatusOr<std::string> Canonical(absl::string_view customer_id) const;

  // Commands a caller wants run for the customer found, in the same round
  // trip as the last redirect check (so reading the customer's own keys
  // costs no extra round trip); their replies land in `replies`.
  using AlsoRead = std::function<std::vector<redis::Command>(
      const std::string& customer_id)>;
  absl::StatusOr<std::string> Canonical(absl::string_view customer_id,
                                        const AlsoRead& also,
                                        redis::PipelineReplies* replies) const;
  absl::StatusOr<std::string> Lookup(const omnicx::v1::CustomerRef& ref,
                                     const AlsoRead& also,
                                     redis::PipelineReplies* replies) const;
  absl::StatusOr<std::string> LookupRequest(
      const omnicx::v1::CustomerRef& ref, const AlsoRead& also,
      redis::PipelineReplies* replies) const;

  // HMAC digest of a normalised identity (the index's key material).
  std::string Digest(const omnicx::v1::Identity& identity) const;

 private:
  redis::Client& redis_;
  const keys::KeyBuilder& keys_;
  const std::string secret_;
};

}  // namespace omnicx::identity

#endif  // OMNICX_LIBS_IDENTITY_DIRECTORY_H_
