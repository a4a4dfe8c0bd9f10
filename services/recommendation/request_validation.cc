#include "services/recommendation/request_validation.h"

#include "absl/strings/str_cat.h"
#include "services/recommendation/catalog.h"

namespace omnicx::recommendation {
namespace {

using status::FieldViolation;

void CheckCustomer(const omnicx::v1::CustomerRef& ref,
                   std::vector<FieldViolation>* out) {
  switch (ref.ref_case()) {
    case omnicx::v1::CustomerRef::REF_NOT_SET:
      out->push_back({"customer", "set customer_id, anonymous_id or identity"});
      return;
    case omnicx::v1::CustomerRef::kCustomerId:
      if (ref.customer_id().empty() || ref.customer_id().size() > 256) {
        out->push_back({"customer.customer_id", "must be 1-256 bytes"});
      }
      return;
    case omnicx::v1::CustomerRef::kAnonymousId:
      if (ref.anonymous_id().empty() || ref.anonymous_id().size() > 256) {
        out->push_back({"customer.anonymous_id", "must be 1-256 bytes"});
      }
      return;
    case omnicx::v1::CustomerRef::kIdentity:
      if (ref.identity().type().empty() || ref.identity().type().size() > 32) {
        out->push_back({"customer.identity.type", "must be 1-32 bytes"});
      }
      if (ref.identity().value().empty() ||
          ref.identity().value().size() > 256) {
        out->push_back({"customer.identity.value", "must be 1-256 bytes"});
      }
      return;
  }
}

}  // namespace

std::vector<FieldViolation> ValidateRecommend(
    const omnicx::v1::RecommendRequest& request) {
  std::vector<FieldViolation> out;
  CheckCustomer(request.customer(), &out);
  if (!omnicx::v1::Channel_IsValid(request.channel())) {
    out.push_back({"channel", "must be a known channel"});
  }
  if (request.max_actions() < 0 ||
      request.max_actions() > kMaxActionsPerDecision) {
    out.push_back(
        {"max_actions", absl::StrCat("must be between 0 and ",
                                     kMaxActionsPerDecision, " (0 means 3)")});
  }
  if (request.intent().size() > 64) {
    out.push_back({"intent", "must be at most 64 bytes"});
  }
  return out;
}

std::vector<FieldViolation> ValidateDecideForContext(
    const omnicx::v1::DecideForContextRequest& request) {
  std::vector<FieldViolation> out = ValidateRecommend(request.request());
  for (FieldViolation& v : out) v.field = absl::StrCat("request.", v.field);
  const std::string& cid = request.profile().customer_id();
  if (cid.empty() || cid.size() > 256) {
    out.push_back({"profile.customer_id", "must be 1-256 bytes"});
  }
  if (!request.request().customer().has_customer_id() ||
      request.request().customer().customer_id() != cid) {
    out.push_back(
        {"request.customer.customer_id", "must be profile.customer_id"});
  }
  if (request.profile().consented_purposes_size() > 64) {
    out.push_back({"profile.consented_purposes", "at most 64 purposes"});
  }
  return out;
}

std::vector<FieldViolation> ValidateOutcome(
    const omnicx::v1::RecordOutcomeRequest& request) {
  std::vector<FieldViolation> out;
  if (request.decision_id().empty() || request.decision_id().size() > 128) {
    out.push_back({"decision_id", "must be 1-128 bytes"});
  }
  omnicx::v1::Action probe;
  probe.set_action_id(request.action_id());
  probe.set_kind(omnicx::v1::ACTION_KIND_SURVEY);
  probe.set_value(1);
  for (FieldViolation& v : ValidateAction(probe, "")) {
    out.push_back(std::move(v));
  }
  CheckCustomer(request.customer(), &out);
  if (request.response() == omnicx::v1::ACTION_RESPONSE_UNSPECIFIED ||
      !omnicx::v1::ActionResponse_IsValid(request.response())) {
    out.push_back({"response",
                   "must be PRESENTED, ACCEPTED, REJECTED, IGNORED or "
                   "CONVERTED"});
  }
  if (request.has_occurred_at() &&
      (request.occurred_at().seconds() < 0 ||
       request.occurred_at().nanos() < 0 ||
       request.occurred_at().nanos() > 999999999)) {
    out.push_back({"occurred_at", "must be a valid timestamp"});
  }
  return out;
}

std::vector<FieldViolation> ValidateUpsert(
    const omnicx::v1::UpsertActionRequest& request) {
  if (!request.has_action()) return {{"action", "is required"}};
  return ValidateAction(request.action(), "action");
}

}  // namespace omnicx::recommendation
