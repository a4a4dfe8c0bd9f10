#include "services/journey/aggregator.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "services/journey/lua/fold_outbox_lua.h"

namespace omnicx::journey {
namespace {

// A stream entry id "<ms>-<seq>" as a comparable pair; {0, 0} for "".
std::pair<uint64_t, uint64_t> ParseId(const std::string& id) {
  std::pair<uint64_t, uint64_t> out{0, 0};
  const size_t dash = id.find('-');
  if (dash == std::string::npos) return out;
  if (!absl::SimpleAtoi(id.substr(0, dash), &out.first) ||
      !absl::SimpleAtoi(id.substr(dash + 1), &out.second)) {
    return {0, 0};
  }
  return out;
}

absl::Status AddAll(const redis::Reply& hash, AggregateFields* sum) {
  const auto& e = hash.elements();
  for (size_t i = 0; i + 1 < e.size(); i += 2) {
    int64_t v = 0;
    if (!absl::SimpleAtoi(e[i + 1].str(), &v)) {
      return absl::DataLossError("aggregate shard value is not an integer");
    }
    int64_t& to = (*sum)[e[i].str()];
    to += v;
    if (to == 0) sum->erase(e[i].str());
  }
  return absl::OkStatus();
}

absl::StatusOr<AggregateFields> MergeShards(redis::Client& redis,
                                            std::vector<redis::Command> reads) {
  OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies r, redis.Pipeline(reads));
  AggregateFields sum;
  for (const auto& one : r) {
    OMNICX_RETURN_IF_ERROR(one.status());
    OMNICX_RETURN_IF_ERROR(AddAll(*one, &sum));
  }
  return sum;
}

}  // namespace

Aggregator::Aggregator(redis::Client& redis, const keys::KeyBuilder& keys,
                       AggregatorOptions options)
    : redis_(redis),
      keys_(keys),
      options_(std::move(options)),
      fold_script_(lua::kFoldOutboxLua) {}

Aggregator::~Aggregator() { Stop(); }

void Aggregator::Start() {
  thread_ = std::thread([this] {
    while (!stop_.WaitForNotificationWithTimeout(options_.interval)) {
      if (options_.before_fold) {
        absl::StatusOr<int64_t> swept = options_.before_fold();
        if (!swept.ok()) OMNICX_LOG(kWarn) << "stage sweep: " << swept.status();
      }
      absl::StatusOr<int64_t> n = FoldOnce();
      if (!n.ok()) OMNICX_LOG(kWarn) << "aggregate fold: " << n.status();
    }
  });
}

void Aggregator::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<int64_t> Aggregator::FoldOnce() {
  // The checkpoints first, then the records after them: a fold by another
  // worker in between moves a checkpoint, so ours is refused.
  std::vector<redis::Command> ckpt_reads;
  for (int g = 0; g < keys::kAggregateShards; ++g) {
    ckpt_reads.push_back({"HGETALL", keys_.AggregateShard(g, "ckpt")});
  }
  OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies ckpts,
                          redis_.Pipeline(ckpt_reads));
  std::vector<std::string> checkpoint(keys::kPartitions);
  for (int g = 0; g < keys::kAggregateShards; ++g) {
    OMNICX_RETURN_IF_ERROR(ckpts[g].status());
    const auto& e = ckpts[g]->elements();
    for (size_t i = 0; i + 1 < e.size(); i += 2) {
      int p = 0;
      if (absl::SimpleAtoi(e[i].str(), &p) && p >= 0 && p < keys::kPartitions) {
        checkpoint[p] = e[i + 1].str();
      }
    }
  }
  std::vector<redis::Command> reads;
  reads.reserve(keys::kPartitions);
  for (int p = 0; p < keys::kPartitions; ++p) {
    reads.push_back({"XRANGE", keys_.Outbox(p),
                     checkpoint[p].empty() ? "-" : "(" + checkpoint[p], "+",
                     "COUNT", absl::StrCat(options_.max_entries)});
  }
  OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies r, redis_.Pipeline(reads));
  std::vector<std::vector<PartitionRecords>> by_shard(keys::kAggregateShards);
  absl::Status first_error;
  for (int p = 0; p < keys::kPartitions; ++p) {
    if (!r[p].ok()) {
      first_error.Update(r[p].status());
      continue;
    }
    if (r[p]->elements().empty()) continue;
    PartitionRecords part{p, checkpoint[p], {}};
    for (const redis::Reply& e : r[p]->elements()) {
      if (e.elements().size() < 2) continue;
      const auto& fields = e.elements()[1].elements();
      std::string record;
      for (size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].str() == "d") record = fields[i + 1].str();
      }
      part.entries.push_back({e.elements()[0].str(), std::move(record)});
    }
    if (part.entries.empty()) continue;
    by_shard[keys::KeyBuilder::AggregateShardOf(p)].push_back(std::move(part));
  }
  int64_t folded = 0;
  std::vector<redis::Command> trims;
  for (int g = 0; g < keys::kAggregateShards; ++g) {
    if (by_shard[g].empty()) continue;
    absl::StatusOr<bool> ok = FoldShard(g, by_shard[g]);
    if (!ok.ok()) {
      first_error.Update(ok.status());
      continue;
    }
    if (!*ok) continue;
    for (const PartitionRecords& part : by_shard[g]) {
      folded += static_cast<int64_t>(part.entries.size());
      const auto [ms, seq] = ParseId(part.entries.back().id);
      trims.push_back({"XTRIM", keys_.Outbox(part.partition), "MINID",
                       absl::StrCat(ms, "-", seq + 1)});
    }
  }
  // Best effort: what a failed trim leaves is after no checkpoint, never
  // read again, and trimmed by the partition's next fold.
  if (!trims.empty()) {
    absl::StatusOr<redis::PipelineReplies> trimmed = redis_.Pipeline(trims);
    if (!trimmed.ok()) OMNICX_LOG(kWarn) << "outbox trim: " << trimmed.status();
  }
  if (!first_error.ok() && folded == 0) return first_error;
  return folded;
}

