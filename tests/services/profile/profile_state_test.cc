// The profile counters as pure functions: applied once, order-free, and a
// merge equals replaying the union.
#include "services/profile/profile_state.h"

#include <algorithm>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/time/proto_time.h"

namespace omnicx::profile {
namespace {

using omnicx::v1::Interaction;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);
const absl::Duration kWindow = absl::Hours(24 * 7);

Interaction Event(const std::string& id, int64_t at_ms,
                  omnicx::v1::Channel channel, double value) {
  Interaction e;
  e.set_event_id(id);
  *e.mutable_occurred_at() = time::TimestampFromUnixMillis(at_ms);
  e.set_channel(channel);
  e.set_value(value);
  return e;
}

TEST(ProfileStateTest, CountsAnEventOnce) {
  ProfileState s;
  const Interaction e = Event("e1", 5000, omnicx::v1::CHANNEL_WEB, 12.5);
  EXPECT_TRUE(ApplyToProfile(e, kNow, kWindow, &s));
  EXPECT_FALSE(ApplyToProfile(e, kNow, kWindow, &s));
  EXPECT_TRUE(ApplyToProfile(Event("e2", 3000, omnicx::v1::CHANNEL_VOICE, 0),
                             kNow, kWindow, &s));
  omnicx::v1::Profile p;
  FillProfileCounters(s, &p);
  EXPECT_EQ(p.event_count(), 2);
  EXPECT_EQ(time::ToUnixMillis(p.first_seen()), 3000);
  EXPECT_EQ(time::ToUnixMillis(p.last_seen()), 5000);
  EXPECT_DOUBLE_EQ(p.lifetime_value(), 12.5);
  EXPECT_EQ(p.channel_counts().at("CHANNEL_WEB"), 1);
  EXPECT_EQ(p.channel_counts().at("CHANNEL_VOICE"), 1);
}

TEST(ProfileStateTest, MergeEqualsReplayingTheUnion) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 50; ++round) {
    std::vector<Interaction> events;
    for (int i = 0; i < 1 + static_cast<int>(rng() % 30); ++i) {
      events.push_back(Event(absl::StrCat("e", i),
                             1000 + static_cast<int64_t>(rng() % 100000),
                             static_cast<omnicx::v1::Channel>(1 + rng() % 5),
                             static_cast<double>(rng() % 100)));
    }
    ProfileState all, a, b;
    for (const Interaction& e : events) {
      ApplyToProfile(e, kNow, kWindow, &all);
      ApplyToProfile(e, kNow, kWindow, rng() % 2 ? &a : &b);
    }
    std::shuffle(events.begin(), events.end(), rng);
    ProfileState shuffled;
    for (const Interaction& e : events) {
      ApplyToProfile(e, kNow, kWindow, &shuffled);
    }
    omnicx::v1::Profile want, replayed;
    FillProfileCounters(all, &want);
    FillProfileCounters(shuffled, &replayed);
    EXPECT_EQ(replayed.DebugString(), want.DebugString());
    MergeProfileState(b, &a);
    omnicx::v1::Profile merged;
    FillProfileCounters(a, &merged);
    EXPECT_EQ(merged.DebugString(), want.DebugString());
    // The merged state knows every id, so none counts twice afterwards.
    for (const Interaction& e : events) {
      EXPECT_FALSE(ApplyToProfile(e, kNow, kWindow, &a)) << e.event_id();
    }
  }
}

}  // namespace
}  // namespace omnicx::profile
