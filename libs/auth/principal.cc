#include "libs/auth/principal.h"

#include "absl/strings/str_cat.h"

namespace omnicx::auth {
namespace {

struct RoleEntry {
  Role role;
  absl::string_view name;
};

constexpr RoleEntry kRoles[] = {
    {Role::kApp, "app"},         {Role::kAgent, "agent"},
    {Role::kService, "service"}, {Role::kAnalyst, "analyst"},
    {Role::kAdmin, "admin"},     {Role::kInternal, "internal"},
};

}  // namespace

absl::string_view RoleName(Role role) {
  for (const RoleEntry& e : kRoles) {
    if (e.role == role) return e.name;
  }
  return "unknown";
}

std::optional<Role> ParseRole(absl::string_view name) {
  for (const RoleEntry& e : kRoles) {
    if (e.name == name) return e.role;
  }
  return std::nullopt;
}

std::string Principal::AuditName() const {
  if (on_behalf_of.empty()) return name;
  return absl::StrCat(name, " (for ", on_behalf_of, ")");
}

}  // namespace omnicx::auth
