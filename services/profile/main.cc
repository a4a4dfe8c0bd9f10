// omnicx-profile: wiring only (see libs/server/service_main.h).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "libs/server/dead_letter_service.h"
#include "libs/server/service_main.h"
#include "libs/server/tls.h"
#include "libs/status/error_details.h"
#include "libs/status/status_macros.h"
#include "libs/streams/consumer.h"
#include "services/profile/event_applier.h"
#include "services/profile/profile_service.h"
#include "services/profile/profile_store.h"

namespace {

using omnicx::server::ServiceBundle;
using omnicx::server::ServiceContext;

absl::StatusOr<ServiceBundle> Build(ServiceContext& context) {
  using namespace omnicx::profile;  // NOLINT: wiring
  const auto& cfg = context.config;
  OMNICX_RETURN_IF_ERROR(omnicx::config::RequireIdentitySecret(cfg));
  ProfileStoreOptions store_options;
  store_options.identity_secret = cfg.identity_secret();
  store_options.timeline_cap = cfg.timeline_cap();
  store_options.stream_shards = cfg.stream_shards();
  // Late events older than max_event_age are refused at ingestion, so
  // tombstones need to outlive only that.
  store_options.tombstone_ttl =
      omnicx::config::DurationSetting(cfg.max_event_age()) + absl::Hours(24);
  auto store = std::make_shared<ProfileStore>(context.redis, context.keys,
                                              store_options);
  auto applier = std::make_shared<EventApplier>(*store, context.metrics);

  // Several consumers share the shards (each reads its own subset:
  // ShardsOfConsumer): applying is order-independent and idempotent, so
  // they need no coordination; disjoint shards only make commits on one
  // customer race less.
  std::vector<std::shared_ptr<omnicx::streams::StreamConsumer>> consumers;
  for (int i = 0; i < cfg.consumers(); ++i) {
    omnicx::streams::ConsumerOptions consumer_options;
    consumer_options.group = "profile";
    consumer_options.consumer =
        absl::StrCat(omnicx::streams::DefaultConsumerName(), "-", i);
    for (int shard : omnicx::streams::ShardsOfConsumer(i, cfg.consumers(),
                                                       cfg.stream_shards())) {
      consumer_options.streams.push_back(context.keys.EventShard(shard));
    }
    consumer_options.dead_letter = context.keys.DeadLetter("profile");
    consumer_options.blocking_reads = &context.blocking_redis;
    consumer_options.replica_wait =
        omnicx::server::StrictReplicaWait(context.config);
    consumers.push_back(std::make_shared<omnicx::streams::StreamConsumer>(
        context.redis, consumer_options,
        omnicx::streams::StreamConsumer::Batched{},
        [applier](const std::vector<omnicx::streams::StreamEntry>& es) {
          return applier->HandleBatch(es);
        }));
    consumers.back()->Start();
  }

  ContextOptions context_options;
  context_options.journey_timeout =
      omnicx::config::DurationSetting(cfg.context_journey_timeout());
  context_options.recommendation_timeout =
      omnicx::config::DurationSetting(cfg.context_recommendation_timeout());
  context_options.total_timeout =
      omnicx::config::DurationSetting(cfg.context_timeout());
  context_options.cache_ttl =
      omnicx::config::DurationSetting(cfg.context_cache_ttl());
  context_options.max_in_flight = cfg.context_max_in_flight();
  // The context's Redis reads and cache writes run here, off the gRPC
  // callback threads: one thread per context that may be in flight, up to
  // the Redis pool's 16 connections.
  auto redis_work = std::make_shared<omnicx::server::BlockingExecutor>(
      std::min(16, std::max(1, cfg.context_max_in_flight())),
      static_cast<size_t>(std::max(1, cfg.context_max_in_flight())) * 4);
  context_options.redis_work = redis_work.get();
  // The context's parts have deadlines (50 ms by default) shorter than the
  // service config's first backoff (0.25 s): a retry could only turn a
  // prompt UNAVAILABLE section into DEADLINE_EXCEEDED, so their channels do
  // not retry (an agent's console asks again). The erasure's ForgetCustomer
  // (1 s) does retry.
  using omnicx::server::Retries;
  auto assembler = std::make_shared<ContextAssembler>(
      *store,
      omnicx::server::DialService(cfg.journey_address(), cfg, Retries::kNone),
      omnicx::server::DialService(cfg.recommendation_address(), cfg,
                                  Retries::kNone),
      context_options, context.credential);
  auto journey = omnicx::server::DialService(cfg.journey_address(), cfg);

  omnicx::audit::AuditOptions audit_options;
  audit_options.max_entries = cfg.auth().audit_max_entries();
  audit_options.customer_secret = cfg.identity_secret();
  absl::StatusOr<std::unique_ptr<omnicx::audit::AuditLog>> created_audit =
      omnicx::audit::AuditLog::Create(&context.redis, context.keys,
                                      std::move(audit_options));
  if (!created_audit.ok()) return created_audit.status();
  std::shared_ptr<omnicx::audit::AuditLog> audit = std::move(*created_audit);

  ServiceBundle bundle;
  bundle.services.push_back(std::make_unique<ProfileServiceImpl>(
      *store, context.auth, assembler.get(), absl::Now, journey,
      context.credential, audit.get()));
  bundle.service_names.push_back(
      omnicx::v1::ProfileService::service_full_name());
  std::vector<omnicx::streams::StreamConsumer*> replayers;
  for (const auto& c : consumers) replayers.push_back(c.get());
  omnicx::server::AddDeadLetterService(context, "profile", replayers, bundle);
  bundle.stop = [consumers] {
    for (const auto& c : consumers) c->Stop();
  };
  // Released in this order after the server drained.
  for (const auto& c : consumers) bundle.keep_alive.push_back(c);
  bundle.keep_alive.push_back(applier);
  bundle.keep_alive.push_back(assembler);   // waits for its cache writes
  bundle.keep_alive.push_back(redis_work);  // runs what is queued, joins
  bundle.keep_alive.push_back(store);
  bundle.keep_alive.push_back(audit);
  return bundle;
}

}  // namespace

int main(int argc, char** argv) {
  return omnicx::server::ServiceMain(omnicx::config::Service::kProfile, argc,
                                     argv, Build);
}
