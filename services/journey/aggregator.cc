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
  // Per partition, the checkpoint before the records: a fold by another
  // worker between the two reads moves the checkpoint, so ours is refused.
  std::vector<redis::Command> reads;
  reads.reserve(2 * keys::kPartitions);
  for (int p = 0; p < keys::kPartitions; ++p) {
    reads.push_back({"GET", keys_.PartitionAggregate(p, "ckpt")});
    reads.push_back({"XRANGE", keys_.Outbox(p), "-", "+", "COUNT",
                     absl::StrCat(options_.max_entries)});
  }
  OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies r, redis_.Pipeline(reads));
  int64_t folded = 0;
  absl::Status first_error;
  for (int p = 0; p < keys::kPartitions; ++p) {
    const auto& ckpt = r[2 * p];
    const auto& range = r[2 * p + 1];
    if (!ckpt.ok() || !range.ok()) {
      first_error.Update(!ckpt.ok() ? ckpt.status() : range.status());
      continue;
    }
    if (range->elements().empty()) continue;
    const std::string expected = ckpt->is_nil() ? "" : ckpt->str();
    const auto done = ParseId(expected);
    std::vector<OutboxEntry> entries;
    for (const redis::Reply& e : range->elements()) {
      if (e.elements().size() < 2) continue;
      const std::string& id = e.elements()[0].str();
      if (!expected.empty() && ParseId(id) <= done) continue;
      const auto& fields = e.elements()[1].elements();
      std::string record;
      for (size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].str() == "d") record = fields[i + 1].str();
      }
      entries.push_back({id, std::move(record)});
    }
    if (entries.empty()) continue;
    absl::StatusOr<bool> ok = FoldPartition(p, expected, entries);
    if (!ok.ok()) {
      first_error.Update(ok.status());
    } else if (*ok) {
      folded += static_cast<int64_t>(entries.size());
    }
  }
  if (!first_error.ok() && folded == 0) return first_error;
  return folded;
}

absl::StatusOr<bool> Aggregator::FoldPartition(
    int partition, const std::string& expected_checkpoint,
    const std::vector<OutboxEntry>& entries) {
  if (entries.empty()) return false;
  FoldedDeltas sum;
  for (const OutboxEntry& e : entries) {
    // A corrupt record is skipped (and logged), never blocks the partition.
    if (absl::Status s = AddDelta(e.record, &sum); !s.ok()) {
      OMNICX_LOG(kWarn) << "outbox " << partition << " entry " << e.id << ": "
                        << s;
    }
  }
  const std::string& last = entries.back().id;
  const auto [ms, seq] = ParseId(last);
  std::vector<std::string> keys = {keys_.Outbox(partition),
                                   keys_.PartitionAggregate(partition, "ckpt"),
                                   keys_.PartitionAggregate(partition, "pain")};
  std::vector<std::string> args = {
      expected_checkpoint, last, absl::StrCat(ms, "-", seq + 1),
      absl::StrCat(absl::ToInt64Seconds(options_.funnel_retention)),
      absl::StrCat(sum.pain.size())};
  for (const auto& [field, d] : sum.pain) {
    args.push_back(field);
    args.push_back(absl::StrCat(d));
  }
  for (const auto& [day, fields] : sum.funnel) {
    keys.push_back(
        keys_.PartitionAggregate(partition, absl::StrCat("funnel:", day)));
    args.push_back(absl::StrCat(fields.size()));
    for (const auto& [field, d] : fields) {
      args.push_back(field);
      args.push_back(absl::StrCat(d));
    }
  }
  OMNICX_ASSIGN_OR_RETURN(redis::Reply out,
                          redis_.Eval(fold_script_, keys, args));
  return !out.elements().empty() && out.elements()[0].str() == "OK";
}

absl::StatusOr<AggregateFields> ReadPainShards(redis::Client& redis,
                                               const keys::KeyBuilder& keys) {
  std::vector<redis::Command> reads;
  reads.reserve(keys::kPartitions);
  for (int p = 0; p < keys::kPartitions; ++p) {
    reads.push_back({"HGETALL", keys.PartitionAggregate(p, "pain")});
  }
  return MergeShards(redis, std::move(reads));
}

absl::StatusOr<AggregateFields> ReadFunnelShards(
    redis::Client& redis, const keys::KeyBuilder& keys,
    const std::vector<std::string>& days) {
  std::vector<redis::Command> reads;
  reads.reserve(keys::kPartitions * days.size());
  for (const std::string& day : days) {
    for (int p = 0; p < keys::kPartitions; ++p) {
      reads.push_back({"HGETALL", keys.PartitionAggregate(
                                      p, absl::StrCat("funnel:", day))});
    }
  }
  return MergeShards(redis, std::move(reads));
}

}  // namespace omnicx::journey
