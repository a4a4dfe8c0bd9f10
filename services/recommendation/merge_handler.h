// Applies the profile service's merge log (stream keys.MergeLog(), fields
// survivor, merged, at) to the recommendation state: the merged customer's
// presentations, holds and cool-downs are folded into the survivor's, so
// contact policies keep counting for the one person. Effectively once: the
// survivor remembers which ids it folded in, so a redelivered record
// changes nothing but finishes a merge a crash interrupted between its
// single-slot steps (RecommendationStore::MergeCustomers). Run by a
// StreamConsumer in group "recommendation".
//
//   StreamConsumer consumer(redis, options, [&store](const StreamEntry& e) {
//     return ApplyMergeRecord(store, e);
//   });
#ifndef OMNICX_SERVICES_RECOMMENDATION_MERGE_HANDLER_H_
#define OMNICX_SERVICES_RECOMMENDATION_MERGE_HANDLER_H_

#include "absl/status/status.h"
#include "libs/streams/consumer.h"
#include "services/recommendation/recommendation_store.h"

namespace omnicx::recommendation {

// InvalidArgument for a record without survivor or merged (dead-lettered by
// the consumer after its retries); Redis errors as they come.
absl::Status ApplyMergeRecord(RecommendationStore& store,
                              const streams::StreamEntry& entry);

}  // namespace omnicx::recommendation

#endif  // OMNICX_SERVICES_RECOMMENDATION_MERGE_HANDLER_H_
