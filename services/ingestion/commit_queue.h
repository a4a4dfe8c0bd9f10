// Group commit for the event log: calls hand their validated events to a
// bounded queue; a few committer threads each take everything waiting (up to
// max_batch_events) and append it in one Redis pipeline. Many small calls
// (Track, TrackStream) thus share round trips, and no gRPC thread ever
// blocks on Redis.
//
//   CommitQueue queue(event_log, {.committers = 3});
//   queue.Submit(events, [](absl::StatusOr<std::vector<AppendResult>> r) {
//     ...  // runs on a committer thread
//   });
//
// Bounded: when more than max_queued_events wait, Submit refuses at once
// with RESOURCE_EXHAUSTED (and RetryInfo) instead of queueing without limit.
#ifndef OMNICX_SERVICES_INGESTION_COMMIT_QUEUE_H_
#define OMNICX_SERVICES_INGESTION_COMMIT_QUEUE_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/ingestion/event_log.h"

namespace omnicx::ingestion {

struct CommitQueueOptions {
  // Three committers with commits of at most 500 events keep a pipeline
  // queued at Redis while the replies of another are being answered: with
  // two committers and commits of up to 1,000, Redis and the service took
  // turns and the 2-core machine idled ~19% of the time under TrackBatch
  // load, against ~13% now (~+7% events/s; docs/performance.md).
  int committers = 3;
  size_t max_batch_events = 500;
  size_t max_queued_events = 50000;
};

class CommitQueue {
 public:
  using Done =
      std::function<void(absl::StatusOr<std::vector<AppendResult>> results)>;

  CommitQueue(EventLog& log, CommitQueueOptions options);
  ~CommitQueue();  // commits what is queued, then stops

  // `events` must stay alive until `done` runs. `done` runs exactly once: on
  // a committer thread, or inline with RESOURCE_EXHAUSTED when the queue is
  // full or stopped. An empty `events` completes inline.
  void Submit(std::vector<const omnicx::v1::Interaction*> events, Done done);

 private:
  struct Pending {
    std::vector<const omnicx::v1::Interaction*> events;
    Done done;
  };
  void Run();

  EventLog& log_;
  const CommitQueueOptions options_;
  absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_events_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> committers_;
};

}  // namespace omnicx::ingestion

#endif  // OMNICX_SERVICES_INGESTION_COMMIT_QUEUE_H_
