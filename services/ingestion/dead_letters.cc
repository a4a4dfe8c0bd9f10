#include "services/ingestion/dead_letters.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/logging/log.h"

namespace omnicx::ingestion {
namespace {
constexpr size_t kPipeline = 100;
}  // namespace

DeadLetters::DeadLetters(redis::Client& redis, std::string stream,
                         metrics::Registry& registry, DeadLetterOptions options)
    : redis_(redis),
      stream_(std::move(stream)),
      options_(options),
      outcomes_(registry.Counter(
          "omnicx_http_dead_letters_total",
          "Rejected tracking API events by dead-letter outcome: written, "
          "failed (Redis refused) or dropped (queue full).",
          {"outcome"})) {
  thread_ = std::thread([this] { Loop(); });
}

DeadLetters::~DeadLetters() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void DeadLetters::Add(const WriteKeyGrant& grant,
                      const std::vector<RejectedEvent>& events) {
  if (events.empty()) return;
  int dropped = 0;
  {
    absl::MutexLock lock(&mu_);
    for (const RejectedEvent& e : events) {
      ++added_;
      if (queue_.size() >= options_.max_queued) {
        ++dropped;
        ++done_;
        continue;
      }
      queue_.push_back({"XADD", stream_, "MAXLEN", "~",
                        absl::StrCat(options_.max_entries), "*", "source",
                        grant.source, "key", grant.name, "index",
                        absl::StrCat(e.index), "reason", e.reason, "detail",
                        e.detail, "payload", e.payload});
    }
  }
  if (dropped > 0) outcomes_.WithLabels({"dropped"}).Increment(dropped);
}

void DeadLetters::Flush() {
  absl::MutexLock lock(&mu_);
  struct Target {
    const int64_t* done;
    int64_t added;
  } target{&done_, added_};
  mu_.Await(absl::Condition(
      +[](Target* t) { return *t->done >= t->added; }, &target));
}

void DeadLetters::Loop() {
  while (true) {
    std::vector<redis::Command> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](DeadLetters* d) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return d->stop_ || !d->queue_.empty();
          },
          this));
      if (queue_.empty() && stop_) return;
      while (!queue_.empty() && batch.size() < kPipeline) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    int written = 0;
    int failed = 0;
    absl::StatusOr<redis::PipelineReplies> replies = redis_.Pipeline(batch);
    if (replies.ok()) {
      for (const auto& r : *replies) r.ok() ? ++written : ++failed;
    }
    failed = static_cast<int>(batch.size()) - written;
    if (failed > 0) {
      OMNICX_LOG(kWarn) << failed << " rejected tracking event(s) could not "
                        << "be dead-lettered";
    }
    if (written > 0) outcomes_.WithLabels({"written"}).Increment(written);
    if (failed > 0) outcomes_.WithLabels({"failed"}).Increment(failed);
    absl::MutexLock lock(&mu_);
    done_ += static_cast<int64_t>(batch.size());
  }
}

}  // namespace omnicx::ingestion
