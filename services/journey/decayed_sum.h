// Exponentially decayed sums anchored at a reference time: the arithmetic
// behind order-independent journey state (the order-independence invariant,
// docs/architecture.md).
//
//   DecayedSum s;                                  // empty
//   AddDecayed(&s, /*weight=*/2.0, t_ms, absl::Hours(720));
//   MergeDecayed(&s, other, absl::Hours(720));     // = adding other's terms
//   double now_value = DecayedValueAt(s, now_ms, absl::Hours(720));
//
// A sum (S, T) stands for Σ w·2^(−(T−t)/h) over its contributions (w, t).
// Adding (w, t): if t ≥ T then S ← S·2^(−(t−T)/h) + w, T ← t; else
// S ← S + w·2^(−(T−t)/h). Every order of the same contributions gives the
// same (S, T) up to rounding, merging two sums equals adding the union of
// their contributions, and adding −w at t removes an earlier (w, t) exactly.
#ifndef OMNICX_SERVICES_JOURNEY_DECAYED_SUM_H_
#define OMNICX_SERVICES_JOURNEY_DECAYED_SUM_H_

#include <cstdint>

#include "absl/time/time.h"
#include "omnicx/journey/v1/state.pb.h"

namespace omnicx::journey {

using omnicx::journey::v1::DecayedSum;

// 2^(−delta_ms / half_life).
double DecayFactor(double delta_ms, absl::Duration half_life);

void AddDecayed(DecayedSum* sum, double weight, int64_t t_ms,
                absl::Duration half_life);

// Adds every contribution of `other` to `into`.
void MergeDecayed(DecayedSum* into, const DecayedSum& other,
                  absl::Duration half_life);

// The sum's value at `at_ms`; before the anchor it is the anchored value
// (contributions are never "un-decayed").
double DecayedValueAt(const DecayedSum& sum, int64_t at_ms,
                      absl::Duration half_life);

}  // namespace omnicx::journey

#endif  // OMNICX_SERVICES_JOURNEY_DECAYED_SUM_H_
