// gRPC adapter of the recommendation service: validates requests (bad input
// is INVALID_ARGUMENT with BadRequest field violations and writes nothing),
// hands them to the Recommender, RecommendationStore and CatalogWatcher, and
// maps absl::Status to grpc::Status in one place (status::ToGrpcStatus).
#ifndef OMNICX_SERVICES_RECOMMENDATION_RECOMMENDATION_SERVICE_H_
#define OMNICX_SERVICES_RECOMMENDATION_RECOMMENDATION_SERVICE_H_

#include "libs/audit/audit_log.h"
#include "libs/auth/authenticator.h"
#include "omnicx/v1/recommendation.grpc.pb.h"
#include "services/recommendation/catalog_watcher.h"
#include "services/recommendation/recommendation_store.h"
#include "services/recommendation/recommender.h"

namespace omnicx::recommendation {

class RecommendationServiceImpl final
    : public omnicx::v1::RecommendationService::CallbackService {
 public:
  // Every call passes `auth` first. `audit` records catalog changes before
  // they happen (null only in tests that do not look at it).
  RecommendationServiceImpl(Recommender& recommender,
                            RecommendationStore& store, CatalogWatcher& watcher,
                            int prior_strength, auth::Authenticator& auth,
                            const audit::AuditLog* audit = nullptr)
      : recommender_(recommender),
        store_(store),
        watcher_(watcher),
        prior_strength_(prior_strength),
        auth_(auth),
        audit_(audit) {}

  grpc::ServerUnaryReactor* Recommend(
      grpc::CallbackServerContext* context,
      const omnicx::v1::RecommendRequest* request,
      omnicx::v1::RecommendResponse* response) override;

  // Internal: only the profile service's identity (policy.cc).
  grpc::ServerUnaryReactor* DecideForContext(
      grpc::CallbackServerContext* context,
      const omnicx::v1::DecideForContextRequest* request,
      omnicx::v1::DecideForContextResponse* response) override;

  grpc::ServerUnaryReactor* RecordOutcome(
      grpc::CallbackServerContext* context,
      const omnicx::v1::RecordOutcomeRequest* request,
      omnicx::v1::RecordOutcomeResponse* response) override;

  grpc::ServerUnaryReactor* ListActions(
      grpc::CallbackServerContext* context,
      const omnicx::v1::ListActionsRequest* request,
      omnicx::v1::ListActionsResponse* response) override;

  grpc::ServerUnaryReactor* UpsertAction(
      grpc::CallbackServerContext* context,
      const omnicx::v1::UpsertActionRequest* request,
      omnicx::v1::UpsertActionResponse* response) override;

  grpc::ServerUnaryReactor* GetActionStats(
      grpc::CallbackServerContext* context,
      const omnicx::v1::GetActionStatsRequest* request,
      omnicx::v1::GetActionStatsResponse* response) override;

 private:
  Recommender& recommender_;
  RecommendationStore& store_;
  CatalogWatcher& watcher_;
  const int prior_strength_;
  auth::Authenticator& auth_;
  const audit::AuditLog* audit_;
};

}  // namespace omnicx::recommendation

#endif  // OMNICX_SERVICES_RECOMMENDATION_RECOMMENDATION_SERVICE_H_
