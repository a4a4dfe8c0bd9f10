#include "services/profile/timeline_page_token.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace omnicx::profile {

std::string EncodeTimelinePageToken(int64_t score, absl::string_view event_id) {
  return absl::WebSafeBase64Escape(absl::StrCat(score, ":", event_id));
}

absl::StatusOr<TimelineCursor> DecodeTimelinePageToken(
    absl::string_view token) {
  std::string decoded;
  TimelineCursor cursor;
  if (!absl::WebSafeBase64Unescape(token, &decoded)) {
    return absl::InvalidArgumentError("page_token is not valid");
  }
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(decoded).substr(0, colon),
                        &cursor.score)) {
    return absl::InvalidArgumentError("page_token is not valid");
  }
  cursor.after_id = decoded.substr(colon + 1);
  return cursor;
}

}  // namespace omnicx::profile
