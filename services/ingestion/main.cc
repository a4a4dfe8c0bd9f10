// omnicx-ingestion: wiring only (see libs/server/service_main.h).
#include "absl/strings/str_split.h"
#include "libs/config/config.h"
#include "libs/http/server.h"
#include "libs/logging/log.h"
#include "libs/server/dead_letter_service.h"
#include "libs/server/service_main.h"
#include "services/ingestion/dead_letters.h"
#include "services/ingestion/event_log.h"
#include "services/ingestion/ingestion_service.h"
#include "services/ingestion/intake.h"
#include "services/ingestion/lag_monitor.h"
#include "services/ingestion/tracking_api.h"
#include "services/ingestion/write_keys.h"

namespace {

using omnicx::config::DurationSetting;
using omnicx::server::ServiceBundle;
using omnicx::server::ServiceContext;

absl::StatusOr<ServiceBundle> Build(ServiceContext& context) {
  using namespace omnicx::ingestion;  // NOLINT: wiring
  const auto& cfg = context.config;
  EventLogOptions log_options;
  log_options.shards = cfg.stream_shards();
  log_options.dedup_window = DurationSetting(cfg.dedup_window());
  log_options.strict = cfg.durability() == "strict";
  log_options.strict_replicas = cfg.strict_replicas();
  log_options.consumer_groups =
      absl::StrSplit(cfg.consumer_groups(), ',', absl::SkipWhitespace());
  auto event_log =
      std::make_shared<EventLog>(context.redis, context.keys, log_options);
  if (absl::Status s = event_log->EnsureConsumerGroups(); !s.ok()) {
    // Redis may be down at start; the monitor retries, readiness reports it.
    OMNICX_LOG(kWarn) << "consumer groups not created yet: " << s;
  }
  if (absl::Status s = event_log->CheckDurability();
      !s.ok() && !absl::IsUnavailable(s)) {
    return s;
  }
  IntakeOptions intake_options;
  intake_options.validation.max_age = DurationSetting(cfg.max_event_age());
  intake_options.max_consumer_lag = cfg.max_consumer_lag();
  auto queue = std::make_shared<CommitQueue>(*event_log, CommitQueueOptions());
  auto intake =
      std::make_shared<Intake>(*queue, intake_options, context.metrics);
  auto monitor =
      std::make_shared<LagMonitor>(*event_log, *intake, context.metrics);

  // The HTTP tracking API (docs/http-api.md), on the same intake.
  std::shared_ptr<DeadLetters> dead_letters;
  std::shared_ptr<TrackingApi> tracking;
  std::shared_ptr<omnicx::http::Server> http;
  if (!cfg.http_address().empty()) {
    WriteKeySet write_keys;
    if (!cfg.write_keys_file().empty()) {
      absl::StatusOr<WriteKeySet> loaded =
          WriteKeySet::Load(cfg.write_keys_file());
      if (!loaded.ok()) return loaded.status();
      write_keys = *std::move(loaded);
    } else {
      OMNICX_LOG(kWarn) << "write_keys_file is not set: the tracking API "
                           "answers every request 401";
    }
    dead_letters = std::make_shared<DeadLetters>(
        context.redis, context.keys.DeadLetter("http"), context.metrics);
    TrackingApiOptions api_options;
    api_options.tenant = cfg.tenant();
    tracking = std::make_shared<TrackingApi>(*intake, std::move(write_keys),
                                             dead_letters.get(),
                                             context.metrics, api_options);
    auto started = omnicx::http::Server::Start(
        TrackingApi::ServerOptions(cfg.http_address()), tracking->Routes());
    if (!started.ok()) return started.status();
    http = std::move(*started);
    OMNICX_LOG(kInfo) << "tracking API on " << cfg.http_address();
  }

  ServiceBundle bundle;
  bundle.services.push_back(
      std::make_unique<IngestionServiceImpl>(*intake, context.auth));
  bundle.service_names.push_back(
      omnicx::v1::IngestionService::service_full_name());
  // The HTTP server stops first: it answers what it holds (the intake is
  // still there), then closes.
  bundle.stop = [monitor, http] {
    if (http) http->Stop();
    monitor->Stop();
  };
  // Released in this order after the server drained: users before what
  // they use.
  bundle.keep_alive = {http,   tracking, dead_letters, monitor,
                       intake, queue,    event_log};
  // The tracking API's refused events: listed and dropped by an admin
  // (nothing consumes them, so there is nothing to replay them through).
  omnicx::server::AddDeadLetterService(context, "http", {}, bundle);
  return bundle;
}

}  // namespace

int main(int argc, char** argv) {
  return omnicx::server::ServiceMain(omnicx::config::Service::kIngestion, argc,
                                     argv, Build);
}
