// The churn learner: folds the labelled examples that commits append to
// their partition's stream `{p:<n>}:examples` (churn_learning.h says which)
// into the learned churn model `{model}:churn`, online, one AdaGrad step per
// example. Every journey replica runs one; a pass reads the model with its
// per-partition checkpoints, the examples after them (at most max_entries per
// partition), learns in C++ and stores the new model and checkpoints in one
// script that refuses when the version moved (another replica stored first:
// its pass counted those examples, ours is dropped and redone), then trims
// the learned entries. Nothing on the request path scans: reads take the
// stored model (JourneyStore::Learned).
//
//   ChurnLearner learner(redis, keys, model, {});
//   learner.Start();                      // or LearnOnce() in tests
#ifndef OMNICX_SERVICES_JOURNEY_CHURN_LEARNER_H_
#define OMNICX_SERVICES_JOURNEY_CHURN_LEARNER_H_

#include <cstdint>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "libs/keys/key_builder.h"
#include "libs/redis/client.h"
#include "libs/redis/script.h"
#include "services/journey/churn_learning.h"
#include "services/journey/journey_model.h"

namespace omnicx::journey {

struct ChurnLearnerOptions {
  absl::Duration interval = absl::Seconds(2);
  // Examples learned per partition per pass.
  int max_entries = 1000;
  // Strict durability: replicas a stored model must reach before its
  // examples are trimmed (WAIT behind the store); 0: none.
  redis::ReplicaWait replica_wait;
};

class ChurnLearner {
 public:
  ChurnLearner(redis::Client& redis, const keys::KeyBuilder& keys,
               const CompiledModel& model, ChurnLearnerOptions options = {});
  ~ChurnLearner();

  // One pass; how many examples it consumed (0 also when another replica
  // stored first).
  absl::StatusOr<int64_t> LearnOnce();

  void Start();
  void Stop();

 private:
  redis::Client& redis_;
  const keys::KeyBuilder& keys_;
  const CompiledModel& model_;
  ChurnLearnerOptions options_;
  redis::Script script_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace omnicx::journey

#endif  // OMNICX_SERVICES_JOURNEY_CHURN_LEARNER_H_
