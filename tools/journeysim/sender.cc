#include "tools/journeysim/sender.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace omnicx::journeysim {
namespace {

void DrawBar(int64_t done, int64_t total, absl::Duration elapsed, bool last) {
  constexpr int kWidth = 30;
  const double fraction = total == 0 ? 1 : static_cast<double>(done) / total;
  const int filled = static_cast<int>(fraction * kWidth);
  const double secs = absl::ToDoubleSeconds(elapsed);
  std::fprintf(stderr, "\r  [%s%s] %3.0f%%  %lld/%lld events  %8.0f events/s%s",
               std::string(filled, '#').c_str(),
               std::string(kWidth - filled, '.').c_str(), 100 * fraction,
               static_cast<long long>(done), static_cast<long long>(total),
               secs > 0 ? done / secs : 0.0, last ? "\n" : "");
  std::fflush(stderr);
}

bool Retryable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE ||
         code == grpc::StatusCode::RESOURCE_EXHAUSTED ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::ABORTED;
}

}  // namespace

double SendResult::events_per_second() const {
  const double secs = absl::ToDoubleSeconds(elapsed);
  return secs > 0 ? (accepted + duplicate + rejected) / secs : 0;
}

absl::StatusOr<SendResult> SendEvents(
    omnicx::v1::IngestionService::StubInterface& stub,
    const std::vector<omnicx::v1::Interaction>& events,
    const SendOptions& options) {
  const int64_t total = static_cast<int64_t>(events.size());
  int64_t batch = std::clamp(options.batch_size, 1, 500);
  // Paced sends go in small steps (about 20 batches a second) so the rate
  // holds over short runs too.
  if (options.rate > 0) {
    batch =
        std::clamp<int64_t>(static_cast<int64_t>(options.rate / 20), 1, batch);
  }
  const absl::Time start = absl::Now();
  std::atomic<int64_t> next{0}, done{0};
  absl::Mutex mu;
  SendResult result;
  absl::Status failure;
  std::atomic<bool> stop{false};

  auto worker = [&] {
    while (!stop) {
      const int64_t from = next.fetch_add(batch);
      if (from >= total) return;
      const int64_t to = std::min(total, from + batch);
      if (options.rate > 0) {
        // Paced: the batch goes once its last event is due.
        const absl::Time due =
            start + absl::Seconds(static_cast<double>(to) / options.rate);
        const absl::Duration wait = due - absl::Now();
        if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
      }
      omnicx::v1::TrackBatchRequest request;
      for (int64_t k = from; k < to; ++k) {
        *request.add_interactions() = events[k];
      }
      omnicx::v1::TrackBatchResponse response;
      grpc::Status status;
      for (int attempt = 0; attempt < options.max_attempts; ++attempt) {
        grpc::ClientContext context;
        context.set_deadline(
            absl::ToChronoTime(absl::Now() + options.call_deadline));
        options.credential.Attach(&context);
        response.Clear();
        status = stub.TrackBatch(&context, request, &response);
        if (status.ok() || !Retryable(status.error_code())) break;
        absl::SleepFor(absl::Milliseconds(100 * std::min(attempt + 1, 10)));
      }
      absl::MutexLock lock(&mu);
      if (!status.ok()) {
        failure =
            absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                         absl::StrCat("TrackBatch: ", status.error_message()));
        stop = true;
        return;
      }
      for (const auto& r : response.results()) {
        switch (r.status()) {
          case omnicx::v1::EVENT_STATUS_ACCEPTED:
            ++result.accepted;
            break;
          case omnicx::v1::EVENT_STATUS_DUPLICATE:
            ++result.duplicate;
            break;
          default:
            if (result.first_rejection.empty()) {
              result.first_rejection = r.event_id();
              for (const auto& v : r.violations()) {
                absl::StrAppend(&result.first_rejection, " ", v.field(), ": ",
                                v.description());
              }
            }
            ++result.rejected;
        }
      }
      done += to - from;
    }
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < std::max(1, options.concurrency); ++t) {
    threads.emplace_back(worker);
  }
  if (options.progress) {
    while (done < total && !stop) {
      DrawBar(done, total, absl::Now() - start, false);
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
  for (auto& t : threads) t.join();
  result.elapsed = absl::Now() - start;
  if (options.progress) DrawBar(done, total, result.elapsed, true);
  if (!failure.ok()) return failure;
  return result;
}

}  // namespace omnicx::journeysim
