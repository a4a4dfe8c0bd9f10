#include "services/profile/profile_state.h"

#include <algorithm>

#include "libs/events/applied_ids.h"
#include "libs/time/proto_time.h"

namespace omnicx::profile {
namespace {

// Minimum of two times where 0 means unset.
int64_t MinSet(int64_t a, int64_t b) {
  if (a == 0) return b;
  if (b == 0) return a;
  return std::min(a, b);
}

}  // namespace

bool ApplyToProfile(const omnicx::v1::Interaction& event, absl::Time now,
                    absl::Duration window, ProfileState* state) {
  const uint64_t fp = events::EventFingerprint(event.event_id());
  if (events::WasApplied(state->applied(), fp)) return false;
  events::RecordApplied(fp, now, window, state->mutable_applied());
  const int64_t at = time::ToUnixMillis(event.occurred_at());
  state->set_event_count(state->event_count() + 1);
  state->set_first_seen_ms(MinSet(state->first_seen_ms(), at));
  state->set_last_seen_ms(std::max(state->last_seen_ms(), at));
  state->set_lifetime_value(state->lifetime_value() + event.value());
  (*state->mutable_channel_counts())[event.channel()] += 1;
  return true;
}

void MergeProfileState(const ProfileState& other, ProfileState* into) {
  into->set_event_count(into->event_count() + other.event_count());
  into->set_first_seen_ms(MinSet(into->first_seen_ms(), other.first_seen_ms()));
  into->set_last_seen_ms(std::max(into->last_seen_ms(), other.last_seen_ms()));
  into->set_lifetime_value(into->lifetime_value() + other.lifetime_value());
  for (const auto& [channel, n] : other.channel_counts()) {
    (*into->mutable_channel_counts())[channel] += n;
  }
  events::MergeAppliedIds(other.applied(), into->mutable_applied());
}

void FillProfileCounters(const ProfileState& state,
                         omnicx::v1::Profile* profile) {
  if (state.first_seen_ms() != 0) {
    *profile->mutable_first_seen() =
        time::TimestampFromUnixMillis(state.first_seen_ms());
  }
  if (state.last_seen_ms() != 0) {
    *profile->mutable_last_seen() =
        time::TimestampFromUnixMillis(state.last_seen_ms());
  }
  profile->set_event_count(state.event_count());
  profile->set_lifetime_value(state.lifetime_value());
  for (const auto& [channel, n] : state.channel_counts()) {
    const auto c = static_cast<omnicx::v1::Channel>(channel);
    (*profile->mutable_channel_counts())[omnicx::v1::Channel_IsValid(c)
                                             ? omnicx::v1::Channel_Name(c)
                                             : "CHANNEL_UNSPECIFIED"] += n;
  }
}

}  // namespace omnicx::profile
