// The action catalog: validation (one set of rules for the YAML catalog and
// UpsertAction), loading from YAML into omnicx.v1.ActionCatalog, and the
// documented default catalog a new installation starts with.
//
//   absl::StatusOr<ActionCatalog> catalog = LoadCatalogFile("catalog.yaml");
//   std::vector<status::FieldViolation> v = ValidateAction(action, "action");
//   const ActionCatalog& defaults = DefaultCatalog();
//
// A catalog file is `actions:` followed by a list of Action messages written
// with their proto field names (see docs/recommendation.md). Errors name the
// file, line and setting (`catalog.yaml:12: setting actions[2].kind: ...`) or
// the field path (`actions[2].value: must be > 0`).
#ifndef OMNICX_SERVICES_RECOMMENDATION_CATALOG_H_
#define OMNICX_SERVICES_RECOMMENDATION_CATALOG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/status/error_details.h"
#include "omnicx/v1/recommendation.pb.h"

namespace omnicx::recommendation {

using ::omnicx::v1::Action;
using ::omnicx::v1::ActionCatalog;

inline constexpr int kMaxCatalogActions = 1000;
inline constexpr int64_t kDefaultWindowSeconds = 7 * 24 * 3600;

// "service_recovery", "retention_offer", ... ("unspecified" for 0).
std::string KindName(omnicx::v1::ActionKind kind);

// Sales kinds (cross_sell, retention_offer) wait while a complaint is open.
bool IsSalesKind(omnicx::v1::ActionKind kind);

// human_callback, and service recovery marked agent_led.
bool IsAgentLed(const Action& action);

// The lever applied in arbitration (an unset lever is 1).
double EffectiveLever(const Action& action);

// The per-action cap window (an unset window is 7 days).
int64_t EffectiveWindowSeconds(const Action& action);

// Every rule an action must meet; field paths start with `path`
// (e.g. "action" or "actions[3]"). Empty when valid.
std::vector<status::FieldViolation> ValidateAction(const Action& action,
                                                   absl::string_view path);

// Every action valid, ids unique, 1..kMaxCatalogActions actions.
// INVALID_ARGUMENT with BadRequest field violations otherwise; the message
// names `source` and the first violation.
absl::Status ValidateCatalog(const ActionCatalog& catalog,
                             absl::string_view source);

// YAML text (`actions: [...]`) to a validated catalog.
absl::StatusOr<ActionCatalog> ParseCatalogYaml(absl::string_view yaml,
                                               absl::string_view source);
absl::StatusOr<ActionCatalog> LoadCatalogFile(const std::string& path);

// The built-in catalog (validated once; see docs/recommendation.md).
const ActionCatalog& DefaultCatalog();
absl::string_view DefaultCatalogYaml();

}  // namespace omnicx::recommendation

#endif  // OMNICX_SERVICES_RECOMMENDATION_CATALOG_H_
