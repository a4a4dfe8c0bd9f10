#include "libs/auth/policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace omnicx::auth {
namespace {

std::vector<MethodPolicy> BuildPolicies() {
  const Role app = Role::kApp, agent = Role::kAgent, service = Role::kService,
             analyst = Role::kAnalyst, internal = Role::kInternal;
  return {
      // --- ingestion ---
      {"/omnicx.v1.IngestionService/Track", {app}, {}},
      {"/omnicx.v1.IngestionService/TrackBatch", {app}, {}},
      {"/omnicx.v1.IngestionService/TrackStream", {app}, {}},
      // --- profile ---
      {"/omnicx.v1.ProfileService/GetProfile", {agent, service}, {}},
      {"/omnicx.v1.ProfileService/GetTimeline", {agent}, {}},
      {"/omnicx.v1.ProfileService/GetCustomerContext", {agent}, {}},
      {"/omnicx.v1.ProfileService/SetConsent", {agent}, {}},
      {"/omnicx.v1.ProfileService/UpdateTraits", {}, {}},
      {"/omnicx.v1.ProfileService/LinkIdentities", {}, {}},
      {"/omnicx.v1.ProfileService/MergeProfiles", {}, {}},
      {"/omnicx.v1.ProfileService/ExportCustomer", {}, {}},
      {"/omnicx.v1.ProfileService/EraseCustomer", {}, {}},
      // --- journey ---
      {"/omnicx.v1.JourneyService/GetJourney",
       {agent, service, internal},
       {"profile"}},
      {"/omnicx.v1.JourneyService/ListPainPoints", {analyst}, {}},
      {"/omnicx.v1.JourneyService/GetFunnel", {analyst}, {}},
      {"/omnicx.v1.JourneyService/GetChurnModel", {analyst}, {}},
      {"/omnicx.v1.JourneyService/ForgetCustomer", {internal}, {"profile"}},
      // --- recommendation ---
      {"/omnicx.v1.RecommendationService/Recommend",
       {agent, service, internal},
       {"profile"}},
      {"/omnicx.v1.RecommendationService/DecideForContext",
       {internal},
       {"profile"}},
      {"/omnicx.v1.RecommendationService/RecordOutcome", {agent, service}, {}},
      {"/omnicx.v1.RecommendationService/ListActions", {analyst}, {}},
      {"/omnicx.v1.RecommendationService/GetActionStats", {analyst}, {}},
      {"/omnicx.v1.RecommendationService/UpsertAction", {}, {}},
      // --- every consumer service (profile, journey, recommendation) ---
      {"/omnicx.v1.DeadLetterService/ListDeadLetters", {}, {}},
      {"/omnicx.v1.DeadLetterService/GetDeadLetter", {}, {}},
      {"/omnicx.v1.DeadLetterService/ReplayDeadLetter", {}, {}},
      {"/omnicx.v1.DeadLetterService/DropDeadLetter", {}, {}},
  };
}

}  // namespace

const std::vector<MethodPolicy>& Policies() {
  static const std::vector<MethodPolicy>* policies =
      new std::vector<MethodPolicy>(BuildPolicies());
  return *policies;
}

absl::string_view ShortMethodName(absl::string_view method) {
  const size_t slash = method.rfind('/');
  return slash == absl::string_view::npos ? method : method.substr(slash + 1);
}

absl::Status CheckAllowed(const Principal& principal,
                          absl::string_view method) {
  if (principal.role == Role::kAdmin) return absl::OkStatus();
  for (const MethodPolicy& p : Policies()) {
    if (p.method != method) continue;
    if (std::find(p.roles.begin(), p.roles.end(), principal.role) ==
        p.roles.end()) {
      break;
    }
    if (principal.role == Role::kInternal &&
        std::find(p.internal_callers.begin(), p.internal_callers.end(),
                  principal.name) == p.internal_callers.end()) {
      break;
    }
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("role ", RoleName(principal.role), " may not call ",
                   ShortMethodName(method)));
}

}  // namespace omnicx::auth
