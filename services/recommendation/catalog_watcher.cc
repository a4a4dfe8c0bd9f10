#include "services/recommendation/catalog_watcher.h"

#include "libs/logging/log.h"
#include "libs/status/status_macros.h"

namespace omnicx::recommendation {

const omnicx::v1::Action* Catalog::Find(absl::string_view action_id) const {
  auto it =
      std::lower_bound(actions.begin(), actions.end(), action_id,
                       [](const omnicx::v1::Action* a, absl::string_view id) {
                         return a->action_id() < id;
                       });
  if (it == actions.end() || (*it)->action_id() != action_id) return nullptr;
  return *it;
}

CatalogWatcher::CatalogWatcher(RecommendationStore& store,
                               WatcherOptions options, time::Clock& clock)
    : store_(store),
      options_(options),
      catalog_(std::make_shared<Catalog>()),
      stats_(std::make_shared<StatsTable>()),
      clock_(clock),
      stop_(clock) {
  if (options_.seed.has_value()) {
    auto provisional = std::make_shared<Catalog>();
    for (const omnicx::v1::Action& a : options_.seed->actions()) {
      provisional->snapshot.actions.push_back(a);
    }
    std::sort(provisional->snapshot.actions.begin(),
              provisional->snapshot.actions.end(),
              [](const omnicx::v1::Action& a, const omnicx::v1::Action& b) {
                return a.action_id() < b.action_id();
              });
    for (const omnicx::v1::Action& a : provisional->snapshot.actions) {
      provisional->actions.push_back(&a);
    }
    {
      absl::MutexLock reload(&refresh_mu_);
      seed_pending_ = true;
    }
    absl::MutexLock lock(&mu_);
    catalog_ = std::move(provisional);
  }
}

CatalogWatcher::~CatalogWatcher() { Stop(); }

absl::Status CatalogWatcher::RefreshCatalog() {
  absl::MutexLock reload(&refresh_mu_);
  if (seed_pending_) {
    OMNICX_RETURN_IF_ERROR(store_.ApplyCatalog(*options_.seed).status());
    seed_pending_ = false;
  }
  OMNICX_ASSIGN_OR_RETURN(int64_t version, store_.CatalogVersion());
  if (version == catalog()->snapshot.version && version != 0) {
    return absl::OkStatus();
  }
  OMNICX_ASSIGN_OR_RETURN(CatalogSnapshot snapshot, store_.LoadCatalog());
  auto next = std::make_shared<Catalog>();
  next->snapshot = std::move(snapshot);
  for (const omnicx::v1::Action& a : next->snapshot.actions) {
    next->actions.push_back(&a);
  }
  absl::MutexLock lock(&mu_);
  // A concurrent reload may have installed a newer one meanwhile.
  if (next->snapshot.version >= catalog_->snapshot.version) {
    catalog_ = std::move(next);
  }
  return absl::OkStatus();
}

absl::Status CatalogWatcher::RefreshStats() {
  OMNICX_ASSIGN_OR_RETURN(StatsTable stats, store_.LoadStats());
  auto next = std::make_shared<const StatsTable>(std::move(stats));
  absl::MutexLock lock(&mu_);
  stats_ = std::move(next);
  return absl::OkStatus();
}

absl::Status CatalogWatcher::Refresh() {
  absl::Status s = RefreshCatalog();
  absl::Status t = RefreshStats();
  return s.ok() ? t : s;
}

void CatalogWatcher::Start() {
  thread_ = std::thread([this] { Run(); });
}

void CatalogWatcher::Stop() {
  stop_.Stop();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const Catalog> CatalogWatcher::catalog() const {
  absl::MutexLock lock(&mu_);
  return catalog_;
}

std::shared_ptr<const StatsTable> CatalogWatcher::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void CatalogWatcher::Run() {
  absl::Time next_stats = clock_.Now();
  while (!stop_.WaitFor(options_.catalog_interval)) {
    absl::Status s = RefreshCatalog();
    if (!s.ok()) OMNICX_LOG(kWarn) << "catalog refresh: " << s;
    if (clock_.Now() >= next_stats) {
      next_stats = clock_.Now() + options_.stats_interval;
      s = RefreshStats();
      if (!s.ok()) OMNICX_LOG(kWarn) << "statistics refresh: " << s;
    }
  }
}

}  // namespace omnicx::recommendation
