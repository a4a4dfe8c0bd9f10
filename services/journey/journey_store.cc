#include "services/journey/journey_store.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/events/applied_ids.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "libs/time/proto_time.h"
#include "services/journey/aggregate_delta.h"
#include "services/journey/aggregator.h"
#include "services/journey/churn_learner.h"
#include "services/journey/lua/apply_events_lua.h"
#include "services/journey/lua/finish_merged_journey_lua.h"
#include "services/journey/lua/forget_journey_lua.h"
#include "services/journey/lua/merge_journeys_lua.h"
#include "services/journey/lua/sweep_stage_lua.h"
#include "services/journey/lua/take_merged_journey_lua.h"
#include "services/journey/pain_points.h"

namespace omnicx::journey {
namespace {

using omnicx::v1::Interaction;

std::string TransitionField(const StageTransition& t) {
  return absl::StrCat(static_cast<int>(t.from), ">", static_cast<int>(t.to));
}

// The due set score of a state looked at up to `checked_ms`: when a sweep
// should look again ("" = never).
std::string DueArg(const CompiledModel& model, const JourneyState& state,
                   int64_t checked_ms, absl::Duration interval) {
  const std::optional<int64_t> next =
      NextStageCheck(model, state, checked_ms, interval);
  return next.has_value() ? absl::StrCat(*next) : "";
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
      take_script_(lua::kTakeMergedJourneyLua),
      merge_script_(lua::kMergeJourneysLua),
      finish_script_(lua::kFinishMergedJourneyLua),
      forget_script_(lua::kForgetJourneyLua),
      sweep_script_(lua::kSweepStageLua),
      cache_(options_.state_cache_entries),
      reader_(redis, keys, model, options_.learned_refresh, clock_) {}

namespace {

// The reply to HMGET <journey> v s: the version and state, nullopt when the
// customer has none.
absl::StatusOr<std::optional<std::pair<int64_t, JourneyState>>> ParseStateReply(
    const std::string& customer_id, const redis::Reply& reply) {
  const auto& fields = reply.elements();
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

// The state as stored: without the customer id, which is the key's (every
// read sets it back).
std::string StoredBytes(JourneyState* state) {
  std::string cid = std::move(*state->mutable_customer_id());
  state->clear_customer_id();
  std::string bytes = state->SerializeAsString();
  state->set_customer_id(std::move(cid));
  return bytes;
}

}  // namespace

absl::StatusOr<std::optional<std::pair<int64_t, JourneyState>>>
JourneyStore::ReadState(const std::string& customer_id) {
  OMNICX_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_.Command({"HMGET", keys_.Journey(customer_id), "v", "s"}));
  return ParseStateReply(customer_id, r);
}

absl::StatusOr<ApplyResult> JourneyStore::Apply(const Interaction& event) {
  return ApplyBatch({event}).at(0);
}

// One customer's part of an ApplyBatch attempt.
struct JourneyStore::Pending {
  std::vector<size_t> events;  // indexes, in arrival order
  // What the commit is checked against: the state's version and the number
  // of customers merged into this one.
  CachedState read;
  absl::Status error;
};

absl::Status JourneyStore::ReadForApply(
    std::map<std::string, Pending>* pending) {
  std::vector<redis::Command> reads;
  std::vector<std::pair<const std::string*, Pending*>> to_read;
  for (auto& [cid, p] : *pending) {
    if (std::optional<CachedState> cached = cache_.Take(cid)) {
      p.read = std::move(*cached);
      continue;
    }
    reads.push_back({"HMGET", keys_.Journey(cid), "v", "s"});
    reads.push_back({"SMEMBERS", keys_.MergedIds(cid)});
    to_read.emplace_back(&cid, &p);
  }
  if (reads.empty()) return absl::OkStatus();
  OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies read, redis_.Pipeline(reads));
  std::vector<redis::Command> merged_reads;
  std::vector<Pending*> merged_owner;
  size_t r = 0;
  for (auto& [cid_ptr, p_ptr] : to_read) {
    const std::string& cid = *cid_ptr;
    Pending& p = *p_ptr;
    const absl::StatusOr<redis::Reply>& state = read[r++];
    const absl::StatusOr<redis::Reply>& merged = read[r++];
    if (!state.ok() || !merged.ok()) {
      p.error = !state.ok() ? state.status() : merged.status();
      continue;
    }
    p.read = CachedState();
    auto parsed = ParseStateReply(cid, *state);
    if (!parsed.ok()) {
      p.error = parsed.status();
      continue;
    }
    if (parsed->has_value()) {
      p.read.version = (*parsed)->first;
      p.read.state = std::move((*parsed)->second);
    }
    p.read.state.set_customer_id(cid);
    p.read.merged = static_cast<int64_t>(merged->elements().size());
    for (const redis::Reply& m : merged->elements()) {
      merged_reads.push_back({"HGET", keys_.Journey(m.str()), "s"});
      merged_owner.push_back(&p);
    }
  }
  if (merged_reads.empty()) return absl::OkStatus();
  OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies merged,
                          redis_.Pipeline(merged_reads));
  for (size_t i = 0; i < merged.size(); ++i) {
    Pending& p = *merged_owner[i];
    if (!merged[i].ok()) {
      p.error = merged[i].status();
      continue;
    }
    if (merged[i]->is_nil()) continue;  // merged already (or no journey)
    JourneyState other;
    if (!other.ParseFromString(merged[i]->str())) {
      p.error = absl::DataLossError("a merged customer's journey is corrupt");
      continue;
    }
    p.read.merged_applied.push_back(std::move(*other.mutable_applied()));
  }
  return absl::OkStatus();
}

std::vector<absl::StatusOr<ApplyResult>> JourneyStore::ApplyBatch(
    const std::vector<Interaction>& events) {
  std::vector<absl::StatusOr<ApplyResult>> results(
      events.size(), absl::AbortedError("journey state kept changing; retry"));
  std::map<std::string, Pending> pending;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].resolved_customer_id().empty()) {
      results[i] =
          absl::InvalidArgumentError("event has no resolved_customer_id");
      continue;
    }
    pending[events[i].resolved_customer_id()].events.push_back(i);
  }
  const absl::Time now = clock_();
  const std::shared_ptr<const LearnedChurn> learned = Learned();
  for (int attempt = 0; attempt < options_.max_attempts && !pending.empty();
       ++attempt) {
    // One round trip reads every customer's state and the customers merged
    // into them (a second one reads those, only when there are any).
    if (absl::Status read = ReadForApply(&pending); !read.ok()) {
      for (const auto& [cid, p] : pending) {
        for (size_t i : p.events) results[i] = read;
      }
      break;
    }
    // Compute every customer's new state; one round trip commits them all.
    struct Write {
      std::string cid;
      std::vector<size_t> applied;
      Pending* pending;
    };
    std::vector<Write> writes;
    std::vector<redis::Command> commands;
    for (auto& [cid, p] : pending) {
      if (!p.error.ok()) {
        for (size_t i : p.events) results[i] = p.error;
        continue;
      }
      JourneyState& state = p.read.state;
      const PainSnapshot before = SnapshotPain(state);
      const int64_t before_events = state.events();
      const int64_t before_churned_ms = state.churned_ms();
      // A customer still there reaching a new period: the example is of
      // the state before these touchpoints.
      int64_t latest_new_ms = 0;
      for (size_t i : p.events) {
        const Interaction& e = events[i];
        if (model_.IsChurnLabel(e.type())) continue;
        const uint64_t fp = omnicx::events::EventFingerprint(e.event_id());
        bool seen = omnicx::events::WasApplied(state.applied(), fp);
        for (const auto& m : p.read.merged_applied) {
          seen = seen || omnicx::events::WasApplied(m, fp);
        }
        if (!seen) {
          latest_new_ms = std::max<int64_t>(
              latest_new_ms, time::ToUnixMillis(e.occurred_at()));
        }
      }
      std::optional<ChurnExample> example =
          StayedExample(model_, state, latest_new_ms);
      std::vector<size_t> applied;
      std::vector<StageTransition> moves;
      std::vector<StageTransition> retracted;
      for (size_t i : p.events) {
        const Interaction& e = events[i];
        const uint64_t fp = omnicx::events::EventFingerprint(e.event_id());
        bool seen = omnicx::events::WasApplied(state.applied(), fp);
        for (const auto& m : p.read.merged_applied) {
          seen = seen || omnicx::events::WasApplied(m, fp);
        }
        if (seen) {
          results[i] = ApplyResult::kDuplicate;
          continue;
        }
        // Before swept moves it may have prevented: take them back.
        for (const StageTransition& r :
             RetractSweptAfter(&state, time::ToUnixMillis(e.occurred_at()))) {
          retracted.push_back(r);
        }
        ApplyEvent(model_, e, &state);
        if (auto moved = RefreshDerived(model_, &state, learned.get())) {
          moves.push_back(*moved);
        }
        omnicx::events::RecordApplied(fp, now, options_.applied_window,
                                      state.mutable_applied());
        applied.push_back(i);
      }
      if (applied.empty()) {
        cache_.Put(cid, std::move(p.read));
        continue;
      }
      if (!retracted.empty()) {
        // The sweep again, with these touchpoints.
        for (const StageTransition& m : SweepStage(
                 model_, &state, absl::ToUnixMillis(now), learned.get())) {
          moves.push_back(m);
        }
      }
      const AggregateFields delta = PainDelta(before, SnapshotPain(state));
      if (auto left =
              LeftExample(model_, before_churned_ms, before_events, state)) {
        example = std::move(left);
      }
      std::vector<FunnelMove> funnel;
      for (const StageTransition& m : moves) {
        funnel.emplace_back(FunnelDay(m.at_ms), TransitionField(m));
      }
      std::vector<FunnelMove> taken_back;
      for (const StageTransition& m : retracted) {
        taken_back.emplace_back(FunnelDay(m.at_ms), TransitionField(m));
      }
      commands.push_back(redis::EvalShaCommand(
          apply_script_,
          {keys_.Journey(cid), keys_.ErasedCustomer(cid), keys_.MergedInto(cid),
           keys_.Outbox(keys::KeyBuilder::Partition(cid)), keys_.MergedIds(cid),
           keys_.ChurnExamples(keys::KeyBuilder::Partition(cid)),
           keys_.StageDue(keys::KeyBuilder::Partition(cid))},
          {absl::StrCat(p.read.version), StoredBytes(&state),
           EncodeDelta(delta, funnel, taken_back), absl::StrCat(p.read.merged),
           example.has_value() ? example->SerializeAsString() : "",
           DueArg(model_, state, StageAsOf(state),
                  options_.stage_check_interval),
           cid}));
      writes.push_back({cid, std::move(applied), &p});
    }
    std::map<std::string, Pending> again;
    if (!commands.empty()) {
      absl::StatusOr<redis::PipelineReplies> out =
          redis_.PipelineScripts(commands, {&apply_script_});
      for (size_t w = 0; w < writes.size(); ++w) {
        const auto& [cid, applied, p] = writes[w];
        const absl::Status error =
            !out.ok() ? out.status() : (*out)[w].status();
        const std::string verdict = error.ok() ? Verdict(*(*out)[w]) : "";
        if (verdict == "OK") {
          p->read.version += 1;
          cache_.Put(cid, std::move(p->read));
        } else {
          cache_.Drop(cid);
        }
        if (!error.ok()) {
          for (size_t i : applied) results[i] = error;
          continue;
        }
        const redis::Reply& reply = *(*out)[w];
        if (verdict == "OK" || verdict == "ERASED") {
          for (size_t i : applied) {
            results[i] =
                verdict == "OK" ? ApplyResult::kApplied : ApplyResult::kErased;
          }
          continue;
        }
        // MOVED: merged away, the survivor takes these events. RETRY: the
        // version moved; read again.
        const std::string& to =
            verdict == "MOVED" && reply.elements().size() > 1
                ? reply.elements()[1].str()
                : cid;
        auto& next = again[to].events;
        next.insert(next.end(), applied.begin(), applied.end());
      }
    }
    // Keep each customer's events in arrival order across the retries.
    for (auto& [cid, p] : again) std::sort(p.events.begin(), p.events.end());
    pending = std::move(again);
  }
  return results;
}

