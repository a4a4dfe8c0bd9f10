// A customer's profile counters as pure functions over a ProfileState
// (protos/omnicx/profile/v1/state.proto): applying an event once, merging
// two customers, and the counters GetProfile shows.
//
//   ProfileState s;
//   bool applied = ApplyToProfile(event, now, window, &s);  // false: seen
//   MergeProfileState(other, &s);
//   FillProfileCounters(s, &profile);
//
// Every part is a sum, a minimum or a maximum, so any order of the same
// events gives the same state and merging equals replaying the union.
//
// Pure: no gRPC, no Redis.
#ifndef OMNICX_SERVICES_PROFILE_PROFILE_STATE_H_
#define OMNICX_SERVICES_PROFILE_PROFILE_STATE_H_

#include "absl/time/time.h"
#include "omnicx/profile/v1/state.pb.h"
#include "omnicx/v1/common.pb.h"
#include "omnicx/v1/profile.pb.h"

namespace omnicx::profile {

using omnicx::profile::v1::ProfileState;

// Counts the event unless its id was applied within `window` (then false,
// state unchanged).
bool ApplyToProfile(const omnicx::v1::Interaction& event, absl::Time now,
                    absl::Duration window, ProfileState* state);

// Adds `other`'s events into `into`.
void MergeProfileState(const ProfileState& other, ProfileState* into);

// first/last seen, event count, lifetime value and per-channel counts.
void FillProfileCounters(const ProfileState& state,
                         omnicx::v1::Profile* profile);

}  // namespace omnicx::profile

#endif  // OMNICX_SERVICES_PROFILE_PROFILE_STATE_H_
