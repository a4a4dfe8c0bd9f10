// Which role may call which method: the one table of the suite's
// authorisation, deny by default. A method the table does not name is
// refused to every role but admin, and a test walks every method of every
// omnicx.v1 service so a new method cannot go unlisted.
//
//   absl::Status allowed = CheckAllowed(principal, kMethodEraseCustomer);
//   // PERMISSION_DENIED unless principal.role is admin
//
// Methods are gRPC full names ("/omnicx.v1.ProfileService/EraseCustomer").
// `internal` credentials belong to omnicx's own services; each internal
// method names the services that may call it (ForgetCustomer: profile).
#ifndef OMNICX_LIBS_AUTH_POLICY_H_
#define OMNICX_LIBS_AUTH_POLICY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "libs/auth/principal.h"

namespace omnicx::auth {

struct MethodPolicy {
  absl::string_view method;
  std::vector<Role> roles;  // besides admin, which may call everything
  // For Role::kInternal: the service names allowed (empty = none).
  std::vector<absl::string_view> internal_callers;
};

// The whole table, in a stable order (docs and tests print it).
const std::vector<MethodPolicy>& Policies();

// OK, or PERMISSION_DENIED naming the role and the method (never the
// credential).
absl::Status CheckAllowed(const Principal& principal, absl::string_view method);

// "EraseCustomer" from "/omnicx.v1.ProfileService/EraseCustomer".
absl::string_view ShortMethodName(absl::string_view method);

}  // namespace omnicx::auth

#endif  // OMNICX_LIBS_AUTH_POLICY_H_