absl::StatusOr<bool> JourneyStore::Merge(absl::string_view survivor_id,
                                         absl::string_view merged_id) {
  std::string survivor(survivor_id);
  const std::string merged(merged_id);
  if (survivor == merged) return false;
  const int merged_partition = keys::KeyBuilder::Partition(merged);
  auto step_done = [this](int step) {
    return options_.merge_step_hook ? options_.merge_step_hook(step)
                                    : absl::OkStatus();
  };
  // Step 1, in M's slot: freeze M's journey and read it.
  cache_.Drop(merged);
  OMNICX_ASSIGN_OR_RETURN(
      redis::Reply taken,
      redis_.Eval(take_script_, {keys_.Journey(merged)}, {survivor}));
  if (Verdict(taken) != "OK" || taken.elements().size() < 2) return false;
  std::string merged_version;
  JourneyState other;
  bool parsed = false;
  std::vector<std::string> folded_before;
  const auto& fields = taken.elements()[1].elements();
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& name = fields[i].str();
    const std::string& value = fields[i + 1].str();
    if (name == "v") {
      merged_version = value;
    } else if (name == "s") {
      parsed = other.ParseFromString(value);
    } else if (absl::StartsWith(name, "f:")) {
      folded_before.push_back(name.substr(2));
    }
  }
  if (!parsed) {
    return absl::DataLossError(
        absl::StrCat("journey state of ", merged, " is corrupt"));
  }
  OMNICX_RETURN_IF_ERROR(step_done(1));

  // Step 2, in S's slot (following S's redirects): fold M's state in, once.
  std::string verdict;
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    if (survivor == merged) {
      verdict = "SEEN";  // a redirect back to M: nothing to fold
      break;
    }
    cache_.Drop(survivor);
    OMNICX_ASSIGN_OR_RETURN(auto s, ReadState(survivor));
    JourneyState state;
    int64_t version = 0;
    if (s.has_value()) {
      version = s->first;
      state = std::move(s->second);
    }
    state.set_customer_id(survivor);
    AggregateFields before = PainContributions(state);
    for (const auto& [field, v] : PainContributions(other)) {
      before[field] += v;
    }
    MergeState(model_, other, &state);
    const std::shared_ptr<const LearnedChurn> learned = Learned();
    const std::optional<StageTransition> moved =
        RefreshDerived(model_, &state, learned.get());
    const AggregateFields delta =
        AggregateDelta(before, PainContributions(state));
    std::vector<FunnelMove> funnel;
    if (moved)
      funnel.emplace_back(FunnelDay(moved->at_ms), TransitionField(*moved));
    std::vector<std::string> args = {
        absl::StrCat(version),
        merged,
        StoredBytes(&state),
        EncodeDelta(delta, funnel),
        DueArg(model_, state, StageAsOf(state), options_.stage_check_interval),
        survivor};
    args.insert(args.end(), folded_before.begin(), folded_before.end());
    const int partition = keys::KeyBuilder::Partition(survivor);
    OMNICX_ASSIGN_OR_RETURN(
        redis::Reply out,
        redis_.Eval(merge_script_,
                    {keys_.Journey(survivor), keys_.Outbox(partition),
                     keys_.ErasedCustomer(survivor), keys_.MergedInto(survivor),
                     keys_.StageDue(partition)},
                    args));
    verdict = Verdict(out);
    if (verdict == "OK" || verdict == "SEEN" || verdict == "ERASED") break;
    if (verdict == "MOVED" && out.elements().size() > 1) {
      survivor = out.elements()[1].str();
    }
    verdict.clear();
  }
  if (verdict.empty()) {
    return absl::AbortedError("journey states kept changing; retry");
  }
  OMNICX_RETURN_IF_ERROR(step_done(2));

  // Step 3, in M's slot: M's journey goes. Folded: its share is in S's
  // delta. S erased: M's share leaves the aggregates, as Forget does.
  AggregateFields negative;
  if (verdict == "ERASED") {
    for (const auto& [field, v] : PainContributions(other)) {
      if (v != 0) negative[field] = -v;
    }
  }
  OMNICX_RETURN_IF_ERROR(
      redis_
          .Eval(finish_script_,
                {keys_.Journey(merged), keys_.Outbox(merged_partition),
                 keys_.StageDue(merged_partition)},
                {merged_version,
                 verdict == "ERASED" ? EncodeDelta(negative, {}) : "", merged})
          .status());
  return verdict == "OK";
}

