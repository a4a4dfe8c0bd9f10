// Keeps this replica's view of the action catalog and the learning
// statistics current: immutable snapshots swapped under a short lock, so a
// decision reads one consistent catalog without holding anything.
//
//   CatalogWatcher watcher(store, {.catalog_interval = absl::Seconds(1)});
//   OMNICX_RETURN_IF_ERROR(watcher.Refresh());   // first load (optional)
//   watcher.Start();                              // background polling
//   std::shared_ptr<const Catalog> catalog = watcher.catalog();
//
// The catalog version in Redis is polled every catalog_interval (setting
// catalog_refresh_interval, at most 5 s) and the catalog reloaded when it
// changed, so every replica serves an upsert within that interval; the
// replica that took the upsert refreshes at once. Statistics are re-read
// every stats_interval. While Redis is unreachable the last snapshots stay
// in use (with a seed catalog, that one from start-up). The intervals run
// on the given clock (tests pass a time::SimulatedClock).
#ifndef OMNICX_SERVICES_RECOMMENDATION_CATALOG_WATCHER_H_
#define OMNICX_SERVICES_RECOMMENDATION_CATALOG_WATCHER_H_

#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/time/clock.h"
#include "services/recommendation/learning.h"
#include "services/recommendation/recommendation_store.h"

namespace omnicx::recommendation {

// A loaded catalog with the pointers arbitration walks (stable order).
struct Catalog {
  CatalogSnapshot snapshot;
  std::vector<const omnicx::v1::Action*> actions;
  const omnicx::v1::Action* Find(absl::string_view action_id) const;
};

struct WatcherOptions {
  absl::Duration catalog_interval = absl::Seconds(1);
  absl::Duration stats_interval = absl::Seconds(1);
  // The start-up catalog (catalog_file or the default): served until Redis
  // is reached, then applied there (once per change) before the first load.
  std::optional<ActionCatalog> seed;
};

class CatalogWatcher {
 public:
  CatalogWatcher(RecommendationStore& store, WatcherOptions options,
                 time::Clock& clock = time::RealClock());
  ~CatalogWatcher();

  // Reloads the catalog if its version changed, and the statistics.
  absl::Status Refresh();
  absl::Status RefreshCatalog();
  absl::Status RefreshStats();

  void Start();
  void Stop();

  // Never null: an empty catalog (version 0) before the first load.
  std::shared_ptr<const Catalog> catalog() const;
  std::shared_ptr<const StatsTable> stats() const;

 private:
  void Run();

  RecommendationStore& store_;
  const WatcherOptions options_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Catalog> catalog_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const StatsTable> stats_ ABSL_GUARDED_BY(mu_);
  absl::Mutex refresh_mu_;  // one catalog reload at a time
  bool seed_pending_ ABSL_GUARDED_BY(refresh_mu_) = false;
  time::Clock& clock_;
  time::StopSignal stop_;
  std::thread thread_;
};

}  // namespace omnicx::recommendation

#endif  // OMNICX_SERVICES_RECOMMENDATION_CATALOG_WATCHER_H_
