#include "services/journey/journey_service.h"

#include <vector>

#include "libs/server/reactor.h"
#include "libs/status/error_details.h"
#include "services/journey/churn_learner.h"
#include "services/journey/pain_points.h"
#include "services/journey/request_validation.h"

namespace omnicx::journey {

using ::omnicx::server::FinishWith;

namespace {

constexpr absl::Duration kAggregatesMaxAge = absl::Seconds(1);

}  // namespace

grpc::ServerUnaryReactor* JourneyServiceImpl::GetJourney(
    grpc::CallbackServerContext* context,
    const omnicx::v1::GetJourneyRequest* request,
    omnicx::v1::GetJourneyResponse* response) {
  absl::StatusOr<auth::Principal> who =
      auth_.Authorize(*context, "/omnicx.v1.JourneyService/GetJourney");
  if (!who.ok()) return FinishWith(context, who.status());
  // The journey's keys are read in the round trip that confirms the
  // customer (no merge redirect).
  redis::PipelineReplies replies;
  absl::StatusOr<std::string> cid = directory_.LookupRequest(
      request->customer(),
      [this](const std::string& id) { return store_.LoadCommands(id); },
      &replies);
  if (!cid.ok()) return FinishWith(context, cid.status());
  absl::StatusOr<std::optional<JourneyState>> state =
      store_.LoadFrom(*cid, replies);
  if (!state.ok()) return FinishWith(context, state.status());
  // A known customer whose touchpoints have not reached the journey yet
  // gets the neutral journey (event_count 0 says so).
  JourneyState s = state->value_or(JourneyState());
  s.set_customer_id(*cid);
  *response->mutable_journey() = Summarize(
      model_, s, absl::ToUnixMillis(clock_()), 10, store_.Learned().get());
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* JourneyServiceImpl::GetChurnModel(
    grpc::CallbackServerContext* context,
    const omnicx::v1::GetChurnModelRequest* request,
    omnicx::v1::GetChurnModelResponse* response) {
  absl::StatusOr<auth::Principal> who =
      auth_.Authorize(*context, "/omnicx.v1.JourneyService/GetChurnModel");
  if (!who.ok()) return FinishWith(context, who.status());
  std::vector<status::FieldViolation> v = ValidateChurnModel(*request);
  if (!v.empty()) {
    return FinishWith(
        context, status::InvalidArgumentError("invalid churn model query", v));
  }
  absl::Status refreshed = store_.RefreshLearned();
  if (!refreshed.ok()) return FinishWith(context, refreshed);
  *response = DescribeChurnModel(
      store_.Learned()->proto(),
      request->limit() == 0 ? kDefaultImportances : request->limit());
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* JourneyServiceImpl::ListPainPoints(
    grpc::CallbackServerContext* context,
    const omnicx::v1::ListPainPointsRequest* request,
    omnicx::v1::ListPainPointsResponse* response) {
  absl::StatusOr<auth::Principal> who =
      auth_.Authorize(*context, "/omnicx.v1.JourneyService/ListPainPoints");
  if (!who.ok()) return FinishWith(context, who.status());
  std::vector<status::FieldViolation> v = ValidatePainPoints(*request);
  if (!v.empty()) {
    return FinishWith(
        context, status::InvalidArgumentError("invalid pain-point query", v));
  }
  absl::StatusOr<std::shared_ptr<const std::map<std::string, double>>> fields =
      Aggregates();
  if (!fields.ok()) return FinishWith(context, fields.status());
  PainPointQuery query;
  query.channel = request->channel();
  query.stage = request->stage();
  query.limit = request->limit() == 0 ? kDefaultPainPoints : request->limit();
  query.owner = request->owner();
  for (omnicx::v1::PainPoint& p : RankPainPoints(model_, **fields, query)) {
    *response->add_pain_points() = std::move(p);
  }
  return FinishWith(context, absl::OkStatus());
}

absl::StatusOr<std::shared_ptr<const std::map<std::string, double>>>
JourneyServiceImpl::Aggregates() {
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    if (aggregates_ != nullptr && now - aggregates_at_ < kAggregatesMaxAge) {
      return aggregates_;
    }
  }
  absl::StatusOr<std::map<std::string, double>> fields =
      store_.PainAggregates();
  if (!fields.ok()) return fields.status();
  auto snapshot =
      std::make_shared<const std::map<std::string, double>>(*std::move(fields));
  absl::MutexLock lock(&mu_);
  aggregates_ = snapshot;
  aggregates_at_ = now;
  return snapshot;
}

grpc::ServerUnaryReactor* JourneyServiceImpl::GetFunnel(
    grpc::CallbackServerContext* context,
    const omnicx::v1::GetFunnelRequest* request,
    omnicx::v1::GetFunnelResponse* response) {
  absl::StatusOr<auth::Principal> who =
      auth_.Authorize(*context, "/omnicx.v1.JourneyService/GetFunnel");
  if (!who.ok()) return FinishWith(context, who.status());
  FunnelWindow window;
  std::vector<status::FieldViolation> v =
      ValidateFunnel(*request, clock_(), &window);
  if (!v.empty()) {
    return FinishWith(context,
                      status::InvalidArgumentError("invalid window", v));
  }
  absl::StatusOr<Funnel> funnel = store_.GetFunnel(window.start, window.end);
  if (!funnel.ok()) return FinishWith(context, funnel.status());
  for (const auto& [stage, n] : funnel->stages) {
    auto* s = response->add_stages();
    s->set_stage(stage);
    s->set_customers(n);
  }
  for (const auto& [edge, n] : funnel->transitions) {
    auto* t = response->add_transitions();
    t->set_from_stage(edge.first);
    t->set_to_stage(edge.second);
    t->set_customers(n);
  }
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* JourneyServiceImpl::ForgetCustomer(
    grpc::CallbackServerContext* context,
    const omnicx::v1::ForgetCustomerRequest* request,
    omnicx::v1::ForgetCustomerResponse* response) {
  absl::StatusOr<auth::Principal> who =
      auth_.Authorize(*context, "/omnicx.v1.JourneyService/ForgetCustomer");
  if (!who.ok()) return FinishWith(context, who.status());
  // By id only: the profile service calls this while the identity index
  // still names the customer, and an id is all an erasure needs.
  std::vector<status::FieldViolation> v = ValidateForget(*request);
  if (!v.empty()) {
    return FinishWith(context,
                      status::InvalidArgumentError("invalid customer id", v));
  }
  absl::StatusOr<bool> forgotten = store_.Forget(request->customer_id());
  if (!forgotten.ok()) return FinishWith(context, forgotten.status());
  response->set_forgotten(*forgotten);
  return FinishWith(context, absl::OkStatus());
}

}  // namespace omnicx::journey
