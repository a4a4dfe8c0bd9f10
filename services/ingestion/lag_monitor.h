// Background upkeep of the event log: every second it reads the consumer
// groups' lag (for back-pressure and the lag gauge); every `trim_interval`
// it trims what every group has acknowledged. Stops on Stop() or
// destruction. Intervals run on `clock` (tests pass a time::SimulatedClock
// and Advance it instead of waiting).
#ifndef OMNICX_SERVICES_INGESTION_LAG_MONITOR_H_
#define OMNICX_SERVICES_INGESTION_LAG_MONITOR_H_

#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/metrics/registry.h"
#include "libs/time/clock.h"
#include "services/ingestion/event_log.h"
#include "services/ingestion/intake.h"

namespace omnicx::ingestion {

class LagMonitor {
 public:
  LagMonitor(EventLog& log, Intake& intake, metrics::Registry& registry,
             absl::Duration interval = absl::Seconds(1),
             absl::Duration trim_interval = absl::Seconds(10),
             time::Clock& clock = time::RealClock());
  ~LagMonitor();

  // Reads lag now (tests call this instead of waiting).
  void RefreshNow();
  void Stop();

 private:
  void Loop();

  EventLog& log_;
  Intake& intake_;
  absl::Duration interval_;
  absl::Duration trim_interval_;
  metrics::GaugeFamily& lag_;
  metrics::GaugeFamily& pending_;
  metrics::CounterFamily& trimmed_;
  time::Clock& clock_;
  time::StopSignal stop_;
  std::thread thread_;
};

}  // namespace omnicx::ingestion

#endif  // OMNICX_SERVICES_INGESTION_LAG_MONITOR_H_
