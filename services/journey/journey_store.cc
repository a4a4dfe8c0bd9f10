#include "services/journey/journey_store.h"

#include <cmath>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/time_util.h"
#include "libs/status/status_macros.h"
#include "services/journey/aggregate_delta.h"
#include "services/journey/aggregator.h"
#include "services/journey/lua/apply_events_lua.h"
#include "services/journey/lua/forget_journey_lua.h"
#include "services/journey/lua/merge_journeys_lua.h"
#include "services/journey/pain_points.h"

namespace omnicx::journey {
namespace {

using omnicx::v1::Interaction;

std::string TransitionField(const StageTransition& t) {
  return absl::StrCat(static_cast<int>(t.from), ">", static_cast<int>(t.to));
}

std::string Verdict(const redis::Reply& reply) {
  return reply.elements().empty() ? "" : reply.elements()[0].str();
}

}  // namespace

std::string FunnelDay(int64_t at_ms) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixMillis(at_ms),
                          absl::UTCTimeZone());
}

JourneyStore::JourneyStore(redis::Client& redis, const keys::KeyBuilder& keys,
                           const CompiledModel& model,
                           JourneyStoreOptions options,
                           std::function<absl::Time()> clock)
    : redis_(redis),
      keys_(keys),
      model_(model),
      options_(std::move(options)),
      clock_(std::move(clock)),
      apply_script_(lua::kApplyEventsLua),
      merge_script_(lua::kMergeJourneysLua),
      forget_script_(lua::kForgetJourneyLua) {}

absl::StatusOr<std::optional<std::pair<int64_t, JourneyState>>>
JourneyStore::ReadState(const std::string& customer_id, bool* applied,
                        const std::string& event_id) {
  std::vector<redis::Command> reads = {
      {"HMGET", keys_.Journey(customer_id), "v", "s"}};
  if (applied != nullptr) {
    reads.push_back(
        {"ZSCORE", keys_.Applied(customer_id, "journey"), event_id});
  }
  OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies r, redis_.Pipeline(reads));
  for (const auto& one : r) OMNICX_RETURN_IF_ERROR(one.status());
  if (applied != nullptr) *applied = !r[1]->is_nil();
  const auto& fields = r[0]->elements();
  if (fields.size() < 2 || fields[0].is_nil()) return std::nullopt;
  int64_t version = 0;
  JourneyState state;
  if (!absl::SimpleAtoi(fields[0].str(), &version) ||
      !state.ParseFromString(fields[1].str())) {
    return absl::DataLossError(
        absl::StrCat("journey state of ", customer_id, " is corrupt"));
  }
  return std::make_pair(version, std::move(state));
}

absl::StatusOr<ApplyResult> JourneyStore::Apply(const Interaction& event) {
  return ApplyBatch({event}).at(0);
}

absl::StatusOr<absl::flat_hash_set<size_t>>
JourneyStore::AppliedToMergedCustomers(
    const std::vector<Interaction>& events,
    const std::map<std::string, std::vector<size_t>>& pending,
    const redis::PipelineReplies& read) {
  // read holds three replies per pending customer; the third lists the
  // customers merged into it.
  std::vector<redis::Command> reads;
  size_t r = 0;
  for (const auto& [cid, idx] : pending) {
    const absl::StatusOr<redis::Reply>& merged = read[r + 2];
    r += 3;
    if (!merged.ok()) continue;  // ApplyBatch reports it
    for (const redis::Reply& m : merged->elements()) {
      redis::Command seen = {"ZMSCORE", keys_.Applied(m.str(), "journey")};
      for (size_t i : idx) seen.push_back(events[i].event_id());
      reads.push_back(std::move(seen));
    }
  }
  absl::flat_hash_set<size_t> applied;
  if (reads.empty()) return applied;
  OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies replies,
                          redis_.Pipeline(reads));
  size_t q = 0;
  r = 0;
  for (const auto& [cid, idx] : pending) {
    const absl::StatusOr<redis::Reply>& merged = read[r + 2];
    r += 3;
    if (!merged.ok()) continue;
    for (size_t m = 0; m < merged->elements().size(); ++m, ++q) {
      OMNICX_RETURN_IF_ERROR(replies[q].status());
      const auto& seen = replies[q]->elements();
      for (size_t k = 0; k < idx.size() && k < seen.size(); ++k) {
        if (!seen[k].is_nil()) applied.insert(idx[k]);
      }
    }
  }
  return applied;
}

