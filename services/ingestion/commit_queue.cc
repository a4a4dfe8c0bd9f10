#include "services/ingestion/commit_queue.h"

#include "absl/strings/str_cat.h"
#include "libs/status/error_details.h"

namespace omnicx::ingestion {

CommitQueue::CommitQueue(EventLog& log, CommitQueueOptions options)
    : log_(log), options_(options) {
  for (int i = 0; i < options_.committers; ++i) {
    committers_.emplace_back([this] { Run(); });
  }
}

CommitQueue::~CommitQueue() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (auto& t : committers_) t.join();
}

void CommitQueue::Submit(std::vector<const omnicx::v1::Interaction*> events,
                         Done done) {
  if (events.empty()) {
    done(std::vector<AppendResult>());
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_ &&
        queued_events_ + events.size() <= options_.max_queued_events) {
      queued_events_ += events.size();
      queue_.push_back({std::move(events), std::move(done)});
      return;
    }
  }
  done(status::WithRetryDelay(
      absl::ResourceExhaustedError(
          absl::StrCat("ingestion is saturated (", options_.max_queued_events,
                       " events waiting for Redis); retry later")),
      absl::Milliseconds(200)));
}

void CommitQueue::Run() {
  for (;;) {
    std::vector<Pending> batch;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || stopping_;
      };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and everything committed
      size_t events = 0;
      // Whole calls only; the first call always goes, however large.
      while (!queue_.empty() &&
             (batch.empty() || events + queue_.front().events.size() <=
                                   options_.max_batch_events)) {
        events += queue_.front().events.size();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_events_ -= events;
    }
    std::vector<const omnicx::v1::Interaction*> all;
    for (const Pending& p : batch) {
      all.insert(all.end(), p.events.begin(), p.events.end());
    }
    absl::StatusOr<std::vector<AppendResult>> results = log_.Append(all);
    size_t offset = 0;
    for (Pending& p : batch) {
      if (!results.ok()) {
        p.done(results.status());
        continue;
      }
      p.done(std::vector<AppendResult>(
          results->begin() + offset,
          results->begin() + offset + p.events.size()));
      offset += p.events.size();
    }
  }
}

}  // namespace omnicx::ingestion
