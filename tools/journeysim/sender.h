// Sends a simulated population's events to IngestionService.TrackBatch in
// batches of at most 500, from a few concurrent callers, optionally at a
// fixed rate, with a progress bar on stderr. Retries a batch (same event ids,
// so ingestion deduplicates) when ingestion pushes back or is briefly away.
//
//   SendOptions options;
//   options.credential = *ServiceCredential::FromKeyFile("app.key");
//   options.rate = 5000;  // events/s; 0 = as fast as ingestion takes them
//   absl::StatusOr<SendResult> r = SendEvents(*stub, population.events,
//                                              options);
#ifndef OMNICX_TOOLS_JOURNEYSIM_SENDER_H_
#define OMNICX_TOOLS_JOURNEYSIM_SENDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/auth/authenticator.h"
#include "omnicx/v1/ingestion.grpc.pb.h"

namespace omnicx::journeysim {

struct SendOptions {
  // Events per second; 0 sends as fast as ingestion accepts.
  double rate = 0;
  // Events per TrackBatch call (1–500).
  int batch_size = 500;
  // Concurrent TrackBatch callers.
  int concurrency = 2;
  // Draw a progress bar on stderr.
  bool progress = false;
  // The app API key every call sends.
  omnicx::auth::ServiceCredential credential;
  // Per-call deadline and attempts per batch before giving up.
  absl::Duration call_deadline = absl::Seconds(10);
  int max_attempts = 30;
};

struct SendResult {
  int64_t accepted = 0;
  int64_t duplicate = 0;
  int64_t rejected = 0;
  // The first rejection's event id and violations, for the report.
  std::string first_rejection;
  absl::Duration elapsed;
  double events_per_second() const;
};

// UNAVAILABLE (or the last call's status) when a batch still fails after
// max_attempts.
absl::StatusOr<SendResult> SendEvents(
    omnicx::v1::IngestionService::StubInterface& stub,
    const std::vector<omnicx::v1::Interaction>& events,
    const SendOptions& options);

}  // namespace omnicx::journeysim

#endif  // OMNICX_TOOLS_JOURNEYSIM_SENDER_H_
