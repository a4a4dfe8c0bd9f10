// libFuzzer target: arbitrary bytes decoded as the ingestion service's
// requests, then validated and normalised exactly as the service does.
// Properties checked beyond "does not crash" (ASan + UBSan):
//   - a batch over the limits is refused before per-item work;
//   - an event that validates is normalised to a fixed point: validating it
//     again finds nothing and changes nothing;
//   - every violation names a path under the event's own prefix;
//   - validated as from an untrusted credential, a valid event keeps no
//     identity that could link or look anyone up (no `identities`, no
//     subject by identity), and is a fixed point too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/logging.h"
#include "libs/events/sharding.h"
#include "omnicx/v1/ingestion.pb.h"
#include "services/ingestion/validation.h"

namespace {

const absl::Time kNow = absl::FromUnixSeconds(1795000000);

void Check(bool ok) {
  if (!ok) std::abort();
}

void ValidateUntrusted(omnicx::v1::Interaction event, const std::string& path) {
  const omnicx::ingestion::ValidationOptions options;
  auto violations = omnicx::ingestion::ValidateInteraction(
      kNow, options, path, &event, /*trusted_identities=*/false);
  for (const auto& v : violations) Check(absl::StartsWith(v.field, path));
  if (!violations.empty()) return;
  Check(event.identities_size() == 0);
  Check(!event.customer().has_identity());
  const std::string once = event.SerializeAsString();
  Check(omnicx::ingestion::ValidateInteraction(kNow, options, path, &event,
                                               /*trusted_identities=*/false)
            .empty());
  Check(event.SerializeAsString() == once);
}

void ValidateOne(omnicx::v1::Interaction* event, const std::string& path) {
  ValidateUntrusted(*event, path);
  const omnicx::ingestion::ValidationOptions options;
  auto violations =
      omnicx::ingestion::ValidateInteraction(kNow, options, path, event);
  for (const auto& v : violations) Check(absl::StartsWith(v.field, path));
  if (!violations.empty()) return;
  (void)omnicx::events::ShardFor(event->customer(), 16);
  const std::string once = event->SerializeAsString();
  Check(omnicx::ingestion::ValidateInteraction(kNow, options, path, event)
            .empty());
  Check(event->SerializeAsString() == once);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Invalid UTF-8 in string fields is expected input; keep the log quiet.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  omnicx::v1::TrackBatchRequest batch;
  if (batch.ParseFromArray(data, static_cast<int>(size))) {
    const omnicx::ingestion::ValidationOptions options;
    if (omnicx::ingestion::ValidateBatchLimits(options, batch).empty()) {
      for (int i = 0; i < batch.interactions_size(); ++i) {
        ValidateOne(batch.mutable_interactions(i),
                    absl::StrCat("interactions[", i, "]"));
      }
    }
  }
  omnicx::v1::TrackRequest single;
  if (single.ParseFromArray(data, static_cast<int>(size))) {
    ValidateOne(single.mutable_interaction(), "interaction");
  }
  return 0;
}
