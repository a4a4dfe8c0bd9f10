// libFuzzer target: arbitrary bytes as the page tokens clients send back —
// GetTimeline's page_token and ListDeadLetters' after_id — checked exactly
// as the services check them before they reach a Redis command. No Redis,
// no network. (ListPainPoints has a limit and no page token.)
// Properties checked beyond "does not crash" (ASan + UBSan):
//   - a timeline token that decodes re-encodes to one that decodes to the
//     same cursor;
//   - any cursor (score from the first 8 bytes, the rest as event id)
//     survives encode then decode unchanged, and its token is web-safe
//     base64 (no character that needs escaping in a URL or a log);
//   - an accepted dead-letter id is "<digits>-<digits>", at most 41
//     characters, so it can only name a stream entry range.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "libs/streams/dead_letters.h"
#include "services/profile/timeline_page_token.h"

namespace {

namespace profile = omnicx::profile;

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckRoundTrip(int64_t score, absl::string_view event_id) {
  const std::string token = profile::EncodeTimelinePageToken(score, event_id);
  for (unsigned char c : token) {
    Check(absl::ascii_isalnum(c) || c == '-' || c == '_');
  }
  absl::StatusOr<profile::TimelineCursor> back =
      profile::DecodeTimelinePageToken(token);
  Check(back.ok());
  Check(back->score == score);
  Check(back->after_id == event_id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<profile::TimelineCursor> cursor =
      profile::DecodeTimelinePageToken(text);
  if (cursor.ok()) {
    CheckRoundTrip(cursor->score, cursor->after_id);
  } else {
    Check(cursor.status().code() == absl::StatusCode::kInvalidArgument);
  }
  if (size >= 8) {
    int64_t score = 0;
    std::memcpy(&score, data, sizeof(score));
    CheckRoundTrip(score, text.substr(8));
  }

  if (omnicx::streams::IsStreamEntryId(text)) {
    Check(size <= 41);
    const size_t dash = text.find('-');
    Check(dash != absl::string_view::npos && dash > 0 && dash + 1 < size);
    for (size_t i = 0; i < size; ++i) {
      Check(i == dash || absl::ascii_isdigit(data[i]));
    }
  }
  return 0;
}
