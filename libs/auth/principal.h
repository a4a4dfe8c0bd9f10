// Who is calling: the identity a verified credential (API key or JWT) stands
// for. Handlers get one from Authenticator::Authorize and use it for the
// tenant check, for role-dependent behaviour (untrusted identities from app
// keys) and for audit records.
//
//   absl::StatusOr<Principal> who = auth.Authorize(*context, kMethod);
//   if (!who.ok()) return Done(context, who.status());
//   audit.Record(*who, "erase", customer_id);
#ifndef OMNICX_LIBS_AUTH_PRINCIPAL_H_
#define OMNICX_LIBS_AUTH_PRINCIPAL_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace omnicx::auth {

// Deny by default: a role may call only the methods policy.cc lists for it.
enum class Role {
  kApp,       // Track*: apps, SDKs, channel systems
  kAgent,     // contact-centre consoles
  kService,   // internal business services asking for decisions
  kAnalyst,   // CX teams: pain points, funnel, action stats, catalog read
  kAdmin,     // operators: every method, identities trusted
  kInternal,  // omnicx's own services calling each other
};

// "app", "agent", "service", "analyst", "admin", "internal".
absl::string_view RoleName(Role role);
std::optional<Role> ParseRole(absl::string_view name);

struct Principal {
  // The tenant the credential is bound to (never taken from a request).
  std::string tenant;
  Role role = Role::kApp;
  // The credential's name (API key name, or a JWT's `sub`), for audit.
  std::string name;
  // App credentials only: identities the caller sends are trusted to link
  // and merge profiles (server-side collectors). Untrusted ones are kept as
  // unverified claims. Admins are always trusted.
  bool trusted_identities = false;
  // Internal calls: the name of the caller the calling service acts for.
  std::string on_behalf_of;

  bool TrustsIdentities() const {
    return role == Role::kAdmin || trusted_identities;
  }
  // "name" or "name (for original)" as audit records show it.
  std::string AuditName() const;
};

}  // namespace omnicx::auth

#endif  // OMNICX_LIBS_AUTH_PRINCIPAL_H_