std::vector<absl::StatusOr<ApplyResult>> JourneyStore::ApplyBatch(
    const std::vector<Interaction>& events) {
  std::vector<absl::StatusOr<ApplyResult>> results(
      events.size(), absl::AbortedError("journey state kept changing; retry"));
  // customer id -> indices of its events, in arrival order.
  std::map<std::string, std::vector<size_t>> pending;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].resolved_customer_id().empty()) {
      results[i] =
          absl::InvalidArgumentError("event has no resolved_customer_id");
      continue;
    }
    pending[events[i].resolved_customer_id()].push_back(i);
  }
  const int64_t now_ms = absl::ToUnixMillis(clock_());
  for (int attempt = 0; attempt < options_.max_attempts && !pending.empty();
       ++attempt) {
    // One round trip reads every customer's state, applied ids and the
    // customers the profile service has merged into them.
    std::vector<redis::Command> reads;
    for (const auto& [cid, idx] : pending) {
      reads.push_back({"HMGET", keys_.Journey(cid), "v", "s"});
      redis::Command seen = {"ZMSCORE", keys_.Applied(cid, "journey")};
      for (size_t i : idx) seen.push_back(events[i].event_id());
      reads.push_back(std::move(seen));
      reads.push_back({"SMEMBERS", keys_.MergedIds(cid)});
    }
    absl::StatusOr<redis::PipelineReplies> read = redis_.Pipeline(reads);
    if (!read.ok()) {
      for (const auto& [cid, idx] : pending) {
        for (size_t i : idx) results[i] = read.status();
      }
      break;
    }
    absl::StatusOr<absl::flat_hash_set<size_t>> applied_elsewhere =
        AppliedToMergedCustomers(events, pending, *read);
    if (!applied_elsewhere.ok()) {
      for (const auto& [cid, idx] : pending) {
        for (size_t i : idx) results[i] = applied_elsewhere.status();
      }
      break;
    }
    // Compute every customer's new state; one round trip writes them all.
    struct Write {
      std::string cid;
      std::vector<size_t> applied;
    };
    std::vector<Write> writes;
    std::vector<redis::Command> commands;
    size_t r = 0;
    for (const auto& [cid, idx] : pending) {
      const absl::StatusOr<redis::Reply>& state_reply = (*read)[r++];
      const absl::StatusOr<redis::Reply>& seen_reply = (*read)[r++];
      const absl::StatusOr<redis::Reply>& merged_reply = (*read)[r++];
      if (!state_reply.ok() || !seen_reply.ok() || !merged_reply.ok()) {
        const absl::Status error = !state_reply.ok()  ? state_reply.status()
                                   : !seen_reply.ok() ? seen_reply.status()
                                                      : merged_reply.status();
        for (size_t i : idx) results[i] = error;
        continue;
      }
      JourneyState state;
      int64_t version = 0;
      const auto& fields = state_reply->elements();
      if (fields.size() >= 2 && !fields[0].is_nil() &&
          (!absl::SimpleAtoi(fields[0].str(), &version) ||
           !state.ParseFromString(fields[1].str()))) {
        for (size_t i : idx) {
          results[i] = absl::DataLossError(
              absl::StrCat("journey state of ", cid, " is corrupt"));
        }
        continue;
      }
      state.set_customer_id(cid);
      const AggregateFields before = PainContributions(state);
      Write write{cid, {}};
      std::vector<std::string> ids;
      std::vector<StageTransition> moves;
      absl::flat_hash_set<std::string> in_batch;
      for (size_t k = 0; k < idx.size(); ++k) {
        const Interaction& e = events[idx[k]];
        const bool seen = k < seen_reply->elements().size() &&
                          !seen_reply->elements()[k].is_nil();
        if (seen || applied_elsewhere->contains(idx[k]) ||
            !in_batch.insert(e.event_id()).second) {
          results[idx[k]] = ApplyResult::kDuplicate;
          continue;
        }
        ApplyEvent(model_, e, &state);
        if (auto moved = RefreshDerived(model_, &state)) {
          moves.push_back(*moved);
        }
        ids.push_back(e.event_id());
        write.applied.push_back(idx[k]);
      }
      if (write.applied.empty()) continue;
      const AggregateFields delta =
          AggregateDelta(before, PainContributions(state));
      std::vector<FunnelMove> funnel;
      for (const StageTransition& m : moves) {
        funnel.emplace_back(FunnelDay(m.at_ms), TransitionField(m));
      }
      std::vector<std::string> keys = {
          keys_.Journey(cid), keys_.Applied(cid, "journey"),
          keys_.ErasedCustomer(cid), keys_.MergedInto(cid),
          keys_.Outbox(keys::KeyBuilder::Partition(cid))};
      std::vector<std::string> args = {
          absl::StrCat(version),
          state.SerializeAsString(),
          absl::StrCat(now_ms),
          absl::StrCat(absl::ToInt64Milliseconds(options_.applied_window)),
          EncodeDelta(delta, funnel),
          absl::StrCat(ids.size())};
      args.insert(args.end(), ids.begin(), ids.end());
      commands.push_back(redis::EvalShaCommand(apply_script_, keys, args));
      writes.push_back(std::move(write));
    }
    std::map<std::string, std::vector<size_t>> again;
    if (!commands.empty()) {
      absl::StatusOr<redis::PipelineReplies> out =
          redis_.PipelineScripts(commands, {&apply_script_});
      for (size_t w = 0; w < writes.size(); ++w) {
        const Write& write = writes[w];
        const absl::Status error =
            !out.ok() ? out.status() : (*out)[w].status();
        if (!error.ok()) {
          for (size_t i : write.applied) results[i] = error;
          continue;
        }
        const redis::Reply& reply = *(*out)[w];
        const std::string verdict = Verdict(reply);
        if (verdict == "OK" || verdict == "ERASED") {
          for (size_t i : write.applied) {
            results[i] =
                verdict == "OK" ? ApplyResult::kApplied : ApplyResult::kErased;
          }
        } else if (verdict == "MOVED" && reply.elements().size() > 1) {
          // Merged away: the survivor takes these events.
          auto& to = again[reply.elements()[1].str()];
          to.insert(to.end(), write.applied.begin(), write.applied.end());
        } else {
          auto& to = again[write.cid];  // RETRY
          to.insert(to.end(), write.applied.begin(), write.applied.end());
        }
      }
    }
    pending = std::move(again);
  }
  return results;
}

