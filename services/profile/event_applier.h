// Applies events from the event log to the profile store: decode, resolve
// the customer, apply (idempotent per event id), publish the resolved event
// for the journey service. The profile service's StreamConsumer hands it
// each whole read, which costs four pipelined round trips (index reads,
// links, applies, publishes) instead of four per event; merges and races
// are handled one event at a time.
//
//   EventApplier applier(store, registry);
//   StreamConsumer consumer(redis, options, StreamConsumer::Batched{},
//       [&](const std::vector<StreamEntry>& es) {
//         return applier.HandleBatch(es);
//       });
//
// Outcomes: OK after applying, after finding it applied before, and after
// dropping an event whose identity was erased (all acknowledged); an error
// leaves the entry pending for redelivery (and, after max_deliveries, the
// dead-letter stream), e.g. an undecodable payload or Redis unavailable.
#ifndef OMNICX_SERVICES_PROFILE_EVENT_APPLIER_H_
#define OMNICX_SERVICES_PROFILE_EVENT_APPLIER_H_

#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "libs/metrics/registry.h"
#include "libs/streams/consumer.h"
#include "services/profile/profile_store.h"

namespace omnicx::profile {

class EventApplier {
 public:
  EventApplier(ProfileStore& store, metrics::Registry& registry,
               std::function<absl::Time()> clock = absl::Now);

  // One status per entry, in order.
  std::vector<absl::Status> HandleBatch(
      const std::vector<streams::StreamEntry>& entries);
  absl::Status Handle(const streams::StreamEntry& entry);

 private:
  ProfileStore& store_;
  std::function<absl::Time()> clock_;
  metrics::CounterFamily& events_;
  metrics::CounterFamily& merges_;
  metrics::CounterFamily& guard_refusals_;
};

}  // namespace omnicx::profile

#endif  // OMNICX_SERVICES_PROFILE_EVENT_APPLIER_H_
