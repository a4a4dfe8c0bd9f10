#include "services/ingestion/event_log.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/events/sharding.h"
#include "libs/status/status_macros.h"
#include "libs/streams/retention.h"
#include "services/ingestion/lua/append_events_lua.h"

namespace omnicx::ingestion {
namespace {

// Events per script call: ids and events are unpack()ed onto Lua's C stack
// (LUAI_MAXCSTACK 8000), the HSET with two values per event.
constexpr size_t kMaxEventsPerScript = 500;

}  // namespace

EventLog::EventLog(redis::Client& redis, const keys::KeyBuilder& keys,
                   EventLogOptions options)
    : redis_(redis),
      keys_(keys),
      options_(std::move(options)),
      append_script_(lua::kAppendEventsLua) {}

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
  if (!options_.strict || options_.strict_replicas > 0) {
    durability_checked_ = true;
    return absl::OkStatus();
  }
  // Every primary (a cluster's each hold part of the log; standalone: the
  // one node).
  OMNICX_ASSIGN_OR_RETURN(auto nodes, redis_.PipelineOnEveryPrimary(
                                          {{"CONFIG", "GET", "appendonly"},
                                           {"CONFIG", "GET", "appendfsync"}}));
  for (const auto& [address, replies] : nodes) {
    for (const auto& r : replies) OMNICX_RETURN_IF_ERROR(r.status());
    const std::string appendonly = replies[0]->elements().size() == 2
                                       ? replies[0]->elements()[1].str()
                                       : "";
    const std::string appendfsync = replies[1]->elements().size() == 2
                                        ? replies[1]->elements()[1].str()
                                        : "";
    if (appendonly != "yes" || appendfsync != "always") {
      return absl::FailedPreconditionError(absl::StrCat(
          "durability strict with strict_replicas 0 needs Redis appendonly yes "
          "and appendfsync always (",
          address, " has appendonly ", appendonly, ", appendfsync ",
          appendfsync, ")"));
    }
  }
  durability_checked_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<AppendResult>> EventLog::Append(
    const std::vector<const omnicx::v1::Interaction*>& events) {
  std::vector<AppendResult> results(events.size());
  if (events.empty()) return results;
  if (!durability_checked_.load()) {
    if (absl::Status s = CheckDurability(); !s.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "strict durability cannot be guaranteed: ", s.message()));
    }
  }

  // One script call per shard touched (per kMaxEventsPerScript events), all
  // in one pipeline. An id repeated within the call (possible when the
  // commit queue joins calls) is sent once and answered from its first copy.
  struct ScriptCall {
    int shard;
    std::vector<size_t> indexes;  // into events, distinct ids
  };
  std::map<int, std::vector<size_t>> by_shard;
  for (size_t i = 0; i < events.size(); ++i) {
    by_shard[events::ShardFor(events[i]->customer(), options_.shards)]
        .push_back(i);
  }
  std::vector<ScriptCall> calls;
  std::vector<std::pair<size_t, size_t>> repeats;  // (repeat, first copy)
  for (const auto& [shard, indexes] : by_shard) {
    absl::flat_hash_map<absl::string_view, size_t> first;
    for (size_t i : indexes) {
      auto [it, inserted] = first.emplace(events[i]->event_id(), i);
      if (!inserted) {
        repeats.emplace_back(i, it->second);
        continue;
      }
      if (calls.empty() || calls.back().shard != shard ||
          calls.back().indexes.size() == kMaxEventsPerScript) {
        calls.push_back({shard, {}});
      }
      calls.back().indexes.push_back(i);
    }
  }
  const int64_t window_ms = absl::ToInt64Milliseconds(options_.dedup_window);
  const int64_t first_bucket = absl::ToUnixMillis(absl::Now()) / window_ms - 2;
  std::vector<std::vector<std::string>> commands;
  for (const ScriptCall& call : calls) {
    std::vector<std::string> keys = {keys_.EventShard(call.shard)};
    for (int64_t b = first_bucket; b < first_bucket + 4; ++b) {
      keys.push_back(keys_.DedupBucket(call.shard, b));
    }
    std::vector<std::string> args;
    args.reserve(2 + 2 * call.indexes.size());
    args.push_back(absl::StrCat(window_ms));
    args.push_back(absl::StrCat(first_bucket));
    for (size_t i : call.indexes) args.push_back(events[i]->event_id());
    for (size_t i : call.indexes)
      args.push_back(events[i]->SerializeAsString());
    commands.push_back(redis::EvalShaCommand(append_script_, keys, args));
  }
  if (options_.strict && options_.strict_replicas > 0) {
    commands.push_back({"WAIT", absl::StrCat(options_.strict_replicas),
                        absl::StrCat(absl::ToInt64Milliseconds(
                            options_.strict_wait_timeout))});
  }
  const bool wait_for_replicas =
      options_.strict && options_.strict_replicas > 0;
  OMNICX_ASSIGN_OR_RETURN(std::vector<absl::StatusOr<redis::Reply>> replies,
                          redis_.PipelineScripts(commands, {&append_script_},
                                                 wait_for_replicas ? 1 : 0));

  for (size_t c = 0; c < calls.size(); ++c) {
    OMNICX_RETURN_IF_ERROR(replies[c].status());
    const std::vector<size_t>& indexes = calls[c].indexes;
    const auto& items = replies[c]->elements();
    if (items.size() != indexes.size() + 1 ||
        items[0].str().size() != indexes.size()) {
      return absl::InternalError("append script returned a wrong count");
    }
    const std::string& flags = items[0].str();
    for (size_t k = 0; k < indexes.size(); ++k) {
      AppendResult& out = results[indexes[k]];
      out.status = flags[k] == 'A' ? omnicx::v1::EVENT_STATUS_ACCEPTED
                                   : omnicx::v1::EVENT_STATUS_DUPLICATE;
      out.stream_id = absl::StrCat(calls[c].shard, "/", items[k + 1].str());
    }
  }
  for (const auto& [repeat, first] : repeats) {
    results[repeat] = {omnicx::v1::EVENT_STATUS_DUPLICATE,
                       results[first].stream_id};
  }
  if (wait_for_replicas) {
    // A refused WAIT (an ACL without it, a replica instance) is a failed
    // strict append, reported like a timeout.
    if (!replies.back().ok()) {
      return absl::UnavailableError(absl::StrCat(
          "strict durability: WAIT failed (", replies.back().status().message(),
          "); retry (the retry is deduplicated)"));
    }
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
