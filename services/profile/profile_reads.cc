// ProfileStore: the reads behind GetProfile, GetTimeline, ExportCustomer
// and the consent history (profile_store.h).
#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/status/status_macros.h"
#include "libs/time/proto_time.h"
#include "services/profile/profile_decode.h"
#include "services/profile/profile_store.h"
#include "services/profile/profile_store_internal.h"
#include "services/profile/timeline_page_token.h"

namespace omnicx::profile {
namespace {

using omnicx::v1::Identity;
using omnicx::v1::Interaction;

}  // namespace

absl::StatusOr<std::vector<omnicx::v1::Consent>> ProfileStore::ConsentHistory(
    absl::string_view customer_id) {
  OMNICX_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_.Command({"LRANGE", keys_.ConsentLog(customer_id), "0", "-1"}));
  std::vector<omnicx::v1::Consent> out;
  for (const auto& e : r.elements()) {
    omnicx::v1::Consent c;
    if (c.ParseFromString(e.str())) out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<std::vector<Interaction>> ProfileStore::FullTimeline(
    absl::string_view customer_id) {
  OMNICX_ASSIGN_OR_RETURN(
      redis::Reply items,
      redis_.Command({"ZREVRANGE", keys_.Timeline(customer_id), "0", "-1"}));
  std::vector<Interaction> out;
  for (const auto& item : items.elements()) {
    Interaction e;
    if (!e.ParseFromString(item.str())) continue;
    e.set_resolved_customer_id(std::string(customer_id));
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<redis::Command> ProfileStore::ProfileReads(
    absl::string_view customer_id) const {
  return {{"HGETALL", keys_.Profile(customer_id)},
          {"SMEMBERS", keys_.Identities(customer_id)},
          {"HGETALL", keys_.Traits(customer_id)},
          {"HGETALL", keys_.Consents(customer_id)},
          {"SMEMBERS", keys_.MergedIds(customer_id)},
          {"LRANGE", keys_.Links(customer_id), "0", "-1"},
          {"ZREVRANGE", keys_.Claims(customer_id), "0", "-1"}};
}

absl::StatusOr<omnicx::v1::Profile> ProfileStore::GetProfile(
    absl::string_view customer_id) {
  OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies r,
                          redis_.Pipeline(ProfileReads(customer_id)));
  return ParseProfile(customer_id, r, 0);
}

absl::StatusOr<omnicx::v1::Profile> ProfileStore::ParseProfile(
    absl::string_view customer_id, const redis::PipelineReplies& replies,
    size_t first) const {
  if (replies.size() < first + kProfileReads) {
    return absl::InternalError("profile reads are missing replies");
  }
  std::vector<const redis::Reply*> r;
  for (size_t i = first; i < first + kProfileReads; ++i) {
    OMNICX_RETURN_IF_ERROR(replies[i].status());
    r.push_back(&*replies[i]);
  }
  if (r[0]->elements().empty()) {
    return absl::NotFoundError("no such customer");
  }
  omnicx::v1::Profile profile;
  profile.set_customer_id(std::string(customer_id));
  OMNICX_RETURN_IF_ERROR(DecodeProfileHash(*r[0], customer_id, &profile));
  DecodeTraits(*r[2], &profile);
  DecodeConsents(*r[3], &profile);
  DecodeMergedIds(*r[4], &profile);
  // Link records: "link" 0x1F type:value 0x1F source 0x1F ms (merges are
  // recorded too; they carry no identity).
  for (const auto& l : r[5]->elements()) {
    std::vector<std::string> f = absl::StrSplit(l.str(), '\x1f');
    if (f.size() != 4 || f[0] != "link") continue;
    omnicx::v1::IdentityLink* link = profile.add_links();
    const size_t colon = f[1].find(':');
    link->mutable_identity()->set_type(f[1].substr(0, colon));
    link->mutable_identity()->set_value(f[1].substr(colon + 1));
    link->set_source(f[2]);
    int64_t ms = 0;
    if (absl::SimpleAtoi(f[3], &ms))
      *link->mutable_linked_at() = time::TimestampFromUnixMillis(ms);
  }
  std::vector<std::string> ids;
  for (const auto& m : r[1]->elements()) ids.push_back(m.str());
  std::sort(ids.begin(), ids.end());
  for (const std::string& id : ids) {
    const size_t colon = id.find(':');
    Identity* out = profile.add_identities();
    out->set_type(id.substr(0, colon));
    out->set_value(id.substr(colon + 1));
  }
  for (const auto& m : r[6]->elements()) {  // newest claim first
    const std::string& claim = m.str();
    const size_t colon = claim.find(':');
    if (colon == std::string::npos) continue;
    Identity* out = profile.add_unverified_identities();
    out->set_type(claim.substr(0, colon));
    out->set_value(claim.substr(colon + 1));
  }
  return profile;
}

absl::StatusOr<ProfileStore::TimelineRead> ProfileStore::PlanTimeline(
    absl::string_view customer_id, int page_size, absl::string_view page_token,
    const std::vector<omnicx::v1::Channel>& channels,
    std::optional<absl::Time> start, std::optional<absl::Time> end) const {
  TimelineRead read;
  read.customer_id = std::string(customer_id);
  read.page_size = page_size;
  read.channels = channels;
  // The token is "<score>:<event id>" of the last item returned, so paging
  // is stable while new events arrive.
  std::string max = end.has_value()
                        ? absl::StrCat("(", absl::ToUnixMillis(*end))
                        : std::string("+inf");
  if (!page_token.empty()) {
    OMNICX_ASSIGN_OR_RETURN(TimelineCursor cursor,
                            DecodeTimelinePageToken(page_token));
    max = absl::StrCat(cursor.score);
    read.after_id = std::move(cursor.after_id);
  }
  const std::string min = start.has_value()
                              ? absl::StrCat(absl::ToUnixMillis(*start))
                              : std::string("-inf");
  read.command = {"ZREVRANGEBYSCORE", keys_.Timeline(customer_id), max, min,
                  "WITHSCORES"};
  // A first page without a channel filter is the newest page_size entries
  // (one more tells whether a next page exists); otherwise entries are
  // skipped or filtered here, so the whole range is read.
  if (read.after_id.empty() && channels.empty()) {
    read.command.insert(read.command.end(),
                        {"LIMIT", "0", absl::StrCat(page_size + 1)});
  }
  return read;
}

TimelinePage ProfileStore::ParseTimeline(const TimelineRead& read,
                                         const redis::Reply& items) {
  TimelinePage page;
  bool skipping = !read.after_id.empty();
  std::string last_token;
  const auto& e = items.elements();
  for (size_t i = 0; i + 1 < e.size(); i += 2) {
    Interaction event;
    if (!event.ParseFromString(e[i].str())) continue;
    event.set_resolved_customer_id(read.customer_id);
    if (skipping) {
      if (event.event_id() == read.after_id) skipping = false;
      continue;
    }
    if (!read.channels.empty() &&
        std::find(read.channels.begin(), read.channels.end(),
                  event.channel()) == read.channels.end()) {
      continue;
    }
    if (static_cast<int>(page.interactions.size()) == read.page_size) {
      page.next_page_token = std::move(last_token);
      break;
    }
    // Scores are event times in whole milliseconds.
    double score = 0;
    if (!absl::SimpleAtod(e[i + 1].str(), &score) ||
        !(std::abs(score) < 9e18)) {
      score = 0;
    }
    last_token =
        EncodeTimelinePageToken(static_cast<int64_t>(score), event.event_id());
    page.interactions.push_back(std::move(event));
  }
  return page;
}

absl::StatusOr<TimelinePage> ProfileStore::GetTimeline(
    absl::string_view customer_id, int page_size, absl::string_view page_token,
    const std::vector<omnicx::v1::Channel>& channels,
    std::optional<absl::Time> start, std::optional<absl::Time> end) {
  OMNICX_ASSIGN_OR_RETURN(
      TimelineRead read,
      PlanTimeline(customer_id, page_size, page_token, channels, start, end));
  OMNICX_ASSIGN_OR_RETURN(redis::Reply items, redis_.Command(read.command));
  return ParseTimeline(read, items);
}

}  // namespace omnicx::profile
