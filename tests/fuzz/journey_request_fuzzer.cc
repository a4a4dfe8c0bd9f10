// libFuzzer target: arbitrary bytes decoded as each of the journey service's
// requests (GetChurnModel, ListPainPoints, GetFunnel, ForgetCustomer), then
// validated exactly as the service does before it reads anything. No Redis,
// no network.
// Properties checked beyond "does not crash" (ASan + UBSan):
//   - validation is deterministic and every violation has a description and
//     names a field of the request it checked;
//   - accepted limits, channels, stages and owners are within the
//     documented ranges;
//   - an accepted funnel window has valid timestamps, start <= end and at
//     most 400 days, and is exactly the request's times (or the defaults);
//   - an accepted customer id is 1-128 visible ASCII characters;
//   - a valid Timestamp survives time::FromProto then time::ToProto.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "google/protobuf/stubs/logging.h"
#include "libs/time/proto_time.h"
#include "omnicx/v1/journey.pb.h"
#include "services/journey/request_validation.h"

namespace {

namespace journey = omnicx::journey;
namespace time = omnicx::time;
using omnicx::status::FieldViolation;

const absl::Time kNow = absl::FromUnixSeconds(1795000000);

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckViolations(const std::vector<FieldViolation>& violations,
                     const std::set<std::string>& fields) {
  for (const FieldViolation& v : violations) {
    Check(fields.count(v.field) == 1);
    Check(!v.description.empty());
  }
}

// Parses `request` from the input and validates it twice: the same
// violations, each with a description and one of `fields`. False when the
// input is not this message.
template <typename Request, typename Validate>
bool ParseAndValidate(const uint8_t* data, size_t size, Request* request,
                      Validate validate, const std::set<std::string>& fields,
                      std::vector<FieldViolation>* violations) {
  if (!request->ParseFromArray(data, static_cast<int>(size))) return false;
  *violations = validate(*request);
  Check(*violations == validate(*request));
  CheckViolations(*violations, fields);
  return true;
}

void CheckRoundTrip(const google::protobuf::Timestamp& ts) {
  if (!time::IsValid(ts)) return;
  const google::protobuf::Timestamp back = time::ToProto(time::FromProto(ts));
  Check(back.seconds() == ts.seconds() && back.nanos() == ts.nanos());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Invalid UTF-8 in string fields is expected input; keep the log quiet.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<FieldViolation> v;

  omnicx::v1::GetChurnModelRequest churn;
  if (ParseAndValidate(data, size, &churn, journey::ValidateChurnModel,
                       {"limit"}, &v) &&
      v.empty()) {
    Check(churn.limit() >= 0 && churn.limit() <= journey::kMaxImportances);
  }

  omnicx::v1::ListPainPointsRequest pain;
  if (ParseAndValidate(data, size, &pain, journey::ValidatePainPoints,
                       {"limit", "channel", "stage", "owner"}, &v) &&
      v.empty()) {
    Check(pain.limit() >= 0 && pain.limit() <= journey::kMaxPainPoints);
    Check(omnicx::v1::Channel_IsValid(pain.channel()));
    Check(omnicx::v1::Stage_IsValid(pain.stage()));
    Check(pain.owner().size() <= 64);
  }

  omnicx::v1::GetFunnelRequest funnel;
  journey::FunnelWindow window;
  auto validate_funnel = [&window](const omnicx::v1::GetFunnelRequest& r) {
    return journey::ValidateFunnel(r, kNow, &window);
  };
  if (ParseAndValidate(data, size, &funnel, validate_funnel,
                       {"start_time", "end_time"}, &v)) {
    CheckRoundTrip(funnel.start_time());
    CheckRoundTrip(funnel.end_time());
    if (v.empty()) {
      Check(time::IsValid(funnel.start_time()) &&
            time::IsValid(funnel.end_time()));
      Check(window.start <= window.end);
      Check(window.end - window.start <= journey::kMaxFunnelWindow);
      Check(
          window.end ==
          (funnel.has_end_time() ? time::FromProto(funnel.end_time()) : kNow));
      Check(window.start == (funnel.has_start_time()
                                 ? time::FromProto(funnel.start_time())
                                 : window.end - journey::kDefaultFunnelWindow));
    }
  }

  omnicx::v1::ForgetCustomerRequest forget;
  if (ParseAndValidate(data, size, &forget, journey::ValidateForget,
                       {"customer_id"}, &v) &&
      v.empty()) {
    const std::string& id = forget.customer_id();
    Check(!id.empty() && id.size() <= 128);
    for (unsigned char c : id) Check(c > 0x20 && c < 0x7f);
  }
  return 0;
}
