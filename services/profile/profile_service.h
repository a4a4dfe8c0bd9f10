// gRPC adapter of the profile service: translates requests to ProfileStore
// calls and maps absl::Status to grpc::Status in one place
// (status::ToGrpcStatus). Built so far: GetProfile (identity values masked),
// GetTimeline, UpdateTraits, SetConsent, GetCustomerContext (through the
// ContextAssembler), ExportCustomer, EraseCustomer, LinkIdentities and
// MergeProfiles.
#ifndef OMNICX_SERVICES_PROFILE_PROFILE_SERVICE_H_
#define OMNICX_SERVICES_PROFILE_PROFILE_SERVICE_H_

#include "libs/audit/audit_log.h"
#include "libs/auth/authenticator.h"
#include "omnicx/v1/journey.grpc.pb.h"
#include "omnicx/v1/profile.grpc.pb.h"
#include "services/profile/context_assembler.h"
#include "services/profile/profile_store.h"

namespace omnicx::profile {

class ProfileServiceImpl final
    : public omnicx::v1::ProfileService::CallbackService {
 public:
  // Every call passes `auth` first. `assembler` may be null
  // (GetCustomerContext then answers UNIMPLEMENTED). `journey`, when set, is
  // told to forget an erased customer (their share of its analytics) before
  // their keys are deleted, with `credential` (this service's own); when it
  // cannot, EraseCustomer answers UNAVAILABLE (RetryInfo) with the erasure
  // pending, and a retry completes it.
  // `audit` records exports, erasures, consents, merges and links before
  // they happen (an operation whose record fails is refused); null only in
  // tests that do not look at it.
  ProfileServiceImpl(ProfileStore& store, auth::Authenticator& auth,
                     ContextAssembler* assembler = nullptr,
                     std::function<absl::Time()> clock = absl::Now,
                     std::shared_ptr<grpc::Channel> journey = nullptr,
                     auth::ServiceCredential credential = {},
                     const audit::AuditLog* audit = nullptr)
      : store_(store),
        auth_(auth),
        assembler_(assembler),
        clock_(std::move(clock)),
        journey_(journey ? omnicx::v1::JourneyService::NewStub(journey)
                         : nullptr),
        credential_(std::move(credential)),
        audit_(audit) {}

  grpc::ServerUnaryReactor* GetCustomerContext(
      grpc::CallbackServerContext* context,
      const omnicx::v1::GetCustomerContextRequest* request,
      omnicx::v1::CustomerContext* response) override;

  grpc::ServerUnaryReactor* GetProfile(
      grpc::CallbackServerContext* context,
      const omnicx::v1::GetProfileRequest* request,
      omnicx::v1::GetProfileResponse* response) override;

  grpc::ServerUnaryReactor* UpdateTraits(
      grpc::CallbackServerContext* context,
      const omnicx::v1::UpdateTraitsRequest* request,
      omnicx::v1::UpdateTraitsResponse* response) override;

  grpc::ServerUnaryReactor* SetConsent(
      grpc::CallbackServerContext* context,
      const omnicx::v1::SetConsentRequest* request,
      omnicx::v1::SetConsentResponse* response) override;

  grpc::ServerUnaryReactor* LinkIdentities(
      grpc::CallbackServerContext* context,
      const omnicx::v1::LinkIdentitiesRequest* request,
      omnicx::v1::LinkIdentitiesResponse* response) override;

  grpc::ServerUnaryReactor* MergeProfiles(
      grpc::CallbackServerContext* context,
      const omnicx::v1::MergeProfilesRequest* request,
      omnicx::v1::MergeProfilesResponse* response) override;

  grpc::ServerUnaryReactor* ExportCustomer(
      grpc::CallbackServerContext* context,
      const omnicx::v1::ExportCustomerRequest* request,
      omnicx::v1::ExportCustomerResponse* response) override;

  grpc::ServerUnaryReactor* EraseCustomer(
      grpc::CallbackServerContext* context,
      const omnicx::v1::EraseCustomerRequest* request,
      omnicx::v1::EraseCustomerResponse* response) override;

  grpc::ServerUnaryReactor* GetTimeline(
      grpc::CallbackServerContext* context,
      const omnicx::v1::GetTimelineRequest* request,
      omnicx::v1::GetTimelineResponse* response) override;

 private:
  ProfileStore& store_;
  auth::Authenticator& auth_;
  ContextAssembler* assembler_;
  std::function<absl::Time()> clock_;
  std::unique_ptr<omnicx::v1::JourneyService::Stub> journey_;
  // OK when there is no audit log (tests), else the record's status.
  absl::Status Audit(const auth::Principal& who, absl::string_view action,
                     absl::string_view customer_id,
                     absl::string_view detail = "") const {
    if (audit_ == nullptr) return absl::OkStatus();
    return audit_->Record(who, action, customer_id, detail);
  }

  auth::ServiceCredential credential_;
  const audit::AuditLog* audit_;
};

}  // namespace omnicx::profile

#endif  // OMNICX_SERVICES_PROFILE_PROFILE_SERVICE_H_
