// The effectively-once record of a consumer, kept inside the customer's own
// state value (one Redis value per customer per service) instead of a set of
// event ids beside it: 64-bit fingerprints of the ids applied within a
// window, with when each was applied. Merging two customers' states unions
// their records, so an event applied to the merged customer and delivered
// again under the survivor is still recognised.
//
//   AppliedIds& ids = *state.mutable_applied();
//   const uint64_t fp = EventFingerprint(event.event_id());
//   if (WasApplied(ids, fp)) return kDuplicate;
//   RecordApplied(fp, now, window, &ids);   // also forgets expired entries
//
// Two different ids of one customer share a fingerprint with probability
// about n²/2^65 for n ids in the window (below 10^-11 at 10,000). A record
// holds at most kMaxAppliedIds entries; past that the oldest are forgotten
// first (a customer sending more than that within the window is a robot,
// whose redeliveries come within minutes).
//
// Pure: no Redis.
#ifndef OMNICX_LIBS_EVENTS_APPLIED_IDS_H_
#define OMNICX_LIBS_EVENTS_APPLIED_IDS_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "omnicx/events/v1/applied_ids.pb.h"

namespace omnicx::events {

using omnicx::events::v1::AppliedIds;

inline constexpr int kMaxAppliedIds = 10000;

uint64_t EventFingerprint(absl::string_view event_id);

bool WasApplied(const AppliedIds& ids, uint64_t fingerprint);

// Adds the fingerprint, applied at `now`, and drops entries applied before
// now - window and any beyond kMaxAppliedIds (oldest first).
void RecordApplied(uint64_t fingerprint, absl::Time now, absl::Duration window,
                   AppliedIds* ids);

// Adds every entry of `from` not already in `into` (merging two customers).
void MergeAppliedIds(const AppliedIds& from, AppliedIds* into);

}  // namespace omnicx::events

#endif  // OMNICX_LIBS_EVENTS_APPLIED_IDS_H_
