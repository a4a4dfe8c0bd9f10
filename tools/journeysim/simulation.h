// The journey simulator's model: a population of customers drawn from
// personas, whose journeys move through browsing, buying, delivery, service
// and renewal across channels, with touchpoint failures, waits, complaints,
// repeated contacts on one case (switching channels), recoveries and
// surveys. Each customer carries a latent "damage" — bad experiences weighted
// by how much the touchpoint matters, decaying slowly, only partly undone by
// a recovery — and churns with a daily hazard that rises with it. Customers
// who churn stop generating events (some send a cancellation first).
//
// The simulation runs past `now` for `horizon`: those future events are held
// out (never returned), and the churn they lead to is the ground truth a
// churn score is judged against.
//
//   SimulationConfig config;
//   config.now = absl::Now();
//   config.planted.push_back({"delivery", 0.25});
//   std::mt19937_64 rng(seed);
//   Population p = Simulate(config, rng);
//   WriteGroundTruth(p, std::cout);
//
// Pure and deterministic for a given config and generator: no gRPC, no clock,
// no I/O beyond the streams it is handed.
#ifndef OMNICX_TOOLS_JOURNEYSIM_SIMULATION_H_
#define OMNICX_TOOLS_JOURNEYSIM_SIMULATION_H_

#include <cstdint>
#include <iosfwd>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "omnicx/v1/common.pb.h"

namespace omnicx::journeysim {

enum class Persona {
  kDigitalFirst = 0,
  kBranchLoyal = 1,
  kB2bAccount = 2,
  kBargainHunter = 3,
  kNewCustomer = 4,
};
inline constexpr int kPersonaCount = 5;

// "digital_first", "branch_loyal", "b2b_account", "bargain_hunter",
// "new_customer".
absl::string_view PersonaName(Persona persona);
absl::StatusOr<Persona> ParsePersona(absl::string_view name);

// A touchpoint made painful on purpose: its failure rate replaces the base
// rate for every customer who passes through it.
struct PlantedPain {
  std::string touchpoint;
  double failure_rate = 0.25;
};

// "touchpoint=delivery" or "touchpoint=delivery,rate=0.5". The touchpoint
// must be one the simulator generates (SimulatedTouchpoints()).
absl::StatusOr<PlantedPain> ParsePlant(absl::string_view spec);

// Names of the touchpoints that can fail (and so can be planted).
std::vector<std::string> SimulatedTouchpoints();

struct SimulationConfig {
  int64_t customers = 5000;
  // Target number of observed events; activity is scaled so the expected
  // total is about this many (0: the personas' natural activity).
  int64_t events = 200000;
  // End of the observed history. Nothing observed is later than this.
  absl::Time now = absl::UnixEpoch();
  // The oldest customer starts at most this long before `now`.
  absl::Duration history = absl::Hours(24 * 300);
  // Held-out future simulated after `now` for the churn ground truth.
  absl::Duration horizon = absl::Hours(24 * 30);
  std::vector<PlantedPain> planted;
  // Failure rate of every failing touchpoint that is not planted.
  double base_failure_rate = 0.03;
  // Customer i has phone +1555<phone_base + i, 7 digits>.
  int64_t phone_base = 2000000;
  // Prefix of every event id ("sim<seed>-<now>" style, chosen by the
  // caller): event ids are unique per run.
  std::string run_id = "sim";
  // Share of each persona, in Persona order; normalised.
  std::vector<double> persona_mix = {0.30, 0.20, 0.15, 0.20, 0.15};
  // Share of customers (the training half of the held-out protocol) whose
  // churn is reported: a `churned` event at the moment they leave, when
  // that is before `now`. Which customers: LabelledCustomer.
  double label_share = 0;
  // Touchpoints renamed and their importance redrawn (RedrawTouchpoints):
  // simulator name -> {name sent, importance}. Empty: the defaults.
  std::map<std::string, std::pair<std::string, double>> touchpoints;
};

// Whether customer `index` is in the labelled share (a low-discrepancy
// sequence, so any prefix of customers is split evenly).
bool LabelledCustomer(int64_t index, double label_share);

// Renames every touchpoint ("tp-<hex>") and draws its importance anew
// (log-uniform in [0.3, 3.5]) from `seed`: a scoring model cannot succeed by
// knowing the simulator's defaults. Planted pain points keep being named by
// their simulator name (--plant) and are reported under the new one.
void RedrawTouchpoints(uint64_t seed, SimulationConfig* config);

struct CustomerTruth {
  std::string phone;
  std::string email;  // empty when the customer never gave one
  Persona persona = Persona::kDigitalFirst;
  absl::Time first_seen;
  bool churned = false;  // within the simulated span (history + horizon)
  absl::Time churned_at = absl::InfiniteFuture();
  int64_t observed_events = 0;
  // Latent damage at `now` (the simulator's own state; never sent).
  double damage_at_now = 0;
  // Failures on touchpoints that matter most (importance ≥ 2.5) before now.
  int severe_experiences = 0;
  // Planted touchpoints where this customer had a failure before now.
  std::vector<std::string> planted_hits;
  // Touchpoint failures before now (the naive baseline counts them).
  int failures = 0;
  // The daily churn hazard at now (persona and felt damage): the truth a
  // churn score is compared with.
  double hazard_at_now = 0;
  // In the labelled share: their churn is reported (training half).
  bool labelled = false;

  bool ChurnedBy(absl::Time t) const { return churned && churned_at <= t; }
};

struct Population {
  SimulationConfig config;
  // Observed events (occurred_at ≤ now), by time then customer.
  std::vector<omnicx::v1::Interaction> events;
  // events[k] belongs to customers[event_customer[k]].
  std::vector<int64_t> event_customer;
  std::vector<CustomerTruth> customers;
};

Population Simulate(const SimulationConfig& config, std::mt19937_64& rng);

// The daily churn hazard of a persona at the damage the customer feels (their
// damage, followed with a lag of about a month): the persona's base hazard
// times exp(1.2 · damage), capped at 0.05 per day.
double DailyChurnHazard(Persona persona, double damage);

// How much a touchpoint matters to the simulated customers (0.3–3): the
// weight its failures add to damage (the defaults; see RedrawTouchpoints).
double TouchpointImportance(absl::string_view touchpoint);
// The same under `config` (its redrawn importances, if any).
double TouchpointImportance(const SimulationConfig& config,
                            absl::string_view touchpoint);

// Ground truth, tab-separated, documented in its header lines:
//   # omnicx-journeysim ground truth v1
//   # now=<RFC3339> horizon_days=<d> customers=<n> events=<n>
//   # planted<TAB><touchpoint><TAB><failure rate>      (one per plant)
//   phone email persona first_seen churned churned_at events damage severe
//   planted_hits (comma-separated; "-" when none) failures labelled hazard
// (a file without the last three columns reads as failures 0, unlabelled,
// hazard 0).
void WriteGroundTruth(const Population& population, std::ostream& out);

struct GroundTruth {
  absl::Time now;
  absl::Duration horizon;
  std::vector<PlantedPain> planted;
  std::vector<CustomerTruth> customers;
};
absl::StatusOr<GroundTruth> ReadGroundTruth(std::istream& in);

}  // namespace omnicx::journeysim

#endif  // OMNICX_TOOLS_JOURNEYSIM_SIMULATION_H_
