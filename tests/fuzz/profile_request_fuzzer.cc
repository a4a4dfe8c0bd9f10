// libFuzzer target: arbitrary bytes decoded as the profile service's write
// requests (UpdateTraitsRequest, SetConsentRequest, LinkIdentitiesRequest) and
// GetTimelineRequest, then validated exactly as the service does before it
// reads or writes anything. No Redis, no network.
// Properties checked beyond "does not crash" (ASan + UBSan):
//   - validation is deterministic (the same request, the same violations);
//   - every violation names a field of the request it checked;
//   - accepted traits are within the documented limits (at most 100, at
//     most 16 KiB, names 1-64 of [A-Za-z0-9_.-]);
//   - an accepted consent has a purpose of 1-64 of [a-z0-9_-], a source of
//     at most 64 bytes and a time at most 5 minutes after now;
//   - accepted identities are all normalised, in order, and normalising one
//     again changes nothing; an accepted page size is 0-500.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "google/protobuf/stubs/logging.h"
#include "libs/identity/normalize.h"
#include "libs/time/proto_time.h"
#include "omnicx/v1/profile.pb.h"
#include "services/profile/request_validation.h"

namespace {

const absl::Time kNow = absl::FromUnixSeconds(1795000000);

void Check(bool ok) {
  if (!ok) std::abort();
}

bool IsTraitName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (unsigned char c : s) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

void CheckTraits(const omnicx::v1::UpdateTraitsRequest& request) {
  const auto violations = omnicx::profile::ValidateTraits(request.traits());
  Check(violations == omnicx::profile::ValidateTraits(request.traits()));
  for (const auto& v : violations) {
    Check(absl::StartsWith(v.field, "traits"));
    Check(!v.description.empty());
  }
  if (!violations.empty()) return;
  Check(request.traits().fields_size() <= 100);
  Check(request.traits().ByteSizeLong() <= 16 * 1024);
  for (const auto& [name, value] : request.traits().fields()) {
    Check(IsTraitName(name));
  }
}

void CheckConsent(const omnicx::v1::SetConsentRequest& request) {
  const auto violations = omnicx::profile::ValidateConsent(request, kNow);
  Check(violations == omnicx::profile::ValidateConsent(request, kNow));
  for (const auto& v : violations) {
    Check(v.field == "purpose" || v.field == "source" ||
          v.field == "occurred_at");
  }
  if (!violations.empty()) return;
  const std::string& purpose = request.purpose();
  Check(!purpose.empty() && purpose.size() <= 64);
  for (unsigned char c : purpose) {
    Check(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' ||
          c == '-');
  }
  Check(request.source().size() <= 64);
  if (request.has_occurred_at()) {
    const auto& t = request.occurred_at();
    Check(t.seconds() >= 0 && t.nanos() >= 0 && t.nanos() <= 999999999);
    Check(omnicx::time::FromProto(t) <=
          kNow + omnicx::profile::kMaxConsentSkew);
  }
}

void CheckLink(const omnicx::v1::LinkIdentitiesRequest& request) {
  google::protobuf::RepeatedPtrField<omnicx::v1::Identity> normalized;
  const auto violations =
      omnicx::profile::ValidateLinkIdentities(request, &normalized);
  google::protobuf::RepeatedPtrField<omnicx::v1::Identity> again;
  Check(violations == omnicx::profile::ValidateLinkIdentities(request, &again));
  for (const auto& v : violations) {
    Check(absl::StartsWith(v.field, "identities"));
    Check(!v.description.empty());
  }
  Check(normalized.size() + static_cast<int>(violations.size()) >=
        request.identities_size());
  if (!violations.empty()) return;
  Check(normalized.size() == request.identities_size());
  for (int i = 0; i < normalized.size(); ++i) {
    Check(normalized[i].type() == request.identities(i).type());
    absl::StatusOr<std::string> value = omnicx::identity::NormalizeIdentity(
        normalized[i].type(), normalized[i].value());
    Check(value.ok() && *value == normalized[i].value());
  }
}

void CheckTimeline(const omnicx::v1::GetTimelineRequest& request) {
  const auto violations = omnicx::profile::ValidateTimeline(request);
  for (const auto& v : violations) Check(v.field == "page_size");
  if (violations.empty()) {
    Check(request.page_size() >= 0 &&
          request.page_size() <= omnicx::profile::kMaxTimelinePageSize);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Invalid UTF-8 in string fields is expected input; keep the log quiet.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  omnicx::v1::UpdateTraitsRequest traits;
  if (traits.ParseFromArray(data, static_cast<int>(size))) CheckTraits(traits);
  omnicx::v1::SetConsentRequest consent;
  if (consent.ParseFromArray(data, static_cast<int>(size))) {
    CheckConsent(consent);
  }
  omnicx::v1::LinkIdentitiesRequest link;
  if (link.ParseFromArray(data, static_cast<int>(size))) CheckLink(link);
  omnicx::v1::GetTimelineRequest timeline;
  if (timeline.ParseFromArray(data, static_cast<int>(size))) {
    CheckTimeline(timeline);
  }
  return 0;
}
