// Validation of journey requests — pure, tested directly. Each returns the
// field violations (empty when valid); the adapter turns them into
// INVALID_ARGUMENT with BadRequest details and reads nothing.
//
//   std::vector<status::FieldViolation> v = ValidatePainPoints(request);
//   FunnelWindow window;
//   v = ValidateFunnel(request, clock(), &window);   // window set when valid
#ifndef OMNICX_SERVICES_JOURNEY_REQUEST_VALIDATION_H_
#define OMNICX_SERVICES_JOURNEY_REQUEST_VALIDATION_H_

#include <vector>

#include "absl/time/time.h"
#include "libs/status/error_details.h"
#include "omnicx/v1/journey.pb.h"

namespace omnicx::journey {

inline constexpr int kDefaultImportances = 50;
inline constexpr int kMaxImportances = 500;
inline constexpr int kDefaultPainPoints = 10;
inline constexpr int kMaxPainPoints = 100;
inline constexpr absl::Duration kDefaultFunnelWindow = absl::Hours(24 * 30);
inline constexpr absl::Duration kMaxFunnelWindow = absl::Hours(24 * 400);

// limit 0–500 (0 = 50).
std::vector<status::FieldViolation> ValidateChurnModel(
    const omnicx::v1::GetChurnModelRequest& request);

// limit 0–100 (0 = 10); channel and stage known values; owner at most 64
// bytes.
std::vector<status::FieldViolation> ValidatePainPoints(
    const omnicx::v1::ListPainPointsRequest& request);

// The funnel's window: start_time and end_time valid timestamps (unset is
// the epoch, which is valid); end defaults to `now`, start to 30 days before
// end; start not after end; at most 400 days. Sets `*window` when valid.
struct FunnelWindow {
  absl::Time start;
  absl::Time end;
};
std::vector<status::FieldViolation> ValidateFunnel(
    const omnicx::v1::GetFunnelRequest& request, absl::Time now,
    FunnelWindow* window);

// customer_id 1–128 visible ASCII characters (by id only: an erasure needs
// no identity lookup).
std::vector<status::FieldViolation> ValidateForget(
    const omnicx::v1::ForgetCustomerRequest& request);

}  // namespace omnicx::journey

#endif  // OMNICX_SERVICES_JOURNEY_REQUEST_VALIDATION_H_