absl::StatusOr<bool> JourneyStore::Merge(absl::string_view survivor_id,
                                         absl::string_view merged_id) {
  std::string survivor(survivor_id);
  const std::string merged(merged_id);
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    if (survivor == merged) return false;
    OMNICX_ASSIGN_OR_RETURN(auto s, ReadState(survivor, nullptr, ""));
    OMNICX_ASSIGN_OR_RETURN(auto m, ReadState(merged, nullptr, ""));
    if (!m.has_value()) return false;
    JourneyState state;
    int64_t version = 0;
    if (s.has_value()) {
      version = s->first;
      state = std::move(s->second);
    }
    state.set_customer_id(survivor);
    AggregateFields before = PainContributions(state);
    for (const auto& [field, v] : PainContributions(m->second)) {
      before[field] += v;
    }
    MergeState(model_, m->second, &state);
    const std::optional<StageTransition> moved = RefreshDerived(model_, &state);
    const AggregateFields delta =
        AggregateDelta(before, PainContributions(state));
    std::vector<FunnelMove> funnel;
    if (moved)
      funnel.emplace_back(FunnelDay(moved->at_ms), TransitionField(*moved));
    std::vector<std::string> args = {
        absl::StrCat(version), absl::StrCat(m->first),
        state.SerializeAsString(), EncodeDelta(delta, funnel)};
    OMNICX_ASSIGN_OR_RETURN(
        redis::Reply out,
        redis_.Eval(
            merge_script_,
            {keys_.Journey(survivor), keys_.Applied(survivor, "journey"),
             keys_.Journey(merged), keys_.Applied(merged, "journey"),
             keys_.Outbox(keys::KeyBuilder::Partition(survivor)),
             keys_.ErasedCustomer(survivor), keys_.MergedInto(survivor)},
            args));
    const std::string verdict = Verdict(out);
    if (verdict == "OK") return true;
    if (verdict == "NOOP" || verdict == "ERASED") return false;
    if (verdict == "MOVED" && out.elements().size() > 1) {
      survivor = out.elements()[1].str();
    }
  }
  return absl::AbortedError("journey states kept changing; retry");
}

std::vector<redis::Command> JourneyStore::LoadCommands(
    const std::string& customer_id) const {
  return {{"HGET", keys_.Journey(customer_id), "s"},
          {"SMEMBERS", keys_.MergedIds(customer_id)}};
}

