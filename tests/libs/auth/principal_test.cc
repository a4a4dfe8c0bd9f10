#include "libs/auth/principal.h"

#include "gtest/gtest.h"

namespace omnicx::auth {
namespace {

TEST(PrincipalTest, RoleNamesRoundTrip) {
  for (Role role : {Role::kApp, Role::kAgent, Role::kService, Role::kAnalyst,
                    Role::kAdmin, Role::kInternal}) {
    EXPECT_EQ(ParseRole(RoleName(role)), role) << RoleName(role);
  }
  EXPECT_EQ(RoleName(Role::kAdmin), "admin");
  EXPECT_EQ(RoleName(Role::kInternal), "internal");
  EXPECT_EQ(ParseRole("Admin"), std::nullopt);
  EXPECT_EQ(ParseRole(""), std::nullopt);
  EXPECT_EQ(ParseRole("root"), std::nullopt);
}

TEST(PrincipalTest, AuditNameShowsWhoAnInternalCallActsFor) {
  Principal direct{.tenant = "default", .role = Role::kAdmin, .name = "ops"};
  EXPECT_EQ(direct.AuditName(), "ops");
  Principal internal{.tenant = "default",
                     .role = Role::kInternal,
                     .name = "profile",
                     .on_behalf_of = "agent-7"};
  EXPECT_EQ(internal.AuditName(), "profile (for agent-7)");
}

}  // namespace
}  // namespace omnicx::auth
