#include "libs/status/error_details.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "google/protobuf/any.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "libs/logging/log.h"
#include "libs/time/proto_time.h"

namespace omnicx::status {
namespace {

constexpr absl::string_view kTypeUrlPrefix = "type.googleapis.com/";

}  // namespace

absl::Status InvalidArgumentError(
    absl::string_view message, const std::vector<FieldViolation>& violations) {
  absl::Status status = absl::InvalidArgumentError(message);
  google::rpc::BadRequest bad_request;
  for (const FieldViolation& v : violations) {
    auto* out = bad_request.add_field_violations();
    out->set_field(v.field);
    out->set_description(v.description);
  }
  status.SetPayload(kBadRequestTypeUrl,
                    absl::Cord(bad_request.SerializeAsString()));
  return status;
}

absl::Status WithRetryDelay(absl::Status status, absl::Duration delay) {
  if (status.ok()) return status;
  google::rpc::RetryInfo retry;
  *retry.mutable_retry_delay() = time::ToProto(delay);
  status.SetPayload(kRetryInfoTypeUrl, absl::Cord(retry.SerializeAsString()));
  return status;
}

std::vector<FieldViolation> GetFieldViolations(const absl::Status& status) {
  std::vector<FieldViolation> out;
  auto payload = status.GetPayload(kBadRequestTypeUrl);
  if (!payload.has_value()) return out;
  google::rpc::BadRequest bad_request;
  if (!bad_request.ParseFromString(std::string(*payload))) return out;
  for (const auto& v : bad_request.field_violations()) {
    out.push_back({v.field(), v.description()});
  }
  return out;
}

std::optional<absl::Duration> GetRetryDelay(const absl::Status& status) {
  auto payload = status.GetPayload(kRetryInfoTypeUrl);
  if (!payload.has_value()) return std::nullopt;
  google::rpc::RetryInfo retry;
  if (!retry.ParseFromString(std::string(*payload))) return std::nullopt;
  return time::FromProto(retry.retry_delay());
}

std::string StatusCodeName(int code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  if (code < 0 || code > 16) return "UNKNOWN";
  return kNames[code];
}

absl::Status WithServerDetail(absl::Status status) {
  if (!status.ok()) status.SetPayload(kServerDetailTypeUrl, absl::Cord());
  return status;
}

std::string CallerMessage(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return std::string(status.message());
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      return std::string(kInternalErrorMessage);
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return std::string(kRetryableErrorMessage);
    default:
      break;
  }
  if (status.GetPayload(kServerDetailTypeUrl).has_value()) {
    return absl::IsResourceExhausted(status)
               ? std::string(kRetryableErrorMessage)
               : std::string(kInternalErrorMessage);
  }
  return std::string(status.message());
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const std::string message = CallerMessage(status);
  if (message != status.message()) {
    // The one place the detail is kept: the server's log. Messages built
    // for errors name addresses, commands and scripts, never identities.
    OMNICX_LOG(kWarn) << "answered "
                      << StatusCodeName(static_cast<int>(status.code()))
                      << " for: " << status.message();
  }
  google::rpc::Status rpc_status;
  rpc_status.set_code(static_cast<int>(status.code()));
  rpc_status.set_message(message);
  const bool detail_hidden = message != status.message();
  status.ForEachPayload(
      [&](absl::string_view type_url, const absl::Cord& value) {
        const bool sent = type_url == kRetryInfoTypeUrl ||
                          (type_url == kBadRequestTypeUrl && !detail_hidden);
        if (!sent) return;
        google::protobuf::Any* any = rpc_status.add_details();
        any->set_type_url(std::string(type_url));
        any->set_value(std::string(value));
      });
  // absl::StatusCode and grpc::StatusCode share the canonical numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message,
                      rpc_status.details_size() > 0
                          ? rpc_status.SerializeAsString()
                          : std::string());
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()),
                   status.error_message());
  if (status.error_details().empty()) return out;
  google::rpc::Status rpc_status;
  if (!rpc_status.ParseFromString(status.error_details())) return out;
  for (const google::protobuf::Any& any : rpc_status.details()) {
    if (!absl::StartsWith(any.type_url(), kTypeUrlPrefix)) continue;
    out.SetPayload(any.type_url(), absl::Cord(any.value()));
  }
  return out;
}

}  // namespace omnicx::status
