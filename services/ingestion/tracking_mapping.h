// The Segment/RudderStack tracking API's payloads mapped onto omnicx
// touchpoints — transport-free (no HTTP, no Redis), tested directly and
// fuzzed (tests/fuzz/tracking_mapping_fuzzer.cc). The HTTP adapter
// (tracking_api.h) decodes the body, authenticates the write key, maps, and
// hands the events to Intake like TrackBatch does.
//
//   absl::StatusOr<std::string> json = DecodeBody(raw, /*gzip=*/true, limits);
//   absl::StatusOr<TrackingRequest> r = MapTrackingRequest(
//       CallType::kBatch, *json, resolve_key, received_at, limits);
//   // r->events go to Intake::ProcessAsync; r->rejected are dead-lettered.
//
// The rules (docs/http-api.md is the operator's version):
//   - userId -> customer.customer_id, else anonymousId -> anonymous_id;
//     with both, anonymousId is also an `anonymous_id` identity. identify's
//     traits.email / traits.phone and alias's previousId (as anonymous_id)
//     are identities too; Intake trusts them only for a trusted write key.
//   - messageId -> event_id "<source>:<messageId>" (so dedupe is per tenant
//     and source); at most 100 characters; a random one when missing.
//   - track: event -> type through kTrackEventTypes, else "x-<slug>"; page
//     and screen -> page_view; identify, group, alias -> x-identify, x-group,
//     x-alias. The event or page/screen name -> touchpoint.
//   - properties (track, page, screen) or traits (identify, group) ->
//     properties; properties.revenue (else .value, else .total) -> value.
//   - channel: `channel` of the event or its context ("web"/"browser" ->
//     WEB, "mobile"/"ios"/"android" -> MOBILE_APP), else context.device.type
//     ios/android -> MOBILE_APP, else the write key's default.
//   - occurred_at: the client's time is originalTimestamp, else timestamp.
//     With a sentAt (event's, else the batch's): receivedAt - (sentAt -
//     client time), clock-skew corrected, never after receivedAt. Without
//     sentAt the client's time is taken as is; without either, receivedAt.
// Rejected alone (the request still succeeds): not an object, unknown
// type, no userId/anonymousId, track without event, over 32 KB, a messageId
// over 100 characters, an unparseable timestamp, nesting deeper than 32.
#ifndef OMNICX_SERVICES_INGESTION_TRACKING_MAPPING_H_
#define OMNICX_SERVICES_INGESTION_TRACKING_MAPPING_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "omnicx/v1/common.pb.h"

namespace omnicx::ingestion {

// What a write key grants (write_keys.h loads them).
struct WriteKeyGrant {
  std::string name;  // for logs and metrics; never the key itself
  std::string tenant;
  std::string source;  // [a-z0-9_-], 1-27 characters
  bool trusted_identities = false;
  omnicx::v1::Channel default_channel = omnicx::v1::CHANNEL_WEB;
  // Origins a browser may send from ("https://shop.example"), or "*".
  std::vector<std::string> allowed_origins;
};

struct TrackingLimits {
  // Largest body after decompression (413 beyond).
  size_t max_body_bytes = 500 * 1024;
  // Largest single event as JSON (rejected alone beyond).
  size_t max_event_bytes = 32 * 1024;
  // Most events in one batch (the whole request is 400 beyond).
  size_t max_batch_events = 2500;
  size_t max_message_id_chars = 100;
  int max_depth = 32;
};

enum class CallType {
  kTrack,
  kIdentify,
  kPage,
  kScreen,
  kGroup,
  kAlias,
  kBatch
};

// "track", ..., "batch"; "import" is kBatch. nullopt for anything else.
std::optional<CallType> ParseCallType(absl::string_view name);

// Segment's spec event names (and RudderStack's, the same) -> the built-in
// vocabulary; any other track event becomes x-<slug>.
struct TrackEventType {
  const char* event;
  const char* type;
};
extern const TrackEventType kTrackEventTypes[];
extern const size_t kTrackEventTypesSize;

// The built-in type or "x-<slug>" (lower case, [a-z0-9_], at most 64) for a
// track call's event name.
std::string TrackEventToType(absl::string_view event);

// The body as JSON text: gunzipped when `gzip`, with the output bounded by
// max_body_bytes (a gzip bomb stops there). INVALID_ARGUMENT for malformed
// gzip, OUT_OF_RANGE when the (decompressed) body exceeds the limit.
absl::StatusOr<std::string> DecodeBody(absl::string_view raw, bool gzip,
                                       const TrackingLimits& limits);

struct RejectedEvent {
  size_t index = 0;     // position in the batch (0 for a single call)
  std::string reason;   // low-cardinality code, e.g. "missing_id"
  std::string detail;   // for the dead letter
  std::string payload;  // the event's JSON (cut at max_event_bytes)
};

struct TrackingRequest {
  // In request order; event_index[i] is events[i]'s position in the batch.
  std::vector<omnicx::v1::Interaction> events;
  std::vector<size_t> event_index;
  std::vector<std::string> payloads;  // events[i]'s JSON, for dead letters
  std::vector<RejectedEvent> rejected;
  WriteKeyGrant grant;  // the key the request was authorised with
};

// Resolves the request's write key: called once with the body's writeKey
// ("" when absent). An error (UNAUTHENTICATED) is returned as is.
using WriteKeyResolver =
    std::function<absl::StatusOr<WriteKeyGrant>(absl::string_view body_key)>;

// Parses `json` and maps each event. Whole-request errors:
// INVALID_ARGUMENT (not JSON, not an object, `batch` not an array, more
// than max_batch_events), or the resolver's error. `new_id` makes the ids of
// events without messageId (random by default).
absl::StatusOr<TrackingRequest> MapTrackingRequest(
    CallType type, absl::string_view json, const WriteKeyResolver& resolve,
    absl::Time received_at, const TrackingLimits& limits,
    const std::function<std::string()>& new_id = nullptr);

}  // namespace omnicx::ingestion

#endif  // OMNICX_SERVICES_INGESTION_TRACKING_MAPPING_H_
