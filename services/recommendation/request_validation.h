// Validation of recommendation requests — pure, tested directly. Each
// returns the field violations (empty when valid); the adapter turns them
// into INVALID_ARGUMENT with BadRequest details and writes nothing.
//
//   std::vector<status::FieldViolation> v = ValidateRecommend(request);
#ifndef OMNICX_SERVICES_RECOMMENDATION_REQUEST_VALIDATION_H_
#define OMNICX_SERVICES_RECOMMENDATION_REQUEST_VALIDATION_H_

#include <vector>

#include "libs/status/error_details.h"
#include "omnicx/v1/recommendation.pb.h"

namespace omnicx::recommendation {

inline constexpr int kMaxActionsPerDecision = 20;

// customer required (a non-empty handle); channel a known value; max_actions
// 0–20 (0 = 3); intent at most 64 bytes.
std::vector<status::FieldViolation> ValidateRecommend(
    const omnicx::v1::RecommendRequest& request);

// request as ValidateRecommend (paths under "request"), by customer_id
// equal to profile.customer_id (1–256 bytes); at most 64 consented purposes.
std::vector<status::FieldViolation> ValidateDecideForContext(
    const omnicx::v1::DecideForContextRequest& request);

// decision_id 1–128 bytes; action_id a catalog id; customer required;
// response specified; occurred_at a valid time if set.
std::vector<status::FieldViolation> ValidateOutcome(
    const omnicx::v1::RecordOutcomeRequest& request);

// action required and valid (catalog rules, paths under "action").
std::vector<status::FieldViolation> ValidateUpsert(
    const omnicx::v1::UpsertActionRequest& request);

}  // namespace omnicx::recommendation

#endif  // OMNICX_SERVICES_RECOMMENDATION_REQUEST_VALIDATION_H_
