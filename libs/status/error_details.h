// Rich error details on absl::Status, and the one mapping between
// absl::Status and grpc::Status.
//
// Domain code reports bad input as
//   return InvalidArgumentError("invalid event", {{"interaction.channel",
//                                                  "must be specified"}});
// and transient overload as
//   return WithRetryDelay(absl::ResourceExhaustedError("lag"),
//   absl::Seconds(1));
// The details travel as absl::Status payloads keyed by their type URL, and
// ToGrpcStatus turns them into a google.rpc.Status in the
// `grpc-status-details-bin` trailer, so any gRPC client decodes BadRequest
// field violations and RetryInfo. FromGrpcStatus is the inverse, used by
// clients of other omnicx services.
//
// What a caller reads holds no server detail: INTERNAL, UNKNOWN and
// DATA_LOSS are answered "internal error", UNAVAILABLE and DEADLINE_EXCEEDED
// "temporarily unavailable; retry" (RetryInfo kept), and so is any status
// marked WithServerDetail (the Redis client marks its errors); the original
// message is logged server-side once, by ToGrpcStatus. Messages of the other
// codes are written for callers and pass unchanged, so they must name
// fields, never echo identity values.
#ifndef OMNICX_LIBS_STATUS_ERROR_DETAILS_H_
#define OMNICX_LIBS_STATUS_ERROR_DETAILS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"

namespace omnicx::status {

// One bad field of a request: `field` is the path from the request root,
// e.g. `interactions[3].feedback.nps`.
struct FieldViolation {
  std::string field;
  std::string description;

  bool operator==(const FieldViolation& other) const {
    return field == other.field && description == other.description;
  }
};

inline constexpr absl::string_view kBadRequestTypeUrl =
    "type.googleapis.com/google.rpc.BadRequest";
inline constexpr absl::string_view kRetryInfoTypeUrl =
    "type.googleapis.com/google.rpc.RetryInfo";
// Internal marker payload (never sent): see WithServerDetail.
inline constexpr absl::string_view kServerDetailTypeUrl =
    "omnicx.internal/server-detail";
inline constexpr absl::string_view kInternalErrorMessage = "internal error";
inline constexpr absl::string_view kRetryableErrorMessage =
    "temporarily unavailable; retry";

// INVALID_ARGUMENT carrying google.rpc.BadRequest field violations.
absl::Status InvalidArgumentError(
    absl::string_view message, const std::vector<FieldViolation>& violations);

// Attaches google.rpc.RetryInfo (retry no sooner than `delay`).
absl::Status WithRetryDelay(absl::Status status, absl::Duration delay);

// The field violations carried by `status` (empty when none).
std::vector<FieldViolation> GetFieldViolations(const absl::Status& status);

// The retry delay carried by `status`, if any.
std::optional<absl::Duration> GetRetryDelay(const absl::Status& status);

// "OK", "INVALID_ARGUMENT", ... as gRPC spells the canonical codes.
std::string StatusCodeName(int code);

// Marks the message of `status` as server-side detail (addresses, Redis
// error text, script names) whatever its code: callers get the generic
// message of its class instead.
absl::Status WithServerDetail(absl::Status status);

// The message a caller may read for `status` (see above); also used for the
// per-section messages of composite answers.
std::string CallerMessage(const absl::Status& status);

// absl::Status -> grpc::Status with a google.rpc.Status in the details; the
// message is CallerMessage(status), and a replaced message is logged.
// Only BadRequest and RetryInfo details travel.
grpc::Status ToGrpcStatus(const absl::Status& status);

// grpc::Status -> absl::Status, decoding BadRequest and RetryInfo details.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace omnicx::status

#endif  // OMNICX_LIBS_STATUS_ERROR_DETAILS_H_