absl::StatusOr<int64_t> JourneyStore::SweepDue(int max_per_partition) {
  const int64_t now = absl::ToUnixMillis(clock_());
  std::vector<redis::Command> due_reads;
  due_reads.reserve(keys::kPartitions);
  for (int p = 0; p < keys::kPartitions; ++p) {
    due_reads.push_back({"ZRANGEBYSCORE", keys_.StageDue(p), "-inf",
                         absl::StrCat(now), "WITHSCORES", "LIMIT", "0",
                         absl::StrCat(max_per_partition)});
  }
  OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies due,
                          redis_.Pipeline(due_reads));
  std::vector<std::string> cids;
  std::vector<std::string> scores;
  absl::Status first_error;
  for (const auto& one : due) {
    if (!one.ok()) {
      first_error.Update(one.status());
      continue;
    }
    const auto& e = one->elements();
    for (size_t i = 0; i + 1 < e.size(); i += 2) {
      cids.push_back(e[i].str());
      scores.push_back(e[i + 1].str());
    }
  }
  if (cids.empty()) {
    if (!first_error.ok()) return first_error;
    return 0;
  }
  std::vector<redis::Command> reads;
  reads.reserve(cids.size());
  for (const std::string& cid : cids) {
    reads.push_back({"HMGET", keys_.Journey(cid), "v", "s"});
  }
  OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies states,
                          redis_.Pipeline(reads));
  const std::shared_ptr<const LearnedChurn> learned = Learned();
  std::vector<redis::Command> commits;
  std::vector<int64_t> moved;
  for (size_t i = 0; i < cids.size(); ++i) {
    const std::string& cid = cids[i];
    if (!states[i].ok()) {
      first_error.Update(states[i].status());
      continue;
    }
    auto parsed = ParseStateReply(cid, *states[i]);
    if (!parsed.ok()) {
      first_error.Update(parsed.status());
      continue;
    }
    const int partition = keys::KeyBuilder::Partition(cid);
    const std::vector<std::string> keys = {
        keys_.Journey(cid), keys_.Outbox(partition), keys_.StageDue(partition)};
    if (!parsed->has_value()) {  // erased or merged away
      commits.push_back(redis::EvalShaCommand(sweep_script_, keys,
                                              {"0", "", "", "", cid, ""}));
      moved.push_back(0);
      continue;
    }
    auto& [version, state] = **parsed;
    state.set_customer_id(cid);
    const PainSnapshot before = SnapshotPain(state);
    // Looked at up to a check interval before the due time: the scan
    // starts there (or at the stage's own time, when later).
    double due_ms = 0;
    absl::SimpleAtod(scores[i], &due_ms);
    const int64_t checked =
        static_cast<int64_t>(due_ms) -
        absl::ToInt64Milliseconds(options_.stage_check_interval);
    const std::vector<StageTransition> moves =
        SweepStage(model_, &state, now, learned.get(), checked);
    std::string bytes, record;
    if (!moves.empty()) {
      std::vector<FunnelMove> funnel;
      for (const StageTransition& m : moves) {
        funnel.emplace_back(FunnelDay(m.at_ms), TransitionField(m));
      }
      record = EncodeDelta(PainDelta(before, SnapshotPain(state)), funnel);
      bytes = StoredBytes(&state);
    }
    commits.push_back(redis::EvalShaCommand(
        sweep_script_, keys,
        {absl::StrCat(version), bytes, record,
         DueArg(model_, state, now, options_.stage_check_interval), cid,
         scores[i]}));
    moved.push_back(static_cast<int64_t>(moves.size()));
  }
  int64_t stored = 0;
  if (!commits.empty()) {
    OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies out,
                            redis_.PipelineScripts(commits, {&sweep_script_}));
    for (size_t i = 0; i < out.size(); ++i) {
      if (!out[i].ok()) {
        first_error.Update(out[i].status());
        continue;
      }
      // RETRY: an event or another sweeper committed first; whoever did
      // scheduled the customer's next due time, and a due one is taken by
      // the next pass.
      if (Verdict(*out[i]) == "OK") stored += moved[i];
    }
  }
  // Commits elsewhere bumped the versions: this replica's cached states of
  // these customers are stale.
  for (const std::string& cid : cids) cache_.Drop(cid);
  if (!first_error.ok() && stored == 0) return first_error;
  return stored;
}

