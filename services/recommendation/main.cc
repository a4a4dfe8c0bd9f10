// omnicx-recommendation: wiring only (see libs/server/service_main.h).
#include "absl/strings/str_cat.h"
#include "libs/server/dead_letter_service.h"
#include "libs/server/service_main.h"
#include "libs/status/status_macros.h"
#include "libs/streams/consumer.h"
#include "services/journey/journey_model.h"
#include "services/journey/journey_reader.h"
#include "services/recommendation/catalog.h"
#include "services/recommendation/catalog_watcher.h"
#include "services/recommendation/customer_reader.h"
#include "services/recommendation/deadline_timer.h"
#include "services/recommendation/merge_handler.h"
#include "services/recommendation/recommendation_service.h"
#include "services/recommendation/recommendation_store.h"
#include "services/recommendation/recommender.h"

namespace {

using omnicx::config::DurationSetting;
using omnicx::server::ServiceBundle;
using omnicx::server::ServiceContext;

absl::StatusOr<ServiceBundle> Build(ServiceContext& context) {
  using namespace omnicx::recommendation;  // NOLINT: wiring
  const auto& cfg = context.config;
  // The customer's profile and journey are read from Redis: the identity
  // index's secret and the journey service's model (the same weights_file),
  // so stage, health and churn risk are derived as GetJourney derives them.
  OMNICX_RETURN_IF_ERROR(omnicx::config::RequireIdentitySecret(cfg));
  OMNICX_ASSIGN_OR_RETURN(
      omnicx::journey::CompiledModel compiled,
      omnicx::journey::LoadJourneyModel(cfg.weights_file()));
  auto model =
      std::make_shared<omnicx::journey::CompiledModel>(std::move(compiled));
  auto journeys = std::make_shared<omnicx::journey::JourneyReader>(
      context.redis, context.keys, *model);
  auto reader = std::make_shared<RedisCustomerReader>(
      context.redis, context.keys, cfg.identity_secret(), *journeys);

  absl::StatusOr<ActionCatalog> catalog =
      cfg.catalog_file().empty() ? DefaultCatalog()
                                 : LoadCatalogFile(cfg.catalog_file());
  if (!catalog.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid setting catalog_file (OMNICX_CATALOG_FILE): ",
                     catalog.status().message()));
  }

  StoreOptions store_options;
  store_options.hold_ttl = DurationSetting(cfg.hold_ttl());
  store_options.decision_ttl = DurationSetting(cfg.decision_ttl());
  store_options.global_daily_cap = cfg.global_daily_cap();
  auto store = std::make_shared<RecommendationStore>(
      context.redis, context.keys, store_options);

  WatcherOptions watcher_options;
  watcher_options.catalog_interval =
      DurationSetting(cfg.catalog_refresh_interval());
  watcher_options.stats_interval =
      DurationSetting(cfg.stats_refresh_interval());
  watcher_options.seed = std::move(*catalog);
  auto watcher = std::make_shared<CatalogWatcher>(*store, watcher_options);
  // Redis may be down at start-up: the watcher keeps trying.
  (void)watcher->Refresh();
  watcher->Start();

  RecommenderOptions options;
  options.budget = DurationSetting(cfg.recommend_budget());
  options.max_in_flight = cfg.recommend_max_in_flight();
  options.arbitration.prior_strength = cfg.prior_strength();
  options.features.high_value_threshold =
      static_cast<double>(cfg.high_value_threshold());
  options.features.severe_impact = cfg.severe_impact();
  options.features.severe_window = DurationSetting(cfg.severe_window());
  options.seed = static_cast<uint64_t>(cfg.thompson_seed());
  // Customer reads, reservations and outcome scripts run here, off the gRPC
  // callback threads; a full queue answers with the fallback (Recommend) or
  // RESOURCE_EXHAUSTED (RecordOutcome).
  auto redis_work = std::make_shared<omnicx::server::BlockingExecutor>(8, 1024);
  options.redis_work = redis_work.get();
  auto timer = std::make_shared<DeadlineTimer>();
  auto recommender = std::make_shared<Recommender>(
      *store, *watcher, *reader, *timer, context.metrics, options);

  // Merges from the profile service fold contact state into the survivor.
  omnicx::streams::ConsumerOptions merge_options;
  merge_options.group = "recommendation";
  merge_options.consumer = omnicx::streams::DefaultConsumerName();
  merge_options.streams = {context.keys.MergeLog()};
  merge_options.dead_letter = context.keys.DeadLetter("recommendation");
  merge_options.blocking_reads = &context.blocking_redis;
  merge_options.replica_wait =
      omnicx::server::StrictReplicaWait(context.config);
  auto merges = std::make_shared<omnicx::streams::StreamConsumer>(
      context.redis, merge_options,
      [store](const omnicx::streams::StreamEntry& e) {
        return ApplyMergeRecord(*store, e);
      });
  merges->Start();

  // Catalog changes name no customer: no identity secret is needed.
  omnicx::audit::AuditOptions audit_options;
  audit_options.max_entries = cfg.auth().audit_max_entries();
  absl::StatusOr<std::unique_ptr<omnicx::audit::AuditLog>> created_audit =
      omnicx::audit::AuditLog::Create(&context.redis, context.keys,
                                      std::move(audit_options));
  if (!created_audit.ok()) return created_audit.status();
  std::shared_ptr<omnicx::audit::AuditLog> audit = std::move(*created_audit);

  ServiceBundle bundle;
  bundle.services.push_back(std::make_unique<RecommendationServiceImpl>(
      *recommender, *store, *watcher, cfg.prior_strength(), context.auth,
      audit.get()));
  bundle.service_names.push_back(
      omnicx::v1::RecommendationService::service_full_name());
  omnicx::server::AddDeadLetterService(context, "recommendation",
                                       {merges.get()}, bundle);
  bundle.stop = [watcher, merges] {
    merges->Stop();
    watcher->Stop();
  };
  // Released in this order after the server drained.
  bundle.keep_alive.push_back(merges);
  bundle.keep_alive.push_back(timer);        // no more watchdogs
  bundle.keep_alive.push_back(recommender);  // waits for queued work
  bundle.keep_alive.push_back(redis_work);   // runs what is queued, joins
  bundle.keep_alive.push_back(reader);
  bundle.keep_alive.push_back(journeys);
  bundle.keep_alive.push_back(model);
  bundle.keep_alive.push_back(audit);
  bundle.keep_alive.push_back(watcher);
  bundle.keep_alive.push_back(store);
  return bundle;
}

}  // namespace

int main(int argc, char** argv) {
  return omnicx::server::ServiceMain(omnicx::config::Service::kRecommendation,
                                     argc, argv, Build);
}
