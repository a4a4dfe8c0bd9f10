// The journey of one customer as pure functions over a JourneyState
// (protos/omnicx/journey/v1/state.proto): applying a touchpoint, merging two
// customers, and deriving what GetJourney answers (stage, health, churn risk,
// open cases, drivers, segments) and what the pain-point aggregates count.
//
//   JourneyState s;
//   ApplyEvent(model, event, &s);              // caller deduplicates ids
//   std::optional<StageTransition> moved = RefreshDerived(model, &s);
//   JourneySummary summary = Summarize(model, s, now_ms);
//
// Order independence (invariant in docs/architecture.md): every stored part
// is a decayed sum, a counter or a min/max of times, and a case's effort is
// booked as a function of the case's contact set (re-booked exactly when it
// changes), so any order of the same events gives the same state up to
// rounding, and MergeState(a, b) equals replaying the union (merge equals
// replay, docs/architecture.md). Exceptions,
// documented in docs/journey.md: the stored stage's entry time, and the
// trimming of drivers beyond max_drivers and cases beyond max_cases.
//
// Pure: no gRPC, no Redis.
#ifndef OMNICX_SERVICES_JOURNEY_JOURNEY_STATE_H_
#define OMNICX_SERVICES_JOURNEY_JOURNEY_STATE_H_

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "omnicx/journey/v1/state.pb.h"
#include "omnicx/v1/common.pb.h"
#include "omnicx/v1/journey.pb.h"
#include "services/journey/journey_model.h"

