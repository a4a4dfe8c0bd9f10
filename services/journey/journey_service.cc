#include "services/journey/journey_service.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "libs/identity/normalize.h"
#include "libs/server/reactor.h"
#include "libs/status/error_details.h"
#include "services/journey/churn_learner.h"
#include "services/journey/pain_points.h"

namespace omnicx::journey {

using ::omnicx::server::FinishWith;

namespace {

using google::protobuf::util::TimeUtil;

constexpr int kDefaultPainPoints = 10;
constexpr int kMaxPainPoints = 100;
constexpr int kDefaultImportances = 50;
constexpr int kMaxImportances = 500;
constexpr absl::Duration kDefaultFunnelWindow = absl::Hours(24 * 30);
constexpr absl::Duration kMaxFunnelWindow = absl::Hours(24 * 400);
constexpr absl::Duration kAggregatesMaxAge = absl::Seconds(1);

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

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
  if (request->limit() < 0 || request->limit() > kMaxImportances) {
    return FinishWith(
        context,
        status::InvalidArgumentError(
            "invalid churn model query",
            {{"limit", absl::StrCat("must be between 0 and ", kMaxImportances,
                                    " (0 = ", kDefaultImportances, ")")}}));
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
  std::vector<status::FieldViolation> violations;
  if (request->limit() < 0 || request->limit() > kMaxPainPoints) {
    violations.push_back(
        {"limit", absl::StrCat("must be between 0 and ", kMaxPainPoints,
                               " (0 = ", kDefaultPainPoints, ")")});
  }
  if (!omnicx::v1::Channel_IsValid(request->channel())) {
    violations.push_back({"channel", "unknown channel"});
  }
  if (!omnicx::v1::Stage_IsValid(request->stage())) {
    violations.push_back({"stage", "unknown stage"});
  }
  if (request->owner().size() > 64) {
    violations.push_back({"owner", "at most 64 characters"});
  }
  if (!violations.empty()) {
    return FinishWith(context, status::InvalidArgumentError(
                                   "invalid pain-point query", violations));
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
  std::vector<status::FieldViolation> violations;
  for (const auto& [name, t] :
       {std::make_pair("start_time", &request->start_time()),
        std::make_pair("end_time", &request->end_time())}) {
    if (t->seconds() < TimeUtil::kTimestampMinSeconds ||
        t->seconds() > TimeUtil::kTimestampMaxSeconds || t->nanos() < 0 ||
        t->nanos() > 999999999) {
      violations.push_back({name, "not a valid timestamp"});
    }
  }
  if (!violations.empty()) {
    return FinishWith(
        context, status::InvalidArgumentError("invalid window", violations));
  }
  const absl::Time end =
      request->has_end_time() ? ToTime(request->end_time()) : clock_();
  const absl::Time start = request->has_start_time()
                               ? ToTime(request->start_time())
                               : end - kDefaultFunnelWindow;
  if (start > end) {
    violations.push_back({"start_time", "must not be after end_time"});
  } else if (end - start > kMaxFunnelWindow) {
    violations.push_back({"start_time", "the window is at most 400 days"});
  }
  if (!violations.empty()) {
    return FinishWith(
        context, status::InvalidArgumentError("invalid window", violations));
  }
  absl::StatusOr<Funnel> funnel = store_.GetFunnel(start, end);
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
  if (!identity::IsVisibleAsciiId(request->customer_id(), 128)) {
    return FinishWith(
        context, status::InvalidArgumentError("invalid customer id",
                                              {{"customer_id",
                                                "must be 1-128 visible ASCII "
                                                "characters"}}));
  }
  absl::StatusOr<bool> forgotten = store_.Forget(request->customer_id());
  if (!forgotten.ok()) return FinishWith(context, forgotten.status());
  response->set_forgotten(*forgotten);
  return FinishWith(context, absl::OkStatus());
}

}  // namespace omnicx::journey