absl::StatusOr<bool> JourneyStore::Forget(absl::string_view customer_id) {
  const std::string cid(customer_id);
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    OMNICX_ASSIGN_OR_RETURN(auto current, ReadState(cid, nullptr, ""));
    AggregateFields negative;
    if (current.has_value()) {
      for (const auto& [field, v] : PainContributions(current->second)) {
        if (v != 0) negative[field] = -v;
      }
    }
    std::vector<std::string> args = {
        current.has_value() ? absl::StrCat(current->first) : "0",
        EncodeDelta(negative, {})};
    OMNICX_ASSIGN_OR_RETURN(
        redis::Reply out,
        redis_.Eval(forget_script_,
                    {keys_.Journey(cid), keys_.Applied(cid, "journey"),
                     keys_.Outbox(keys::KeyBuilder::Partition(cid))},
                    args));
    const std::string verdict = Verdict(out);
    if (verdict == "OK") return true;
    if (verdict == "NOOP") return false;
  }
  return absl::AbortedError("journey state kept changing; retry");
}

absl::StatusOr<std::optional<JourneyState>> JourneyStore::Load(
    absl::string_view customer_id) {
  const std::string cid(customer_id);
  OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies r,
                          redis_.Pipeline(LoadCommands(cid)));
  return LoadFrom(cid, r);
}

absl::StatusOr<std::optional<JourneyState>> JourneyStore::LoadFrom(
    const std::string& cid, const redis::PipelineReplies& r) {
  if (r.size() != 2) return absl::InternalError("journey read incomplete");
  for (const auto& one : r) OMNICX_RETURN_IF_ERROR(one.status());
  std::optional<JourneyState> state;
  if (!r[0]->is_nil()) {
    state.emplace();
    if (!state->ParseFromString(r[0]->str())) {
      return absl::DataLossError(
          absl::StrCat("journey state of ", cid, " is corrupt"));
    }
  }
  // Merged customers whose merge record is still on its way.
  std::vector<redis::Command> pending;
  for (const redis::Reply& m : r[1]->elements()) {
    pending.push_back({"HGET", keys_.Journey(m.str()), "s"});
  }
  if (!pending.empty()) {
    OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies p, redis_.Pipeline(pending));
    for (const auto& one : p) {
      OMNICX_RETURN_IF_ERROR(one.status());
      if (one->is_nil()) continue;
      JourneyState other;
      if (!other.ParseFromString(one->str())) continue;
      if (!state.has_value()) state.emplace();
      MergeState(model_, other, &*state);
    }
  }
  if (state.has_value()) {
    state->set_customer_id(cid);
    if (!pending.empty()) RefreshDerived(model_, &*state);
  }
  return state;
}

absl::StatusOr<std::map<std::string, double>> JourneyStore::PainAggregates() {
  OMNICX_ASSIGN_OR_RETURN(AggregateFields merged,
                          ReadPainShards(redis_, keys_));
  std::map<std::string, double> out;
  for (const auto& [field, v] : merged) out[field] = static_cast<double>(v);
  return out;
}

absl::StatusOr<Funnel> JourneyStore::GetFunnel(absl::Time start,
                                               absl::Time end) {
  Funnel funnel;
  OMNICX_ASSIGN_OR_RETURN(AggregateFields pain, ReadPainShards(redis_, keys_));
  for (int s = omnicx::v1::STAGE_AWARENESS; s <= omnicx::v1::STAGE_CHURNED;
       ++s) {
    const auto stage = static_cast<omnicx::v1::Stage>(s);
    auto it = pain.find(PopulationField(stage, "a"));
    if (it != pain.end() && it->second > 0) funnel.stages[stage] = it->second;
  }
  std::vector<std::string> days;
  for (absl::Time day = start; day <= end; day += absl::Hours(24)) {
    days.push_back(FunnelDay(absl::ToUnixMillis(day)));
  }
  // The last day, when the window does not end on a day boundary.
  const std::string last = FunnelDay(absl::ToUnixMillis(end));
  if (days.empty() || days.back() != last) days.push_back(last);
  OMNICX_ASSIGN_OR_RETURN(AggregateFields moves,
                          ReadFunnelShards(redis_, keys_, days));
  for (const auto& [field, n] : moves) {
    std::pair<std::string, std::string> ft = absl::StrSplit(field, '>');
    int from = 0, to = 0;
    if (absl::SimpleAtoi(ft.first, &from) && absl::SimpleAtoi(ft.second, &to)) {
      funnel.transitions[{static_cast<omnicx::v1::Stage>(from),
                          static_cast<omnicx::v1::Stage>(to)}] += n;
    }
  }
  return funnel;
}

}  // namespace omnicx::journey
