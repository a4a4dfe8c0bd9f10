#include "services/profile/profile_service.h"

#include "absl/strings/str_cat.h"
#include "libs/identity/read_mask.h"
#include "libs/logging/log.h"
#include "libs/server/reactor.h"
#include "libs/status/error_details.h"
#include "libs/time/proto_time.h"
#include "services/profile/request_validation.h"

namespace omnicx::profile {

using ::omnicx::server::FinishWith;

namespace {

// The customer a request names; bad references become field violations.
absl::StatusOr<std::string> Find(ProfileStore& store,
                                 const omnicx::v1::CustomerRef& ref) {
  return store.directory().LookupRequest(ref);
}

// The profile as reads return it: identity values masked
// (libs/identity/read_mask.h).
omnicx::v1::Profile Masked(omnicx::v1::Profile profile) {
  identity::MaskProfileForRead(&profile);
  return profile;
}

}  // namespace

grpc::ServerUnaryReactor* ProfileServiceImpl::GetProfile(
    grpc::CallbackServerContext* context,
    const omnicx::v1::GetProfileRequest* request,
    omnicx::v1::GetProfileResponse* response) {
  absl::StatusOr<auth::Principal> who =
      auth_.Authorize(*context, "/omnicx.v1.ProfileService/GetProfile");
  if (!who.ok()) return FinishWith(context, who.status());
  // The profile is read in the round trip that finds the customer.
  redis::PipelineReplies reads;
  absl::StatusOr<std::string> cid = store_.directory().LookupRequest(
      request->customer(),
      [this](const std::string& id) { return store_.ProfileReads(id); },
      &reads);
  if (!cid.ok()) return FinishWith(context, cid.status());
  absl::StatusOr<omnicx::v1::Profile> profile =
      store_.ParseProfile(*cid, reads, 0);
  if (!profile.ok()) return FinishWith(context, profile.status());
  *response->mutable_profile() = Masked(std::move(*profile));
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* ProfileServiceImpl::UpdateTraits(
    grpc::CallbackServerContext* context,
    const omnicx::v1::UpdateTraitsRequest* request,
    omnicx::v1::UpdateTraitsResponse* response) {
  absl::StatusOr<auth::Principal> who =
      auth_.Authorize(*context, "/omnicx.v1.ProfileService/UpdateTraits");
  if (!who.ok()) return FinishWith(context, who.status());
  std::vector<status::FieldViolation> v = ValidateTraits(request->traits());
  if (!v.empty()) {
    return FinishWith(context,
                      status::InvalidArgumentError("invalid traits", v));
  }
  absl::StatusOr<std::string> cid = Find(store_, request->customer());
  if (!cid.ok()) return FinishWith(context, cid.status());
  absl::StatusOr<std::string> written = store_.UpdateTraits(
      *cid, request->traits(), request->replace(), clock_());
  if (!written.ok()) return FinishWith(context, written.status());
  absl::StatusOr<omnicx::v1::Profile> profile = store_.GetProfile(*written);
  if (!profile.ok()) return FinishWith(context, profile.status());
  *response->mutable_profile() = Masked(std::move(*profile));
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* ProfileServiceImpl::SetConsent(
    grpc::CallbackServerContext* context,
    const omnicx::v1::SetConsentRequest* request,
    omnicx::v1::SetConsentResponse* response) {
  absl::StatusOr<auth::Principal> who =
      auth_.Authorize(*context, "/omnicx.v1.ProfileService/SetConsent");
  if (!who.ok()) return FinishWith(context, who.status());
  std::vector<status::FieldViolation> v = ValidateConsent(*request, clock_());
  if (!v.empty()) {
    return FinishWith(context,
                      status::InvalidArgumentError("invalid consent", v));
  }
  absl::StatusOr<std::string> cid = Find(store_, request->customer());
  if (!cid.ok()) return FinishWith(context, cid.status());
  absl::Status audited =
      Audit(*who, "consent", *cid,
            absl::StrCat("purpose=", request->purpose(),
                         " granted=", request->granted() ? "true" : "false"));
  if (!audited.ok()) return FinishWith(context, audited);
  omnicx::v1::Consent consent;
  consent.set_purpose(request->purpose());
  consent.set_granted(request->granted());
  // Who gave or withdrew it: the agent who recorded it; an admin (a CRM
  // import) may name the source.
  consent.set_source(who->role == auth::Role::kAdmin &&
                             !request->source().empty()
                         ? request->source()
                         : who->name);
  if (request->has_occurred_at()) {
    *consent.mutable_updated_at() = request->occurred_at();
  } else {
    // Kept to the millisecond, like every time the profile stores.
    *consent.mutable_updated_at() =
        time::TimestampFromUnixMillis(absl::ToUnixMillis(clock_()));
  }
  absl::StatusOr<std::string> written = store_.SetConsent(*cid, consent);
  if (!written.ok()) return FinishWith(context, written.status());
  absl::StatusOr<omnicx::v1::Profile> profile = store_.GetProfile(*written);
  if (!profile.ok()) return FinishWith(context, profile.status());
  for (auto& c : *profile->mutable_consents()) {
    identity::MaskConsentForRead(&c);
    *response->add_consents() = std::move(c);
  }
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* ProfileServiceImpl::GetCustomerContext(
    grpc::CallbackServerContext* context,
    const omnicx::v1::GetCustomerContextRequest* request,
    omnicx::v1::CustomerContext* response) {
  absl::StatusOr<auth::Principal> who =
      auth_.Authorize(*context, "/omnicx.v1.ProfileService/GetCustomerContext");
  if (!who.ok()) return FinishWith(context, who.status());
  if (assembler_ == nullptr) {
    return FinishWith(context,
                      absl::UnimplementedError("no context assembler"));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  assembler_->Assemble(
      *request,
      [reactor, response](absl::StatusOr<omnicx::v1::CustomerContext> result) {
        if (result.ok()) *response = std::move(*result);
        reactor->Finish(status::ToGrpcStatus(result.status()));
      },
      who->AuditName());
  return reactor;
}

grpc::ServerUnaryReactor* ProfileServiceImpl::LinkIdentities(
    grpc::CallbackServerContext* context,
    const omnicx::v1::LinkIdentitiesRequest* request,
    omnicx::v1::LinkIdentitiesResponse* response) {
  absl::StatusOr<auth::Principal> who =
      auth_.Authorize(*context, "/omnicx.v1.ProfileService/LinkIdentities");
  if (!who.ok()) return FinishWith(context, who.status());
  // Identities are normalised exactly as at ingestion; bad ones are named.
  google::protobuf::RepeatedPtrField<omnicx::v1::Identity> identities;
  std::vector<status::FieldViolation> violations =
      ValidateLinkIdentities(*request, &identities);
  if (!violations.empty()) {
    return FinishWith(context, status::InvalidArgumentError(
                                   "invalid identities", violations));
  }
  absl::StatusOr<std::string> cid = Find(store_, request->customer());
  if (!cid.ok()) return FinishWith(context, cid.status());
  std::string types;
  for (const auto& id : identities) {
    absl::StrAppend(&types, types.empty() ? "" : ",", id.type());
  }
  absl::Status audited =
      Audit(*who, "link", *cid,
            absl::StrCat("types=", types, " count=", identities.size()));
  if (!audited.ok()) return FinishWith(context, audited);
  omnicx::v1::CustomerRef ref;
  ref.set_customer_id(*cid);
  absl::StatusOr<Resolution> linked =
      store_.ResolveAndMerge(ref, identities, clock_(), "call:LinkIdentities");
  if (!linked.ok()) return FinishWith(context, linked.status());
  response->set_customer_id(linked->customer_id);
  for (const auto& m : linked->merged) response->add_merged_ids(m);
  for (const auto& t : linked->refused) {
    response->add_refused(absl::StrCat(
        t, ": shared-device guard (too many identities of this type)"));
  }
  for (const auto& m : linked->merge_refused) {
    response->add_refused(absl::StrCat(
        "merge with ", m, ": shared-device guard would be exceeded"));
  }
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* ProfileServiceImpl::MergeProfiles(
    grpc::CallbackServerContext* context,
    const omnicx::v1::MergeProfilesRequest* request,
    omnicx::v1::MergeProfilesResponse* response) {
  absl::StatusOr<auth::Principal> who =
      auth_.Authorize(*context, "/omnicx.v1.ProfileService/MergeProfiles");
  if (!who.ok()) return FinishWith(context, who.status());
  absl::StatusOr<std::string> a = Find(store_, request->a());
  if (!a.ok()) return FinishWith(context, a.status());
  absl::StatusOr<std::string> b = Find(store_, request->b());
  if (!b.ok()) return FinishWith(context, b.status());
  absl::Status audited =
      Audit(*who, "merge", *a,
            absl::StrCat("with=", audit_ ? audit_->CustomerHash(*b) : ""));
  if (!audited.ok()) return FinishWith(context, audited);
  absl::StatusOr<MergeResult> merged =
      store_.Merge(*a, *b, clock_(), "call:MergeProfiles");
  if (!merged.ok()) return FinishWith(context, merged.status());
  response->set_survivor_id(merged->survivor_id);
  response->set_merged_id(merged->merged_id);
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* ProfileServiceImpl::ExportCustomer(
    grpc::CallbackServerContext* context,
    const omnicx::v1::ExportCustomerRequest* request,
    omnicx::v1::ExportCustomerResponse* response) {
  absl::StatusOr<auth::Principal> who =
      auth_.Authorize(*context, "/omnicx.v1.ProfileService/ExportCustomer");
  if (!who.ok()) return FinishWith(context, who.status());
  absl::StatusOr<std::string> cid = Find(store_, request->customer());
  if (!cid.ok()) return FinishWith(context, cid.status());
  absl::Status audited = Audit(*who, "export", *cid);
  if (!audited.ok()) return FinishWith(context, audited);
  // Everything held, unmasked: this is the data subject's own copy.
  absl::StatusOr<omnicx::v1::Profile> profile = store_.GetProfile(*cid);
  if (!profile.ok()) return FinishWith(context, profile.status());
  absl::StatusOr<std::vector<omnicx::v1::Interaction>> timeline =
      store_.FullTimeline(*cid);
  if (!timeline.ok()) return FinishWith(context, timeline.status());
  absl::StatusOr<std::vector<omnicx::v1::Consent>> history =
      store_.ConsentHistory(*cid);
  if (!history.ok()) return FinishWith(context, history.status());
  *response->mutable_profile() = std::move(*profile);
  for (auto& e : *timeline) *response->add_timeline() = std::move(e);
  for (auto& c : *history) *response->add_consent_history() = std::move(c);
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* ProfileServiceImpl::EraseCustomer(
    grpc::CallbackServerContext* context,
    const omnicx::v1::EraseCustomerRequest* request,
    omnicx::v1::EraseCustomerResponse* response) {
  absl::StatusOr<auth::Principal> who =
      auth_.Authorize(*context, "/omnicx.v1.ProfileService/EraseCustomer");
  if (!who.ok()) return FinishWith(context, who.status());
  absl::StatusOr<std::string> cid = Find(store_, request->customer());
  if (absl::IsNotFound(cid.status())) {
    // A retry whose first attempt completed (its answer was lost): the
    // reference's tombstone says so, and erasing again is done already.
    absl::StatusOr<bool> erased = store_.WasErased(request->customer());
    if (!erased.ok()) return FinishWith(context, erased.status());
    if (*erased) return FinishWith(context, absl::OkStatus());
  }
  if (!cid.ok()) return FinishWith(context, cid.status());
  absl::Status audited = Audit(*who, "erase", *cid);
  if (!audited.ok()) return FinishWith(context, audited);
  // The journey service takes the customer's share out of its analytics
  // once the erasure has fenced them (no journey apply can add it back).
  // The recommendation service needs no such call: everything it keeps
  // about a customer lives under their key stem, which the erasure deletes,
  // and its learning statistics hold no customer data. When the journey
  // cannot forget, the erasure stops before deleting anything and answers
  // UNAVAILABLE; the customer stays fenced and a retry completes it.
  auto forget = [this, caller = who->AuditName()](
                    const std::vector<std::string>& ids) -> absl::Status {
    if (journey_ == nullptr) return absl::OkStatus();
    for (const std::string& id : ids) {
      grpc::ClientContext call;
      credential_.Attach(&call, caller);
      call.set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(1));
      omnicx::v1::ForgetCustomerRequest forget;
      forget.set_customer_id(id);
      omnicx::v1::ForgetCustomerResponse forgotten;
      grpc::Status s = journey_->ForgetCustomer(&call, forget, &forgotten);
      if (!s.ok()) {
        OMNICX_LOG(kWarn) << "erase: the journey service could not forget a "
                             "customer ("
                          << s.error_message()
                          << "); the erasure stays pending until retried";
        return absl::UnavailableError(
            absl::StrCat("the journey service could not forget the customer: ",
                         s.error_message()));
      }
    }
    return absl::OkStatus();
  };
  absl::StatusOr<EraseResult> erased = store_.Erase(*cid, forget);
  if (!erased.ok()) return FinishWith(context, erased.status());
  response->set_keys_deleted(erased->keys_deleted);
  response->set_stream_entries_deleted(erased->stream_entries_deleted);
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* ProfileServiceImpl::GetTimeline(
    grpc::CallbackServerContext* context,
    const omnicx::v1::GetTimelineRequest* request,
    omnicx::v1::GetTimelineResponse* response) {
  absl::StatusOr<auth::Principal> who =
      auth_.Authorize(*context, "/omnicx.v1.ProfileService/GetTimeline");
  if (!who.ok()) return FinishWith(context, who.status());
  std::vector<status::FieldViolation> v = ValidateTimeline(*request);
  if (!v.empty()) {
    return FinishWith(context,
                      status::InvalidArgumentError("invalid page size", v));
  }
  absl::StatusOr<std::string> cid = Find(store_, request->customer());
  if (!cid.ok()) return FinishWith(context, cid.status());
  std::vector<omnicx::v1::Channel> channels;
  for (int c : request->channels()) {
    channels.push_back(static_cast<omnicx::v1::Channel>(c));
  }
  absl::StatusOr<TimelinePage> page = store_.GetTimeline(
      *cid,
      request->page_size() == 0 ? kDefaultTimelinePageSize
                                : request->page_size(),
      request->page_token(), channels,
      request->has_start_time()
          ? std::optional<absl::Time>(time::FromProto(request->start_time()))
          : std::nullopt,
      request->has_end_time()
          ? std::optional<absl::Time>(time::FromProto(request->end_time()))
          : std::nullopt);
  if (!page.ok()) {
    if (absl::IsInvalidArgument(page.status())) {
      return FinishWith(
          context, status::InvalidArgumentError(
                       "invalid page token",
                       {{"page_token", std::string(page.status().message())}}));
    }
    return FinishWith(context, page.status());
  }
  for (auto& e : page->interactions) {
    // Identity values are masked in every read but ExportCustomer.
    identity::MaskInteractionForRead(&e);
    *response->add_interactions() = std::move(e);
  }
  response->set_next_page_token(page->next_page_token);
  return FinishWith(context, absl::OkStatus());
}

}  // namespace omnicx::profile