namespace omnicx::journey {

using omnicx::journey::v1::JourneyState;
class LearnedChurn;  // churn_learning.h

// The signals, in the order of DriverState.signal_amounts.
enum Signal { kExperience = 0, kEffort = 1, kEngagement = 2, kValue = 3 };
inline constexpr int kSignals = 4;
const char* SignalName(int signal);

// What one touchpoint contributes, after its importance weight.
struct EventScore {
  double weight = 1;
  double positive[kSignals] = {0, 0, 0, 0};
  double negative[kSignals] = {0, 0, 0, 0};
  double wait_seconds = 0;
  // A bad experience (experience amount below 0) or high effort (a wait of
  // 10 minutes or more, CES 7): counted as a negative touch in the
  // pain-point aggregates.
  bool negative_touch = false;
};
EventScore ScoreEvent(const CompiledModel& model,
                      const omnicx::v1::Interaction& event);

// Feedback (survey_response, review): the customer's verdict on the
// touchpoint it names, not a touchpoint of its own.
bool IsFeedback(absl::string_view type);

// channel \x1f type \x1f touchpoint (touchpoints hold no control characters).
std::string DriverKey(omnicx::v1::Channel channel, const std::string& type,
                      const std::string& touchpoint);
// The parts of a DriverKey; nullopt when `key` is not one.
struct DriverParts {
  omnicx::v1::Channel channel = omnicx::v1::CHANNEL_UNSPECIFIED;
  std::string type;
  std::string touchpoint;
  // What a driver or pain point is called: the touchpoint, else the type.
  const std::string& name() const {
    return touchpoint.empty() ? type : touchpoint;
  }
};
std::optional<DriverParts> ParseDriverKey(absl::string_view key);

// A churn label (model.IsChurnLabel) only sets churned_ms (the earliest
// label): it is not a touchpoint, so nothing learned from the customer
// includes it. Feedback with a touchpoint counts toward that touchpoint
// (driver key: any channel, no type, the touchpoint) and is no contact on
// its case.
void ApplyEvent(const CompiledModel& model,
                const omnicx::v1::Interaction& event, JourneyState* state);

// Adds `other`'s events into `into` (customer_id and the stored stage of
// `into` are kept; call RefreshDerived afterwards).
void MergeState(const CompiledModel& model, const JourneyState& other,
                JourneyState* into);

// Everything the scores, stages and segment rules read, at one time.
struct Features {
  double experience_positive = 0, experience_negative = 0;
  double effort_positive = 0, effort_negative = 0;
  double engagement_positive = 0, engagement_negative = 0;
  double value_positive = 0, value_negative = 0;
  double health_logit = 0;
  double health = 0;      // 1–99
  double churn_risk = 0;  // 0.01–0.99, with what was learned
  // The configured model's churn logit (before learned corrections).
  double churn_prior_logit = 0;
  int open_cases = 0;
  double idle_days = 0;
  double tenure_days = 0;
  double digital_share = 0, assisted_share = 0, physical_share = 0;
  double events = 0, purchases = 0, lifetime_value = 0;
  double last_nps = -1;  // -1: never answered
};
// `learned` (may be null or empty: the prior alone) moves churn risk.
Features ComputeFeatures(const CompiledModel& model, const JourneyState& state,
                         int64_t at_ms, const LearnedChurn* learned = nullptr);
// The features by SegmentFeatures() name (built only where rules need it).
std::map<std::string, double> NamedFeatures(const Features& f);

struct StageAt {
  omnicx::v1::Stage stage = omnicx::v1::STAGE_UNSPECIFIED;
  // Best estimate of when the customer entered it.
  int64_t entered_ms = 0;
};
StageAt ComputeStage(const CompiledModel& model, const JourneyState& state,
                     const Features& features, int64_t at_ms);

struct StageTransition {
  omnicx::v1::Stage from = omnicx::v1::STAGE_UNSPECIFIED;
  omnicx::v1::Stage to = omnicx::v1::STAGE_UNSPECIFIED;
  int64_t at_ms = 0;
};
// Updates the stored stage (as of the latest touchpoint, or of a later
// time-driven move already stored: StageAsOf) and churn risk (as of the
// latest touchpoint); returns the transition when the stage changed.
std::optional<StageTransition> RefreshDerived(
    const CompiledModel& model, JourneyState* state,
    const LearnedChurn* learned = nullptr);

// The time the stored stage is as of: the latest touchpoint or label, or
// the latest time-driven move a sweep stored (stage_as_of_ms).
int64_t StageAsOf(const JourneyState& state);

// The first moment in (max(StageAsOf(state), scan_from), until_ms] at which
// the stage computed by time alone (no new event) differs from the stored
// one: onboarding over, idle long enough to be churned, churn risk or health
// crossing a stage's bound as the signals decay and idle months add up.
// Checked day by day (never past the idle limit, where a change is certain),
// then to the millisecond inside the day; a bound crossed and crossed back
// within one day is not seen. nullopt when there is none in the window or
// none ahead (churned, no events). `from` of the result is the stored stage.
// About 200 evaluations of the features for a full window: for the sweep,
// not the per-event path (NextStageCheck).
std::optional<StageTransition> NextStageChange(
    const CompiledModel& model, const JourneyState& state,
    const LearnedChurn* learned = nullptr, int64_t scan_from = 0,
    int64_t until_ms = std::numeric_limits<int64_t>::max());

// When a sweep should next look at the customer, having looked up to
// `checked_ms`: `interval` later, or sooner at the exact end of onboarding
// or of the idle limit; nullopt when no time-driven change can come
// (churned, no events). Cheap (no features): what a commit records.
std::optional<int64_t> NextStageCheck(const CompiledModel& model,
                                      const JourneyState& state,
                                      int64_t checked_ms,
                                      absl::Duration interval);

// Stores, in order, every time-driven move in (max(StageAsOf, scan_from),
// now_ms] (at most `max_moves`): the stage, stage_entered_ms and
// stage_as_of_ms become the move's time. What a sweep of due customers
// commits.
std::vector<StageTransition> SweepStage(const CompiledModel& model,
                                        JourneyState* state, int64_t now_ms,
                                        const LearnedChurn* learned = nullptr,
                                        int64_t scan_from = 0,
                                        int max_moves = 8);

// Takes back the swept moves (state.swept) later than `event_ms`, the time
// of a touchpoint that arrives after the sweep: the stored stage becomes
// the one before the earliest of them. Returns them, oldest first, for the
// funnel to subtract; the caller applies the touchpoint and sweeps again.
std::vector<StageTransition> RetractSweptAfter(JourneyState* state,
                                               int64_t event_ms);

// GetJourney's answer at `now_ms` (at most `max_drivers` drivers).
omnicx::v1::JourneySummary Summarize(const CompiledModel& model,
                                     const JourneyState& state, int64_t now_ms,
                                     int max_drivers = 10,
                                     const LearnedChurn* learned = nullptr);

// The customer's share of the pain-point aggregates: field
// "<stage>\x1f<driver key>\x1f<metric>" → amount (metrics: a affected, t
// touches, n negatives, w wait in milliseconds, wn waits, r repeat-contact
// customer, c churn risk as of the latest touchpoint in whole percentage
// points), plus "<stage>\x1f*\x1fa" and "...\x1fc" for the population.
// Integers, so the aggregates are kept with HINCRBY: adding and later
// removing a contribution cancels exactly (floating-point sums drift), and
// Redis neither parses nor formats a float per increment.
using AggregateFields = std::map<std::string, int64_t>;
AggregateFields PainContributions(const JourneyState& state);
// after − before, without zero entries.
AggregateFields AggregateDelta(const AggregateFields& before,
                               const AggregateFields& after);

// The same contributions in numbers, cheap to take before and after each
// apply: PainDelta(SnapshotPain(a), SnapshotPain(b)) equals
// AggregateDelta(PainContributions(a), PainContributions(b)), but builds a
// field name only for the amounts that changed.
inline constexpr int kPainMetrics = 7;  // a, t, n, w, wn, r, c
struct PainSnapshot {
  bool empty = true;  // no events: contributes nothing
  omnicx::v1::Stage stage = omnicx::v1::STAGE_UNSPECIFIED;
  int64_t churn = 0;
  absl::flat_hash_map<std::string, std::array<int64_t, kPainMetrics>> drivers;
};
PainSnapshot SnapshotPain(const JourneyState& state);
AggregateFields PainDelta(const PainSnapshot& before,
                          const PainSnapshot& after);

}  // namespace omnicx::journey

#endif  // OMNICX_SERVICES_JOURNEY_JOURNEY_STATE_H_
