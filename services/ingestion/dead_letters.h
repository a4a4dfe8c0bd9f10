// Dead letters of the HTTP tracking API: events refused alone (no userId or
// anonymousId, too large, invalid...) are kept, with their reason, in the
// stream keys.DeadLetter("http") (fields: source, key, index, reason,
// detail, payload), trimmed to about max_entries. Add never blocks: a
// background thread writes in pipelines; when more than max_queued wait,
// the overflow is dropped and counted (a flood of bad events must not slow
// good ones).
//
//   DeadLetters dead(redis, keys.DeadLetter("http"), registry);
//   dead.Add(grant, rejected);   // any thread, never blocks
#ifndef OMNICX_SERVICES_INGESTION_DEAD_LETTERS_H_
#define OMNICX_SERVICES_INGESTION_DEAD_LETTERS_H_

#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "libs/metrics/registry.h"
#include "libs/redis/client.h"
#include "services/ingestion/tracking_mapping.h"

namespace omnicx::ingestion {

struct DeadLetterOptions {
  size_t max_queued = 10000;
  int64_t max_entries = 100000;  // XADD MAXLEN ~
};

class DeadLetters {
 public:
  DeadLetters(redis::Client& redis, std::string stream,
              metrics::Registry& registry, DeadLetterOptions options = {});
  ~DeadLetters();  // writes what is queued, then stops

  void Add(const WriteKeyGrant& grant,
           const std::vector<RejectedEvent>& events);
  // Blocks until everything added so far was written or dropped (tests).
  void Flush();

 private:
  void Loop();

  redis::Client& redis_;
  const std::string stream_;
  const DeadLetterOptions options_;
  metrics::CounterFamily& outcomes_;
  absl::Mutex mu_;
  std::deque<redis::Command> queue_ ABSL_GUARDED_BY(mu_);
  int64_t added_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t done_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace omnicx::ingestion

#endif  // OMNICX_SERVICES_INGESTION_DEAD_LETTERS_H_
