#include "services/ingestion/lag_monitor.h"

#include <algorithm>

#include "libs/logging/log.h"

namespace omnicx::ingestion {

LagMonitor::LagMonitor(EventLog& log, Intake& intake,
                       metrics::Registry& registry, absl::Duration interval,
                       absl::Duration trim_interval, time::Clock& clock)
    : log_(log),
      intake_(intake),
      interval_(interval),
      trim_interval_(trim_interval),
      lag_(registry.Gauge("omnicx_ingestion_consumer_lag",
                          "Entries not yet delivered to a consumer group, "
                          "summed over shards.",
                          {"group"})),
      pending_(registry.Gauge("omnicx_ingestion_consumer_pending",
                              "Entries delivered to a consumer group and not "
                              "yet acknowledged.",
                              {"group"})),
      trimmed_(registry.Counter("omnicx_ingestion_trimmed_total",
                                "Stream entries trimmed after every group "
                                "acknowledged them.",
                                {})),
      clock_(clock),
      stop_(clock) {
  thread_ = std::thread([this] { Loop(); });
}

LagMonitor::~LagMonitor() { Stop(); }

void LagMonitor::Stop() {
  stop_.Stop();
  if (thread_.joinable()) thread_.join();
}

void LagMonitor::RefreshNow() {
  absl::StatusOr<std::vector<GroupLag>> lags = log_.ConsumerLag();
  if (!lags.ok()) return;  // Redis down: readiness reports it
  int64_t worst = 0;
  for (const GroupLag& g : *lags) {
    lag_.WithLabels({g.group}).Set(static_cast<double>(g.lag));
    pending_.WithLabels({g.group}).Set(static_cast<double>(g.pending));
    worst = std::max(worst, g.lag + g.pending);
  }
  intake_.SetObservedLag(worst);
}

void LagMonitor::Loop() {
  absl::Time next_trim = clock_.Now() + trim_interval_;
  bool groups_ready = false;
  while (!stop_.WaitFor(interval_)) {
    if (!groups_ready) {
      // Redis may have been down at start, or flushed since.
      groups_ready = log_.EnsureConsumerGroups().ok();
    }
    RefreshNow();
    if (clock_.Now() >= next_trim) {
      next_trim = clock_.Now() + trim_interval_;
      absl::StatusOr<int64_t> n = log_.Trim();
      if (n.ok()) {
        trimmed_.WithLabels({}).Increment(static_cast<double>(*n));
      } else {
        groups_ready = false;
        OMNICX_LOG(kWarn) << "trim failed: " << n.status();
      }
    }
  }
}

}  // namespace omnicx::ingestion
