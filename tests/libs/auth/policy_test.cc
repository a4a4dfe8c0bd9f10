#include "libs/auth/policy.h"

#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"
#include "libs/testing/api_methods.h"

namespace omnicx::auth {
namespace {

using ::omnicx::status::IsOk;
using ::omnicx::status::StatusIs;

std::vector<std::string> AllMethods() {
  return omnicx::testing::AllApiMethods();
}

TEST(PolicyTest, EveryMethodOfEveryServiceIsListed) {
  std::set<std::string> listed;
  for (const MethodPolicy& p : Policies()) listed.insert(std::string(p.method));
  const std::vector<std::string> methods = AllMethods();
  EXPECT_EQ(methods.size(), listed.size());
  for (const std::string& m : methods) {
    EXPECT_TRUE(listed.count(m)) << m << " has no policy entry";
  }
}

// The role table, written out independently of policy.cc.
TEST(PolicyTest, EachRoleMayCallExactlyItsMethods) {
  const std::map<Role, std::set<std::string>> allowed = {
      {Role::kApp, {"Track", "TrackBatch", "TrackStream"}},
      {Role::kAgent,
       {"GetCustomerContext", "GetProfile", "GetTimeline", "GetJourney",
        "Recommend", "RecordOutcome", "SetConsent"}},
      {Role::kService,
       {"Recommend", "RecordOutcome", "GetJourney", "GetProfile"}},
      {Role::kAnalyst,
       {"ListPainPoints", "GetFunnel", "GetChurnModel", "GetActionStats",
        "ListActions"}},
  };
  for (const std::string& method : AllMethods()) {
    const std::string short_name(ShortMethodName(method));
    for (const auto& [role, methods] : allowed) {
      Principal p;
      p.role = role;
      p.name = "caller";
      if (methods.count(short_name)) {
        EXPECT_THAT(CheckAllowed(p, method), IsOk())
            << RoleName(role) << " " << method;
      } else {
        EXPECT_THAT(CheckAllowed(p, method),
                    StatusIs(absl::StatusCode::kPermissionDenied))
            << RoleName(role) << " " << method;
      }
    }
    Principal admin;
    admin.role = Role::kAdmin;
    EXPECT_THAT(CheckAllowed(admin, method), IsOk()) << method;
  }
}

TEST(PolicyTest, InternalCallersAreNamedPerMethod) {
  Principal profile{.tenant = "t", .role = Role::kInternal, .name = "profile"};
  Principal reco{
      .tenant = "t", .role = Role::kInternal, .name = "recommendation"};
  Principal other{.tenant = "t", .role = Role::kInternal, .name = "ingestion"};
  const std::string forget = "/omnicx.v1.JourneyService/ForgetCustomer";
  EXPECT_THAT(CheckAllowed(profile, forget), IsOk());
  EXPECT_THAT(CheckAllowed(reco, forget),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // The recommendation calls no service: it reads Redis.
  EXPECT_THAT(CheckAllowed(reco, "/omnicx.v1.ProfileService/GetProfile"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(CheckAllowed(reco, "/omnicx.v1.JourneyService/GetJourney"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(CheckAllowed(profile, "/omnicx.v1.JourneyService/GetJourney"),
              IsOk());
  EXPECT_THAT(CheckAllowed(profile, "/omnicx.v1.ProfileService/GetProfile"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(
      CheckAllowed(profile, "/omnicx.v1.RecommendationService/Recommend"),
      IsOk());
  const std::string decide =
      "/omnicx.v1.RecommendationService/DecideForContext";
  EXPECT_THAT(CheckAllowed(profile, decide), IsOk());
  EXPECT_THAT(CheckAllowed(reco, decide),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(CheckAllowed(other, decide),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(CheckAllowed(other, "/omnicx.v1.JourneyService/GetJourney"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(CheckAllowed(profile, "/omnicx.v1.ProfileService/EraseCustomer"),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(PolicyTest, AnUnlistedMethodIsDeniedToAllButAdmin) {
  Principal agent{.tenant = "t", .role = Role::kAgent, .name = "a"};
  EXPECT_THAT(CheckAllowed(agent, "/omnicx.v1.ProfileService/NewMethod"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "role agent may not call NewMethod"));
}

}  // namespace
}  // namespace omnicx::auth
