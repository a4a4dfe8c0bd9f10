#include "libs/streams/retention.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/status/status_macros.h"

namespace omnicx::streams {

std::string NextStreamId(absl::string_view id) {
  std::pair<std::string, std::string> parts = absl::StrSplit(id, '-');
  uint64_t seq = 0;
  if (!absl::SimpleAtoi(parts.second, &seq)) return std::string(id);
  return absl::StrCat(parts.first, "-", seq + 1);
}

bool StreamIdLess(absl::string_view a, absl::string_view b) {
  std::pair<std::string, std::string> pa = absl::StrSplit(a, '-');
  std::pair<std::string, std::string> pb = absl::StrSplit(b, '-');
  uint64_t ams = 0, aseq = 0, bms = 0, bseq = 0;
  (void)absl::SimpleAtoi(pa.first, &ams);
  (void)absl::SimpleAtoi(pa.second, &aseq);
  (void)absl::SimpleAtoi(pb.first, &bms);
  (void)absl::SimpleAtoi(pb.second, &bseq);
  return ams < bms || (ams == bms && aseq < bseq);
}

std::map<std::string, redis::Reply> InfoFields(const redis::Reply& reply) {
  std::map<std::string, redis::Reply> out;
  const auto& e = reply.elements();
  for (size_t i = 0; i + 1 < e.size(); i += 2) out[e[i].str()] = e[i + 1];
  return out;
}

absl::StatusOr<int64_t> TrimAcknowledged(redis::Client& redis,
                                         const std::string& stream) {
  absl::StatusOr<redis::Reply> groups =
      redis.Command({"XINFO", "GROUPS", stream});
  if (!groups.ok()) {
    // No such stream yet: nothing to trim.
    if (groups.status().message().find("no such key") !=
        absl::string_view::npos) {
      return 0;
    }
    return groups.status();
  }
  if (groups->elements().empty()) return 0;
  std::string min_needed;
  for (const redis::Reply& group : groups->elements()) {
    std::map<std::string, redis::Reply> f = InfoFields(group);
    // What the group has not been delivered yet starts after its last
    // delivered id (as of XINFO: it only grows, so this errs on keeping).
    std::string needed = NextStreamId(f["last-delivered-id"].str());
    if (f["pending"].integer() > 0) {
      OMNICX_ASSIGN_OR_RETURN(
          redis::Reply summary,
          redis.Command({"XPENDING", stream, f["name"].str()}));
      // The oldest unacknowledged entry. Nil when the group acknowledged
      // everything between XINFO and XPENDING: then only the undelivered
      // part is needed (an empty id here once let the next group's position
      // decide, trimming entries this group had not read).
      if (summary.elements().size() > 1 && !summary.elements()[1].is_nil()) {
        needed = summary.elements()[1].str();
      }
    }
    if (min_needed.empty() || StreamIdLess(needed, min_needed)) {
      min_needed = needed;
    }
  }
  // In steps of at most kTrimStep entries, each a command of its own, so
  // that Redis serves other clients in between: after a backlog is consumed
  // one unbounded XTRIM removed tens of thousands of entries in one go and
  // stalled every client for ~10 ms per shard. With `~`, Redis removes whole
  // nodes only; a step that removes nothing means the rest is needed (or in
  // the node holding min_needed).
  int64_t trimmed = 0;
  for (int step = 0; step < kMaxTrimSteps; ++step) {
    OMNICX_ASSIGN_OR_RETURN(
        redis::Reply n,
        redis.Command({"XTRIM", stream, "MINID", "~", min_needed, "LIMIT",
                       absl::StrCat(kTrimStep)}));
    trimmed += n.integer();
    if (n.integer() == 0) break;
  }
  return trimmed;
}

}  // namespace omnicx::streams
