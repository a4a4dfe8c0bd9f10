// The Segment/RudderStack-compatible HTTP tracking API of the ingestion
// service: POST /v1/{track,identify,page,screen,group,alias,batch,import}
// and their CORS preflights. A thin adapter: it authenticates the write key
// (HTTP Basic user name, or `writeKey` in the body), decodes the body
// (gzip), maps it (tracking_mapping.h) and hands the events to the same
// Intake as TrackBatch — same validation, dedupe and durable append.
// docs/http-api.md has the status codes and rules.
//
//   TrackingApi api(intake, std::move(write_keys), &dead_letters, registry,
//                   options);
//   auto server = http::Server::Start(http_options, api.Routes());
#ifndef OMNICX_SERVICES_INGESTION_TRACKING_API_H_
#define OMNICX_SERVICES_INGESTION_TRACKING_API_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/http/server.h"
#include "libs/metrics/registry.h"
#include "services/ingestion/dead_letters.h"
#include "services/ingestion/intake.h"
#include "services/ingestion/tracking_mapping.h"
#include "services/ingestion/write_keys.h"

namespace omnicx::ingestion {

struct TrackingApiOptions {
  // The service's tenant: a write key of another tenant is unknown here.
  std::string tenant = "default";
  TrackingLimits limits;
  // Retry-After of a 429/503 when the intake gave no delay.
  absl::Duration retry_after = absl::Seconds(1);
};

// Body cap while reading, before decompression (a compressed body larger
// than this is refused with 413 before it is read).
constexpr size_t kMaxRawBodyBytes = 512 * 1024;

class TrackingApi {
 public:
  TrackingApi(Intake& intake, WriteKeySet write_keys, DeadLetters* dead_letters,
              metrics::Registry& registry, TrackingApiOptions options,
              std::function<absl::Time()> clock = absl::Now);

  // The routes, for http::Server::Start (this must outlive the server).
  http::Router Routes();

  // The HTTP server options ingestion serves the API with.
  static http::ServerOptions ServerOptions(const std::string& address);

 private:
  void Handle(CallType type, const std::string& endpoint,
              http::Request& request, http::Respond respond);
  void Preflight(http::Request& request, http::Respond respond);
  // A finished answer: counts it and adds the CORS headers.
  http::Response Answer(const std::string& endpoint, int status,
                        std::string message, const std::string& origin,
                        const WriteKeyGrant* grant);

  Intake& intake_;
  const WriteKeySet write_keys_;
  DeadLetters* dead_letters_;
  const TrackingApiOptions options_;
  std::function<absl::Time()> clock_;
  metrics::CounterFamily& requests_;
  metrics::CounterFamily& rejected_;
};

}  // namespace omnicx::ingestion

#endif  // OMNICX_SERVICES_INGESTION_TRACKING_API_H_
