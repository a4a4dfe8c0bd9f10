// libFuzzer target: arbitrary bytes as a tracking API body (the first byte
// picks the endpoint and whether the rest is gzip), decoded and mapped
// exactly as the HTTP adapter does, then validated as the intake does.
// Properties checked beyond "does not crash" (ASan + UBSan):
//   - decoding never yields more than the body limit;
//   - every event is accounted for once: mapped or rejected, in order;
//   - a mapped event's id is "<source>:<messageId>" within 128 characters,
//     it has a subject and a channel, and validation of it terminates
//     with paths under its own prefix;
//   - a rejected event has a reason and a payload within the event limit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "google/protobuf/stubs/logging.h"
#include "services/ingestion/tracking_mapping.h"
#include "services/ingestion/validation.h"

namespace {

const absl::Time kNow = absl::FromUnixSeconds(1795000000);

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace omnicx::ingestion;  // NOLINT: test
  google::protobuf::SetLogHandler(nullptr);
  if (size < 1) return 0;
  static const char* const kTypes[] = {"track", "identify", "page",  "screen",
                                       "group", "alias",    "batch", "import"};
  const CallType type = *ParseCallType(kTypes[data[0] & 7]);
  const bool gzip = (data[0] & 8) != 0;
  TrackingLimits limits;
  limits.max_body_bytes = 64 * 1024;
  limits.max_event_bytes = 4 * 1024;
  limits.max_batch_events = 50;
  const std::string raw(reinterpret_cast<const char*>(data) + 1, size - 1);
  absl::StatusOr<std::string> json = DecodeBody(raw, gzip, limits);
  if (!json.ok()) return 0;
  Check(json->size() <= limits.max_body_bytes);

  WriteKeyGrant grant;
  grant.name = "fuzz";
  grant.tenant = "default";
  grant.source = "fz";
  const WriteKeyResolver resolve =
      [&](absl::string_view) -> absl::StatusOr<WriteKeyGrant> { return grant; };
  int ids = 0;
  absl::StatusOr<TrackingRequest> r =
      MapTrackingRequest(type, *json, resolve, kNow, limits,
                         [&ids] { return "gen-" + std::to_string(++ids); });
  if (!r.ok()) return 0;
  Check(r->events.size() == r->event_index.size());
  Check(r->events.size() == r->payloads.size());
  const size_t total = r->events.size() + r->rejected.size();
  if (type != CallType::kBatch) Check(total == 1);
  Check(total <= limits.max_batch_events);
  for (size_t i = 1; i < r->event_index.size(); ++i) {
    Check(r->event_index[i - 1] < r->event_index[i]);
  }
  for (const RejectedEvent& e : r->rejected) {
    Check(!e.reason.empty());
    Check(e.payload.size() <= limits.max_event_bytes);
    Check(e.index < total);
  }
  const ValidationOptions options;
  for (auto& event : r->events) {
    Check(absl::StartsWith(event.event_id(), "fz:"));
    Check(event.event_id().size() <= 3 + limits.max_message_id_chars);
    Check(event.has_customer());
    Check(event.channel() != omnicx::v1::CHANNEL_UNSPECIFIED);
    for (const auto& v :
         ValidateInteraction(kNow, options, "interactions[0]", &event,
                             /*trusted_identities=*/false)) {
      Check(absl::StartsWith(v.field, "interactions[0]"));
    }
  }
  return 0;
}
