// gRPC adapter of the journey service: validates requests, finds the
// customer through the identity index (any CustomerRef works), reads the
// JourneyStore and answers with the pure functions of journey_state.h and
// pain_points.h; absl::Status maps to grpc::Status in one place
// (status::ToGrpcStatus).
//
//   JourneyServiceImpl service(store, directory, model, authenticator);
//   builder.RegisterService(&service);
#ifndef OMNICX_SERVICES_JOURNEY_JOURNEY_SERVICE_H_
#define OMNICX_SERVICES_JOURNEY_JOURNEY_SERVICE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/auth/authenticator.h"
#include "libs/identity/directory.h"
#include "omnicx/v1/journey.grpc.pb.h"
#include "services/journey/journey_model.h"
#include "services/journey/journey_store.h"

namespace omnicx::journey {

class JourneyServiceImpl final
    : public omnicx::v1::JourneyService::CallbackService {
 public:
  // Every call passes `auth` first.
  JourneyServiceImpl(JourneyStore& store,
                     const identity::CustomerDirectory& directory,
                     const CompiledModel& model, auth::Authenticator& auth,
                     std::function<absl::Time()> clock = absl::Now)
      : store_(store),
        directory_(directory),
        model_(model),
        auth_(auth),
        clock_(std::move(clock)) {}

  grpc::ServerUnaryReactor* GetJourney(
      grpc::CallbackServerContext* context,
      const omnicx::v1::GetJourneyRequest* request,
      omnicx::v1::GetJourneyResponse* response) override;

  grpc::ServerUnaryReactor* ListPainPoints(
      grpc::CallbackServerContext* context,
      const omnicx::v1::ListPainPointsRequest* request,
      omnicx::v1::ListPainPointsResponse* response) override;

  grpc::ServerUnaryReactor* GetFunnel(
      grpc::CallbackServerContext* context,
      const omnicx::v1::GetFunnelRequest* request,
      omnicx::v1::GetFunnelResponse* response) override;

  grpc::ServerUnaryReactor* GetChurnModel(
      grpc::CallbackServerContext* context,
      const omnicx::v1::GetChurnModelRequest* request,
      omnicx::v1::GetChurnModelResponse* response) override;

  grpc::ServerUnaryReactor* ForgetCustomer(
      grpc::CallbackServerContext* context,
      const omnicx::v1::ForgetCustomerRequest* request,
      omnicx::v1::ForgetCustomerResponse* response) override;

 private:
  // The pain-point aggregates, read at most once per kAggregatesMaxAge: the
  // hash has a few fields per (stage, touchpoint) and ListPainPoints may be
  // polled by dashboards.
  absl::StatusOr<std::shared_ptr<const std::map<std::string, double>>>
  Aggregates();

  JourneyStore& store_;
  const identity::CustomerDirectory& directory_;
  const CompiledModel& model_;
  auth::Authenticator& auth_;
  std::function<absl::Time()> clock_;
  absl::Mutex mu_;
  std::shared_ptr<const std::map<std::string, double>> aggregates_
      ABSL_GUARDED_BY(mu_);
  absl::Time aggregates_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace omnicx::journey

#endif  // OMNICX_SERVICES_JOURNEY_JOURNEY_SERVICE_H_
