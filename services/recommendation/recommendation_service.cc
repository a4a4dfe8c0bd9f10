#include "services/recommendation/recommendation_service.h"

#include "absl/strings/str_cat.h"
#include "libs/server/reactor.h"
#include "libs/status/error_details.h"
#include "services/recommendation/learning.h"
#include "services/recommendation/request_validation.h"

namespace omnicx::recommendation {

using ::omnicx::server::FinishWith;

namespace {

absl::Time Deadline(const grpc::CallbackServerContext* context) {
  const auto deadline = context->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(deadline);
}

void FillStats(const omnicx::v1::Action& action, const std::string& segment,
               const SegmentCounts& c, int prior_strength,
               omnicx::v1::ActionSegmentStats* out) {
  out->set_action_id(action.action_id());
  out->set_segment(segment);
  out->set_impressions(c.impressions);
  out->set_accepts(c.accepts);
  out->set_rejects(c.rejects);
  out->set_ignores(c.ignores);
  out->set_conversions(c.conversions);
  out->set_accept_rate(
      c.impressions > 0 ? static_cast<double>(c.accepts) / c.impressions : 0.0);
  const BetaPosterior p = Posterior(action, c, prior_strength);
  out->set_alpha(p.alpha);
  out->set_beta(p.beta);
  out->set_posterior_mean(p.mean());
}

}  // namespace

grpc::ServerUnaryReactor* RecommendationServiceImpl::Recommend(
    grpc::CallbackServerContext* context,
    const omnicx::v1::RecommendRequest* request,
    omnicx::v1::RecommendResponse* response) {
  absl::StatusOr<auth::Principal> who =
      auth_.Authorize(*context, "/omnicx.v1.RecommendationService/Recommend");
  if (!who.ok()) return FinishWith(context, who.status());
  std::vector<status::FieldViolation> v = ValidateRecommend(*request);
  if (!v.empty()) {
    return FinishWith(
        context, status::InvalidArgumentError("invalid recommend request", v));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  recommender_.Recommend(
      *request, Deadline(context),
      [reactor,
       response](absl::StatusOr<omnicx::v1::RecommendResponse> result) {
        if (result.ok()) *response = std::move(*result);
        reactor->Finish(status::ToGrpcStatus(result.status()));
      });
  return reactor;
}

grpc::ServerUnaryReactor* RecommendationServiceImpl::DecideForContext(
    grpc::CallbackServerContext* context,
    const omnicx::v1::DecideForContextRequest* request,
    omnicx::v1::DecideForContextResponse* response) {
  absl::StatusOr<auth::Principal> who = auth_.Authorize(
      *context, "/omnicx.v1.RecommendationService/DecideForContext");
  if (!who.ok()) return FinishWith(context, who.status());
  std::vector<status::FieldViolation> v = ValidateDecideForContext(*request);
  if (!v.empty()) {
    return FinishWith(context, status::InvalidArgumentError(
                                   "invalid decide-for-context request", v));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  recommender_.DecideForContext(
      *request, Deadline(context),
      [reactor,
       response](absl::StatusOr<omnicx::v1::DecideForContextResponse> result) {
        if (result.ok()) *response = std::move(*result);
        reactor->Finish(status::ToGrpcStatus(result.status()));
      });
  return reactor;
}

grpc::ServerUnaryReactor* RecommendationServiceImpl::RecordOutcome(
    grpc::CallbackServerContext* context,
    const omnicx::v1::RecordOutcomeRequest* request,
    omnicx::v1::RecordOutcomeResponse* response) {
  absl::StatusOr<auth::Principal> who = auth_.Authorize(
      *context, "/omnicx.v1.RecommendationService/RecordOutcome");
  if (!who.ok()) return FinishWith(context, who.status());
  std::vector<status::FieldViolation> v = ValidateOutcome(*request);
  if (!v.empty()) {
    return FinishWith(context,
                      status::InvalidArgumentError("invalid outcome", v));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  recommender_.RecordOutcome(
      *request, Deadline(context),
      [reactor,
       response](absl::StatusOr<omnicx::v1::RecordOutcomeResponse> result) {
        if (result.ok()) *response = std::move(*result);
        reactor->Finish(status::ToGrpcStatus(result.status()));
      });
  return reactor;
}

grpc::ServerUnaryReactor* RecommendationServiceImpl::ListActions(
    grpc::CallbackServerContext* context,
    const omnicx::v1::ListActionsRequest* /*request*/,
    omnicx::v1::ListActionsResponse* response) {
  absl::StatusOr<auth::Principal> who =
      auth_.Authorize(*context, "/omnicx.v1.RecommendationService/ListActions");
  if (!who.ok()) return FinishWith(context, who.status());
  absl::StatusOr<CatalogSnapshot> snapshot = store_.LoadCatalog();
  if (!snapshot.ok()) return FinishWith(context, snapshot.status());
  response->set_version(snapshot->version);
  for (omnicx::v1::Action& a : snapshot->actions) {
    *response->add_actions() = std::move(a);
  }
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* RecommendationServiceImpl::UpsertAction(
    grpc::CallbackServerContext* context,
    const omnicx::v1::UpsertActionRequest* request,
    omnicx::v1::UpsertActionResponse* response) {
  absl::StatusOr<auth::Principal> who = auth_.Authorize(
      *context, "/omnicx.v1.RecommendationService/UpsertAction");
  if (!who.ok()) return FinishWith(context, who.status());
  std::vector<status::FieldViolation> v = ValidateUpsert(*request);
  if (!v.empty()) {
    return FinishWith(context,
                      status::InvalidArgumentError("invalid action", v));
  }
  if (audit_ != nullptr) {
    absl::Status audited = audit_->Record(
        *who, "catalog_upsert", "",
        absl::StrCat("action_id=", request->action().action_id()));
    if (!audited.ok()) return FinishWith(context, audited);
  }
  absl::StatusOr<int64_t> version = store_.UpsertAction(request->action());
  if (!version.ok()) return FinishWith(context, version.status());
  response->set_version(*version);
  // This replica serves it at once; the others within their refresh
  // interval.
  (void)watcher_.RefreshCatalog();
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* RecommendationServiceImpl::GetActionStats(
    grpc::CallbackServerContext* context,
    const omnicx::v1::GetActionStatsRequest* request,
    omnicx::v1::GetActionStatsResponse* response) {
  absl::StatusOr<auth::Principal> who = auth_.Authorize(
      *context, "/omnicx.v1.RecommendationService/GetActionStats");
  if (!who.ok()) return FinishWith(context, who.status());
  absl::StatusOr<CatalogSnapshot> catalog = store_.LoadCatalog();
  if (!catalog.ok()) return FinishWith(context, catalog.status());
  bool known = request->action_id().empty();
  for (const auto& a : catalog->actions) {
    known = known || a.action_id() == request->action_id();
  }
  if (!known) {
    return FinishWith(context, absl::NotFoundError(absl::StrCat(
                                   "no action ", request->action_id())));
  }
  absl::StatusOr<StatsTable> stats = store_.LoadStats();
  if (!stats.ok()) return FinishWith(context, stats.status());
  std::vector<StatsTable::Row> rows = stats->Rows();
  size_t next = 0;
  for (const omnicx::v1::Action& a : catalog->actions) {
    while (next < rows.size() && rows[next].action_id < a.action_id()) ++next;
    if (!request->action_id().empty() &&
        a.action_id() != request->action_id()) {
      continue;
    }
    // "all" first (zeros before any outcome), then segments by name.
    FillStats(a, std::string(kAllSegments),
              stats->Find(a.action_id(), kAllSegments), prior_strength_,
              response->add_stats());
    for (size_t i = next; i < rows.size() && rows[i].action_id == a.action_id();
         ++i) {
      if (rows[i].segment == kAllSegments) continue;
      FillStats(a, rows[i].segment, rows[i].counts, prior_strength_,
                response->add_stats());
    }
  }
  return FinishWith(context, absl::OkStatus());
}

}  // namespace omnicx::recommendation
