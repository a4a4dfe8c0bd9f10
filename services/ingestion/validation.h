// Validation and normalisation of incoming touchpoints — pure logic, no gRPC
// and no Redis, tested directly (tests/services/ingestion/validation_test.cc).
//
//   ValidationOptions options;  // max age 365 days, 5 min future skew, ...
//   std::vector<status::FieldViolation> v =
//       ValidateInteraction(now, options, "interactions[3]", &interaction);
//   if (v.empty()) { /* normalised in place: identities, server fields */ }
//
// Every violation names the exact field path from the request root
// (`interactions[3].feedback.nps`) and says what the value must be. An
// interaction with any violation must not be written anywhere.
#ifndef OMNICX_SERVICES_INGESTION_VALIDATION_H_
#define OMNICX_SERVICES_INGESTION_VALIDATION_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/status/error_details.h"
#include "omnicx/v1/common.pb.h"
#include "omnicx/v1/ingestion.pb.h"

namespace omnicx::ingestion {

struct ValidationOptions {
  // Oldest accepted occurred_at (stores and call platforms upload late).
  absl::Duration max_age = absl::Hours(24 * 365);
  // Newest accepted occurred_at, beyond the server's clock.
  absl::Duration max_future = absl::Minutes(5);
  // Largest serialised interaction.
  size_t max_event_bytes = 32 * 1024;
  // Batch limits.
  int max_batch_events = 500;
  size_t max_batch_bytes = 1024 * 1024;
  // Identities per event.
  int max_identities = 20;
};

// The documented event-type vocabulary; `x-` custom types are accepted too.
bool IsKnownEventType(absl::string_view type);
// Only the vocabulary's words (`purchase`), not `x-` custom types.
bool IsBuiltInEventType(absl::string_view type);

// Validates `interaction` and, when valid, normalises it in place (identity
// values, `received_at`; `resolved_customer_id` is cleared since it is the
// server's to set). `path` is the interaction's path in the request
// ("interaction" or "interactions[3]").
//
// `trusted_identities` is false for a credential whose identities are not
// verified (an app key without `trusted_identities`, e.g. a browser write
// key): its `identities` are moved to `claimed_identities` (unverified
// claims that never link, merge or serve a lookup), and a subject named by
// `customer.identity` is refused, since that would be a lookup by identity.
std::vector<status::FieldViolation> ValidateInteraction(
    absl::Time now, const ValidationOptions& options, absl::string_view path,
    omnicx::v1::Interaction* interaction, bool trusted_identities = true);

// Batch-level limits (count and size); per-item checks are separate so that
// valid items are accepted when others are rejected.
std::vector<status::FieldViolation> ValidateBatchLimits(
    const ValidationOptions& options,
    const omnicx::v1::TrackBatchRequest& request);

}  // namespace omnicx::ingestion

#endif  // OMNICX_SERVICES_INGESTION_VALIDATION_H_
