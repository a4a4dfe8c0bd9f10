// omnicx-journey: wiring only (see libs/server/service_main.h).
#include "absl/strings/str_cat.h"
#include "libs/identity/directory.h"
#include "libs/server/dead_letter_service.h"
#include "libs/server/service_main.h"
#include "libs/status/status_macros.h"
#include "libs/streams/consumer.h"
#include "services/journey/aggregator.h"
#include "services/journey/churn_learner.h"
#include "services/journey/event_consumer.h"
#include "services/journey/journey_model.h"
#include "services/journey/journey_service.h"
#include "services/journey/journey_store.h"

namespace {

using omnicx::server::ServiceBundle;
using omnicx::server::ServiceContext;

absl::StatusOr<ServiceBundle> Build(ServiceContext& context) {
  using namespace omnicx::journey;  // NOLINT: wiring
  const auto& cfg = context.config;
  OMNICX_RETURN_IF_ERROR(omnicx::config::RequireIdentitySecret(cfg));
  // A bad model stops start-up with the entry named.
  OMNICX_ASSIGN_OR_RETURN(CompiledModel compiled,
                          LoadJourneyModel(cfg.weights_file()));
  auto model = std::make_shared<CompiledModel>(std::move(compiled));
  auto store =
      std::make_shared<JourneyStore>(context.redis, context.keys, *model);
  auto directory = std::make_shared<omnicx::identity::CustomerDirectory>(
      context.redis, context.keys, cfg.identity_secret());
  auto handlers = std::make_shared<JourneyHandlers>(*store, context.metrics);

  std::vector<std::string> shards;
  for (int shard = 0; shard < cfg.stream_shards(); ++shard) {
    shards.push_back(context.keys.ResolvedShard(shard));
  }
  // Several consumers share the resolved shards, each its own subset
  // (ShardsOfConsumer: a customer's events are in one shard, so one thread
  // of the process commits them; applying is order-independent and
  // compare-and-set, so this only avoids retries); one follows the merge log.
  std::vector<std::shared_ptr<omnicx::streams::StreamConsumer>> consumers;
  for (int i = 0; i < cfg.consumers(); ++i) {
    omnicx::streams::ConsumerOptions options;
    options.group = "journey";
    options.consumer =
        absl::StrCat(omnicx::streams::DefaultConsumerName(), "-", i);
    for (int shard : omnicx::streams::ShardsOfConsumer(i, cfg.consumers(),
                                                       cfg.stream_shards())) {
      options.streams.push_back(shards[shard]);
    }
    options.dead_letter = context.keys.DeadLetter("journey");
    options.blocking_reads = &context.blocking_redis;
    options.replica_wait = omnicx::server::StrictReplicaWait(cfg);
    consumers.push_back(std::make_shared<omnicx::streams::StreamConsumer>(
        context.redis, options, omnicx::streams::StreamConsumer::Batched{},
        [handlers](const std::vector<omnicx::streams::StreamEntry>& es) {
          return handlers->HandleEvents(es);
        }));
  }
  omnicx::streams::ConsumerOptions merge_options;
  merge_options.group = "journey";
  merge_options.consumer =
      absl::StrCat(omnicx::streams::DefaultConsumerName(), "-merges");
  merge_options.streams = {context.keys.MergeLog()};
  merge_options.dead_letter = context.keys.DeadLetter("journey");
  merge_options.blocking_reads = &context.blocking_redis;
  merge_options.replica_wait = omnicx::server::StrictReplicaWait(cfg);
  consumers.push_back(std::make_shared<omnicx::streams::StreamConsumer>(
      context.redis, merge_options,
      [handlers](const omnicx::streams::StreamEntry& e) {
        return handlers->HandleMerge(e);
      }));
  for (const auto& c : consumers) c->Start();
  // Folds the partitions' outboxes into the aggregates about once a second;
  // every replica runs one (a fold is effectively once, a sweep's move too).
  AggregatorOptions aggregator_options;
  aggregator_options.interval =
      omnicx::config::DurationSetting(cfg.aggregate_interval());
  // Before each fold, the stage moves driven by time alone that are due.
  aggregator_options.before_fold = [store] { return store->SweepDue(); };
  aggregator_options.replica_wait = omnicx::server::StrictReplicaWait(cfg);
  auto aggregator = std::make_shared<Aggregator>(context.redis, context.keys,
                                                 aggregator_options);
  aggregator->Start();
  // Learns churn from the labelled examples the commits append; every
  // replica runs one (a store is refused when another replica stored first).
  ChurnLearnerOptions learner_options;
  learner_options.replica_wait = omnicx::server::StrictReplicaWait(cfg);
  auto learner = std::make_shared<ChurnLearner>(context.redis, context.keys,
                                                *model, learner_options);
  learner->Start();
  auto trimmer = std::make_shared<ResolvedShardTrimmer>(
      context.redis, shards, context.metrics, absl::Seconds(10));

  ServiceBundle bundle;
  bundle.services.push_back(std::make_unique<JourneyServiceImpl>(
      *store, *directory, *model, context.auth));
  bundle.service_names.push_back(
      omnicx::v1::JourneyService::service_full_name());
  std::vector<omnicx::streams::StreamConsumer*> replayers;
  for (const auto& c : consumers) replayers.push_back(c.get());
  omnicx::server::AddDeadLetterService(context, "journey", replayers, bundle);
  bundle.stop = [consumers, trimmer, aggregator, learner] {
    for (const auto& c : consumers) c->Stop();
    trimmer->Stop();
    aggregator->Stop();
    learner->Stop();
  };
  // Released in this order after the server drained.
  for (const auto& c : consumers) bundle.keep_alive.push_back(c);
  bundle.keep_alive.push_back(trimmer);
  bundle.keep_alive.push_back(aggregator);
  bundle.keep_alive.push_back(learner);
  bundle.keep_alive.push_back(handlers);
  bundle.keep_alive.push_back(directory);
  bundle.keep_alive.push_back(store);
  bundle.keep_alive.push_back(model);
  return bundle;
}

}  // namespace

int main(int argc, char** argv) {
  return omnicx::server::ServiceMain(omnicx::config::Service::kJourney, argc,
                                     argv, Build);
}
