// The page token of GetTimeline: where the previous page ended, so paging is
// stable while new events arrive. Opaque to clients (web-safe base64 of
// "<score>:<event id>" of the last item returned); anything a client sends
// back is checked here before it reaches a Redis command.
//
//   std::string token = EncodeTimelinePageToken(1733370000000, "evt-1");
//   absl::StatusOr<TimelineCursor> at = DecodeTimelinePageToken(token);
//   // at->score == 1733370000000, at->after_id == "evt-1"
#ifndef OMNICX_SERVICES_PROFILE_TIMELINE_PAGE_TOKEN_H_
#define OMNICX_SERVICES_PROFILE_TIMELINE_PAGE_TOKEN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace omnicx::profile {

struct TimelineCursor {
  int64_t score = 0;     // the last item's timeline score (event time, ms)
  std::string after_id;  // its event id: the next page starts after it
};

std::string EncodeTimelinePageToken(int64_t score, absl::string_view event_id);

// InvalidArgument "page_token is not valid" for anything EncodeTimeline-
// PageToken could not have produced the shape of.
absl::StatusOr<TimelineCursor> DecodeTimelinePageToken(absl::string_view token);

}  // namespace omnicx::profile

#endif  // OMNICX_SERVICES_PROFILE_TIMELINE_PAGE_TOKEN_H_
