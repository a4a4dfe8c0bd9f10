// Which event stream shard a touchpoint goes to: a stable hash of its
// customer reference, so one customer's events stay in one shard (in order
// for the consumers) and a retried event lands in the same shard as its
// first attempt (where its dedup entry lives).
#ifndef OMNICX_SERVICES_INGESTION_SHARDING_H_
#define OMNICX_SERVICES_INGESTION_SHARDING_H_

#include <string>

#include "omnicx/v1/common.pb.h"

namespace omnicx::ingestion {

// "cid:<id>", "anon:<id>" or "<type>:<normalised value>".
std::string CustomerRefKey(const omnicx::v1::CustomerRef& ref);

// In [0, shards).
int ShardFor(const omnicx::v1::CustomerRef& ref, int shards);

}  // namespace omnicx::ingestion

#endif  // OMNICX_SERVICES_INGESTION_SHARDING_H_
