#include "libs/auth/principal.h"

#include "absl/strings/str_cat.h"

namespace omnicx::auth {

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kApp:
      return "app";
    case Role::kAgent:
      return "agent";
    case Role::kService:
      return "service";
    case Role::kAnalyst:
      return "analyst";
    case Role::kAdmin:
      return "admin";
    case Role::kInternal:
      return "internal";
  }
  return "unknown";
}

std::optional<Role> ParseRole(absl::string_view name) {
  for (Role r : {Role::kApp, Role::kAgent, Role::kService, Role::kAnalyst,
                 Role::kAdmin, Role::kInternal}) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

std::string Principal::AuditName() const {
  if (on_behalf_of.empty()) return name;
  return absl::StrCat(name, " (for ", on_behalf_of, ")");
}

}  // namespace omnicx::auth