std::vector<redis::Command> JourneyStore::LoadCommands(
    const std::string& customer_id) const {
  return reader_.LoadCommands(customer_id);
}

absl::StatusOr<bool> JourneyStore::Forget(absl::string_view customer_id) {
  const std::string cid(customer_id);
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    cache_.Drop(cid);
    OMNICX_ASSIGN_OR_RETURN(auto current, ReadState(cid));
    AggregateFields negative;
    if (current.has_value()) {
      for (const auto& [field, v] : PainContributions(current->second)) {
        if (v != 0) negative[field] = -v;
      }
    }
    std::vector<std::string> args = {
        current.has_value() ? absl::StrCat(current->first) : "0",
        EncodeDelta(negative, {}), cid};
    OMNICX_ASSIGN_OR_RETURN(
        redis::Reply out,
        redis_.Eval(
            forget_script_,
            {keys_.Journey(cid), keys_.Outbox(keys::KeyBuilder::Partition(cid)),
             keys_.StageDue(keys::KeyBuilder::Partition(cid))},
            args));
    const std::string verdict = Verdict(out);
    if (verdict == "OK") return true;
    if (verdict == "NOOP") return false;
    if (verdict == "MERGING") {
      return absl::UnavailableError(
          "the customer's journey is being merged into another customer's; "
          "retry once the merge record is processed");
    }
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
  return reader_.LoadFrom(cid, r);
}

std::shared_ptr<const LearnedChurn> JourneyStore::Learned() {
  return reader_.Learned();
}

absl::Status JourneyStore::RefreshLearned() { return reader_.RefreshLearned(); }

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
