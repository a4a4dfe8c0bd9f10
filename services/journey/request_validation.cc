#include "services/journey/request_validation.h"

#include "absl/strings/str_cat.h"
#include "libs/identity/normalize.h"
#include "libs/time/proto_time.h"

namespace omnicx::journey {

using status::FieldViolation;

std::vector<FieldViolation> ValidateChurnModel(
    const omnicx::v1::GetChurnModelRequest& request) {
  if (request.limit() < 0 || request.limit() > kMaxImportances) {
    return {{"limit", absl::StrCat("must be between 0 and ", kMaxImportances,
                                   " (0 = ", kDefaultImportances, ")")}};
  }
  return {};
}

std::vector<FieldViolation> ValidatePainPoints(
    const omnicx::v1::ListPainPointsRequest& request) {
  std::vector<FieldViolation> out;
  if (request.limit() < 0 || request.limit() > kMaxPainPoints) {
    out.push_back(
        {"limit", absl::StrCat("must be between 0 and ", kMaxPainPoints,
                               " (0 = ", kDefaultPainPoints, ")")});
  }
  if (!omnicx::v1::Channel_IsValid(request.channel())) {
    out.push_back({"channel", "unknown channel"});
  }
  if (!omnicx::v1::Stage_IsValid(request.stage())) {
    out.push_back({"stage", "unknown stage"});
  }
  if (request.owner().size() > 64) {
    out.push_back({"owner", "at most 64 characters"});
  }
  return out;
}

std::vector<FieldViolation> ValidateFunnel(
    const omnicx::v1::GetFunnelRequest& request, absl::Time now,
    FunnelWindow* window) {
  std::vector<FieldViolation> out;
  if (!time::IsValid(request.start_time())) {
    out.push_back({"start_time", "not a valid timestamp"});
  }
  if (!time::IsValid(request.end_time())) {
    out.push_back({"end_time", "not a valid timestamp"});
  }
  if (!out.empty()) return out;
  const absl::Time end =
      request.has_end_time() ? time::FromProto(request.end_time()) : now;
  const absl::Time start = request.has_start_time()
                               ? time::FromProto(request.start_time())
                               : end - kDefaultFunnelWindow;
  if (start > end) {
    out.push_back({"start_time", "must not be after end_time"});
  } else if (end - start > kMaxFunnelWindow) {
    out.push_back({"start_time", "the window is at most 400 days"});
  } else {
    *window = {start, end};
  }
  return out;
}

std::vector<FieldViolation> ValidateForget(
    const omnicx::v1::ForgetCustomerRequest& request) {
  if (!identity::IsVisibleAsciiId(request.customer_id(), 128)) {
    return {{"customer_id", "must be 1-128 visible ASCII characters"}};
  }
  return {};
}

}  // namespace omnicx::journey
