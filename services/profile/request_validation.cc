#include "services/profile/request_validation.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/identity/normalize.h"
#include "libs/time/proto_time.h"

namespace omnicx::profile {
namespace {

bool IsName(const std::string& s, bool lower_only) {
  if (s.empty() || s.size() > 64) return false;
  for (unsigned char c : s) {
    const bool ok =
        lower_only
            ? (absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' ||
               c == '-')
            : (absl::ascii_isalnum(c) || c == '_' || c == '-' || c == '.');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::vector<status::FieldViolation> ValidateTraits(
    const google::protobuf::Struct& traits) {
  std::vector<status::FieldViolation> out;
  if (traits.fields_size() > 100) {
    out.push_back({"traits", "must have at most 100 traits"});
  }
  if (traits.ByteSizeLong() > 16 * 1024) {
    out.push_back({"traits", "must be at most 16384 bytes"});
  }
  for (const auto& [name, value] : traits.fields()) {
    if (!IsName(name, false)) {
      out.push_back(
          {absl::StrCat("traits.", name),
           "trait names must be 1-64 characters of A-Z a-z 0-9 _ . -"});
    }
  }
  return out;
}

std::vector<status::FieldViolation> ValidateConsent(
    const omnicx::v1::SetConsentRequest& request, absl::Time now) {
  std::vector<status::FieldViolation> out;
  if (!IsName(request.purpose(), true)) {
    out.push_back({"purpose", "must be 1-64 characters of a-z 0-9 _ -"});
  }
  if (request.source().size() > 64) {
    out.push_back({"source", "must be at most 64 bytes"});
  }
  if (request.has_occurred_at() && (request.occurred_at().nanos() < 0 ||
                                    request.occurred_at().nanos() > 999999999 ||
                                    request.occurred_at().seconds() < 0)) {
    out.push_back({"occurred_at", "must be a valid timestamp"});
  } else if (request.has_occurred_at() &&
             time::FromProto(request.occurred_at()) > now + kMaxConsentSkew) {
    out.push_back(
        {"occurred_at", "must not be more than 5 minutes in the future"});
  }
  return out;
}

std::vector<status::FieldViolation> ValidateLinkIdentities(
    const omnicx::v1::LinkIdentitiesRequest& request,
    google::protobuf::RepeatedPtrField<omnicx::v1::Identity>* normalized) {
  std::vector<status::FieldViolation> out;
  if (request.identities().empty()) {
    out.push_back({"identities", "must name at least one identity"});
  }
  for (int i = 0; i < request.identities_size(); ++i) {
    const auto& in = request.identities(i);
    absl::StatusOr<std::string> value =
        identity::NormalizeIdentity(in.type(), in.value());
    if (!value.ok()) {
      out.push_back(
          {absl::StrCat(
               "identities[", i, "]",
               identity::IsKnownIdentityType(in.type()) ? ".value" : ".type"),
           std::string(value.status().message())});
      continue;
    }
    omnicx::v1::Identity* id = normalized->Add();
    id->set_type(in.type());
    id->set_value(*value);
  }
  return out;
}

std::vector<status::FieldViolation> ValidateTimeline(
    const omnicx::v1::GetTimelineRequest& request) {
  if (request.page_size() < 0 || request.page_size() > kMaxTimelinePageSize) {
    return {{"page_size", "must be between 0 and 500"}};
  }
  return {};
}

}  // namespace omnicx::profile
