// Which event stream shard a touchpoint goes to (shared by the producer,
// ingestion, and by erasure, which must find a customer's entries): a stable
// hash of its customer reference, so one customer's events stay in one shard
// (in order for the consumers) and a retried event lands in the same shard as
// its first attempt (where its dedup entry lives).
#ifndef OMNICX_LIBS_EVENTS_SHARDING_H_
#define OMNICX_LIBS_EVENTS_SHARDING_H_

#include <string>

#include "omnicx/v1/common.pb.h"

namespace omnicx::events {

// "cid:<id>", "anon:<id>" or "<type>:<normalised value>".
std::string CustomerRefKey(const omnicx::v1::CustomerRef& ref);

// In [0, shards).
int ShardFor(const omnicx::v1::CustomerRef& ref, int shards);

}  // namespace omnicx::events

#endif  // OMNICX_LIBS_EVENTS_SHARDING_H_
