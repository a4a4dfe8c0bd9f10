// Read-only access to a customer's journey in Redis, and the one decoder of
// the stored journey: the `journey` hash (state `s`, merged customers already
// folded in `f:<id>`) plus the states of customers merged into this one
// whose merge record the journey has not processed yet, and the learned
// churn model that moves churn risk. The journey service (JourneyStore,
// GetJourney) and the recommendation service (Recommend reads the journey
// directly) share it, so both derive the same stage, health and risk.
//
//   JourneyReader reader(redis, keys, model);
//   std::vector<redis::Command> reads = reader.LoadCommands(cid);
//   ... run them (alone, or appended to a pipeline of other reads) ...
//   absl::StatusOr<std::optional<JourneyState>> s = reader.LoadFrom(cid, r);
//   JourneySummary j = reader.Summary(cid, *s, now);
//
// Thread-safe. LoadFrom makes one more round trip only when a merge is
// still pending; Learned makes one HGET at most every `learned_refresh`.
#ifndef OMNICX_SERVICES_JOURNEY_JOURNEY_READER_H_
#define OMNICX_SERVICES_JOURNEY_JOURNEY_READER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/keys/key_builder.h"
#include "libs/redis/client.h"
#include "omnicx/journey/v1/state.pb.h"
#include "omnicx/v1/journey.pb.h"
#include "services/journey/churn_learning.h"
#include "services/journey/journey_model.h"
#include "services/journey/journey_state.h"

namespace omnicx::journey {

// The stored learned churn model (version 0 and no weights when nothing was
// learned).
absl::StatusOr<LearnedChurnModel> ReadChurnModel(redis::Client& redis,
                                                 const keys::KeyBuilder& keys);

class JourneyReader {
 public:
  JourneyReader(redis::Client& redis, const keys::KeyBuilder& keys,
                const CompiledModel& model,
                absl::Duration learned_refresh = absl::Seconds(1),
                std::function<absl::Time()> clock = absl::Now);

  // The reads of one customer's journey (all in the customer's slot).
  std::vector<redis::Command> LoadCommands(
      const std::string& customer_id) const;
  // The state from their replies (exactly LoadCommands' count), with the
  // states of customers merged in but not folded yet; nullopt when none.
  absl::StatusOr<std::optional<JourneyState>> LoadFrom(
      const std::string& customer_id, const redis::PipelineReplies& replies);
  static constexpr size_t kLoadCommands = 2;

  // GetJourney's answer for a loaded state (none: the neutral journey of a
  // known customer whose touchpoints have not arrived, event_count 0).
  omnicx::v1::JourneySummary Summary(const std::string& customer_id,
                                     std::optional<JourneyState> state,
                                     absl::Time now, int max_drivers = 10);

  // The learned churn model, checked for a newer version at most every
  // learned_refresh (one HGET; the model itself only when its version
  // moved); never null (empty: the prior alone).
  std::shared_ptr<const LearnedChurn> Learned();
  // Reads the stored model now.
  absl::Status RefreshLearned();

  const CompiledModel& model() const { return model_; }

 private:
  redis::Client& redis_;
  const keys::KeyBuilder& keys_;
  const CompiledModel& model_;
  const absl::Duration learned_refresh_;
  std::function<absl::Time()> clock_;
  absl::Mutex learned_mu_;
  std::shared_ptr<const LearnedChurn> learned_ ABSL_GUARDED_BY(learned_mu_) =
      std::make_shared<const LearnedChurn>();
  absl::Time learned_at_ ABSL_GUARDED_BY(learned_mu_) = absl::InfinitePast();
};

}  // namespace omnicx::journey

#endif  // OMNICX_SERVICES_JOURNEY_JOURNEY_READER_H_
