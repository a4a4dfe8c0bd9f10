#include "services/ingestion/event_log.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/events/sharding.h"
#include "libs/status/status_macros.h"
#include "libs/streams/retention.h"

namespace omnicx::ingestion {
namespace {

// KEYS[1] = stream; KEYS[2..5] = the shard's dedup hashes for buckets
// B-2 .. B+1, where B is the caller's bucket (its clock divided by the
// window); ARGV[1] = window (ms); ARGV[2] = B-2; then per event
// ARGV[2i+1] = event id, ARGV[2i+2] = serialised event.
//
// The bucket is taken from Redis's clock, the one clock all ingestion
// replicas share, so every replica writes into and checks the same buckets.
// An id is looked up in the current bucket and the one before it, and
// recorded in the current one, which expires two windows after it began:
// an id is remembered at least one window and at most two.
//
// Per call the script asks each bucket once (HMGET over all the call's ids)
// and records once (one HSET of every new id), so Redis runs about one
// command per event, the XADD, instead of four (see docs/performance.md).
// Lua's unpack() is bounded by the C stack, hence the chunks of 1000.
//
// Returns per event "A<entry id>" (appended) or "D<entry id>" (duplicate of
// the entry stored earlier, possibly earlier in this same call).
constexpr char kAppendLua[] = R"lua(
local t = redis.call('TIME')
local window = tonumber(ARGV[1])
local bucket = math.floor((tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) / window)
local slot = bucket - tonumber(ARGV[2]) + 2
if slot < 3 or slot > 5 then
  return redis.error_reply('ERR dedup bucket out of range: the service clock and the Redis clock differ by more than the dedup window')
end
local current, previous = KEYS[slot], KEYS[slot - 1]
local function each_chunk(list, step, fn)
  for i = 1, #list, step do
    fn(unpack(list, i, math.min(i + step - 1, #list)))
  end
end
local ids = {}
for i = 3, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
local known = {}
local function lookup(key, list)
  local unknown = {}
  each_chunk(list, 1000, function(...)
    local asked = {...}
    local got = redis.call('HMGET', key, ...)
    for k = 1, #asked do
      if got[k] then known[asked[k]] = got[k] else unknown[#unknown + 1] = asked[k] end
    end
  end)
  return unknown
end
local unknown = lookup(current, ids)
if #unknown > 0 then lookup(previous, unknown) end
local out, record = {}, {}
for k = 1, #ids do
  local id = ids[k]
  local prev = known[id]
  if prev then
    out[k] = 'D' .. prev
  else
    local entry = redis.call('XADD', KEYS[1], '*', 'e', ARGV[2 * k + 2])
    known[id] = entry
    record[#record + 1] = id
    record[#record + 1] = entry
    out[k] = 'A' .. entry
  end
end
if #record > 0 then
  each_chunk(record, 1000, function(...) redis.call('HSET', current, ...) end)
  redis.call('PEXPIREAT', current, (bucket + 2) * window, 'NX')
end
return out
)lua";

}  // namespace

EventLog::EventLog(redis::Client& redis, const keys::KeyBuilder& keys,
                   EventLogOptions options)
    : redis_(redis),
      keys_(keys),
      options_(std::move(options)),
      append_script_(kAppendLua) {}

absl::Status EventLog::EnsureConsumerGroups() {
  std::vector<std::vector<std::string>> commands;
  for (int shard = 0; shard < options_.shards; ++shard) {
    for (const std::string& group : options_.consumer_groups) {
      commands.push_back({"XGROUP", "CREATE", keys_.EventShard(shard), group,
                          "0", "MKSTREAM"});
    }
  }
  if (commands.empty()) return absl::OkStatus();
  OMNICX_ASSIGN_OR_RETURN(auto replies, redis_.Pipeline(commands));
  for (const auto& reply : replies) {
    // BUSYGROUP: the group exists already, which is what we want.
    if (!reply.ok() &&
        reply.status().message().find("BUSYGROUP") == absl::string_view::npos) {
      return reply.status();
    }
  }
  return absl::OkStatus();
}

absl::Status EventLog::CheckDurability() {
  if (!options_.strict || options_.strict_replicas > 0) return absl::OkStatus();
  OMNICX_ASSIGN_OR_RETURN(auto replies,
                          redis_.Pipeline({{"CONFIG", "GET", "appendonly"},
                                           {"CONFIG", "GET", "appendfsync"}}));
  for (const auto& r : replies) OMNICX_RETURN_IF_ERROR(r.status());
  const std::string appendonly =
      replies[0]->elements().size() == 2 ? replies[0]->elements()[1].str() : "";
  const std::string appendfsync =
      replies[1]->elements().size() == 2 ? replies[1]->elements()[1].str() : "";
  if (appendonly != "yes" || appendfsync != "always") {
    return absl::FailedPreconditionError(absl::StrCat(
        "durability strict with strict_replicas 0 needs Redis appendonly yes "
        "and appendfsync always (have appendonly ",
        appendonly, ", appendfsync ", appendfsync, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<AppendResult>> EventLog::Append(
    const std::vector<const omnicx::v1::Interaction*>& events) {
  std::vector<AppendResult> results(events.size());
  if (events.empty()) return results;

  // One script call per shard touched, all in one pipeline.
  std::map<int, std::vector<size_t>> by_shard;
  for (size_t i = 0; i < events.size(); ++i) {
    by_shard[events::ShardFor(events[i]->customer(), options_.shards)]
        .push_back(i);
  }
  const int64_t window_ms = absl::ToInt64Milliseconds(options_.dedup_window);
  const int64_t first_bucket = absl::ToUnixMillis(absl::Now()) / window_ms - 2;
  std::vector<int> shard_of_command;
  std::vector<std::vector<std::string>> commands;
  for (const auto& [shard, indexes] : by_shard) {
    std::vector<std::string> keys = {keys_.EventShard(shard)};
    for (int64_t b = first_bucket; b < first_bucket + 4; ++b) {
      keys.push_back(keys_.DedupBucket(shard, b));
    }
    std::vector<std::string> args = {absl::StrCat(window_ms),
                                     absl::StrCat(first_bucket)};
    for (size_t i : indexes) {
      args.push_back(events[i]->event_id());
      args.push_back(events[i]->SerializeAsString());
    }
    commands.push_back(redis::EvalShaCommand(append_script_, keys, args));
    shard_of_command.push_back(shard);
  }
  if (options_.strict && options_.strict_replicas > 0) {
    commands.push_back({"WAIT", absl::StrCat(options_.strict_replicas),
                        absl::StrCat(absl::ToInt64Milliseconds(
                            options_.strict_wait_timeout))});
  }
  OMNICX_ASSIGN_OR_RETURN(std::vector<absl::StatusOr<redis::Reply>> replies,
                          redis_.PipelineScripts(commands, {&append_script_}));

  for (size_t c = 0; c < shard_of_command.size(); ++c) {
    OMNICX_RETURN_IF_ERROR(replies[c].status());
    const int shard = shard_of_command[c];
    const std::vector<size_t>& indexes = by_shard[shard];
    const auto& items = replies[c]->elements();
    if (items.size() != indexes.size()) {
      return absl::InternalError("append script returned a wrong count");
    }
    for (size_t k = 0; k < indexes.size(); ++k) {
      const std::string& item = items[k].str();
      AppendResult& out = results[indexes[k]];
      out.status = item[0] == 'A' ? omnicx::v1::EVENT_STATUS_ACCEPTED
                                  : omnicx::v1::EVENT_STATUS_DUPLICATE;
      out.stream_id = absl::StrCat(shard, "/", item.substr(1));
    }
  }
  if (options_.strict && options_.strict_replicas > 0) {
    OMNICX_ASSIGN_OR_RETURN(int64_t acked, replies.back()->AsInteger());
    if (acked < options_.strict_replicas) {
      return absl::UnavailableError(absl::StrCat(
          "strict durability: ", acked, " of ", options_.strict_replicas,
          " replicas acknowledged in time; retry (the retry is deduplicated)"));
    }
  }
  return results;
}

absl::StatusOr<std::vector<GroupLag>> EventLog::ConsumerLag() {
  std::vector<std::vector<std::string>> commands;
  for (int shard = 0; shard < options_.shards; ++shard) {
    commands.push_back({"XINFO", "GROUPS", keys_.EventShard(shard)});
    commands.push_back({"XLEN", keys_.EventShard(shard)});
  }
  OMNICX_ASSIGN_OR_RETURN(auto replies, redis_.Pipeline(commands));
  std::map<std::string, GroupLag> lags;
  for (const std::string& g : options_.consumer_groups) lags[g].group = g;
  for (int shard = 0; shard < options_.shards; ++shard) {
    const auto& groups = replies[2 * shard];
    if (!groups.ok()) continue;  // the stream does not exist yet
    const int64_t length =
        replies[2 * shard + 1].ok() ? replies[2 * shard + 1]->integer() : 0;
    for (const redis::Reply& group : groups->elements()) {
      std::map<std::string, redis::Reply> f = streams::InfoFields(group);
      GroupLag& lag = lags[f["name"].str()];
      lag.group = f["name"].str();
      lag.pending += f["pending"].integer();
      // Redis reports a nil lag when it cannot compute it; assume the worst.
      lag.lag += f["lag"].is_nil() ? length : f["lag"].integer();
    }
  }
  std::vector<GroupLag> out;
  for (auto& [name, lag] : lags) out.push_back(lag);
  return out;
}

absl::StatusOr<int64_t> EventLog::Trim() {
  int64_t trimmed = 0;
  for (int shard = 0; shard < options_.shards; ++shard) {
    OMNICX_ASSIGN_OR_RETURN(
        int64_t n, streams::TrimAcknowledged(redis_, keys_.EventShard(shard)));
    trimmed += n;
  }
  return trimmed;
}

}  // namespace omnicx::ingestion