absl::StatusOr<bool> Aggregator::FoldShard(
    int shard, const std::vector<PartitionRecords>& parts) {
  if (parts.empty()) return false;
  FoldedDeltas sum;
  std::vector<std::string> keys = {keys_.AggregateShard(shard, "ckpt"),
                                   keys_.AggregateShard(shard, "pain")};
  std::vector<std::string> args = {
      absl::StrCat(absl::ToInt64Seconds(options_.funnel_retention)), ""};
  int n = 0;
  for (const PartitionRecords& part : parts) {
    if (part.entries.empty()) continue;
    ++n;
    for (const OutboxEntry& e : part.entries) {
      // A corrupt record is skipped (and logged), never blocks the partition.
      if (absl::Status s = AddDelta(e.record, &sum); !s.ok()) {
        OMNICX_LOG(kWarn) << "outbox " << part.partition << " entry " << e.id
                          << ": " << s;
      }
    }
    args.push_back(absl::StrCat(part.partition));
    args.push_back(part.expected_checkpoint);
    args.push_back(part.entries.back().id);
  }
  if (n == 0) return false;
  args[1] = absl::StrCat(n);
  args.push_back(absl::StrCat(sum.pain.size()));
  for (const auto& [field, d] : sum.pain) {
    args.push_back(field);
    args.push_back(absl::StrCat(d));
  }
  for (const auto& [day, fields] : sum.funnel) {
    keys.push_back(keys_.AggregateShard(shard, absl::StrCat("funnel:", day)));
    args.push_back(absl::StrCat(fields.size()));
    for (const auto& [field, d] : fields) {
      args.push_back(field);
      args.push_back(absl::StrCat(d));
    }
  }
  redis::ReplicaWaitScope wait(options_.replica_wait);
  OMNICX_ASSIGN_OR_RETURN(redis::Reply out,
                          redis_.Eval(fold_script_, keys, args));
  OMNICX_RETURN_IF_ERROR(wait.status());
  return !out.elements().empty() && out.elements()[0].str() == "OK";
}

absl::StatusOr<AggregateFields> ReadPainShards(redis::Client& redis,
                                               const keys::KeyBuilder& keys) {
  std::vector<redis::Command> reads;
  for (int g = 0; g < keys::kAggregateShards; ++g) {
    reads.push_back({"HGETALL", keys.AggregateShard(g, "pain")});
  }
  return MergeShards(redis, std::move(reads));
}

absl::StatusOr<AggregateFields> ReadFunnelShards(
    redis::Client& redis, const keys::KeyBuilder& keys,
    const std::vector<std::string>& days) {
  std::vector<redis::Command> reads;
  for (const std::string& day : days) {
    for (int g = 0; g < keys::kAggregateShards; ++g) {
      reads.push_back(
          {"HGETALL", keys.AggregateShard(g, absl::StrCat("funnel:", day))});
    }
  }
  return MergeShards(redis, std::move(reads));
}

}  // namespace omnicx::journey
