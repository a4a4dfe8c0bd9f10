#include "services/journey/decayed_sum.h"

#include <cmath>

namespace omnicx::journey {

double DecayFactor(double delta_ms, absl::Duration half_life) {
  return std::exp2(-delta_ms / absl::ToDoubleMilliseconds(half_life));
}

void AddDecayed(DecayedSum* sum, double weight, int64_t t_ms,
                absl::Duration half_life) {
  if (sum->value() == 0 && sum->anchor_ms() == 0) {
    sum->set_value(weight);
    sum->set_anchor_ms(t_ms);
    return;
  }
  if (t_ms >= sum->anchor_ms()) {
    const double delta = static_cast<double>(t_ms - sum->anchor_ms());
    sum->set_value(sum->value() * DecayFactor(delta, half_life) + weight);
    sum->set_anchor_ms(t_ms);
  } else {
    const double delta = static_cast<double>(sum->anchor_ms() - t_ms);
    sum->set_value(sum->value() + weight * DecayFactor(delta, half_life));
  }
}

void MergeDecayed(DecayedSum* into, const DecayedSum& other,
                  absl::Duration half_life) {
  if (other.value() == 0 && other.anchor_ms() == 0) return;
  AddDecayed(into, other.value(), other.anchor_ms(), half_life);
}

double DecayedValueAt(const DecayedSum& sum, int64_t at_ms,
                      absl::Duration half_life) {
  if (at_ms <= sum.anchor_ms()) return sum.value();
  return sum.value() *
         DecayFactor(static_cast<double>(at_ms - sum.anchor_ms()), half_life);
}

}  // namespace omnicx::journey
