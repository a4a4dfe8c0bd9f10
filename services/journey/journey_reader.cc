#include "services/journey/journey_reader.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"

namespace omnicx::journey {

absl::StatusOr<LearnedChurnModel> ReadChurnModel(redis::Client& redis,
                                                 const keys::KeyBuilder& keys) {
  OMNICX_ASSIGN_OR_RETURN(redis::Reply r,
                          redis.Command({"HGET", keys.ChurnModel(), "m"}));
  LearnedChurnModel model;
  if (r.is_nil()) return model;
  if (!model.ParseFromString(r.str())) {
    return absl::DataLossError("the learned churn model is corrupt");
  }
  return model;
}

JourneyReader::JourneyReader(redis::Client& redis, const keys::KeyBuilder& keys,
                             const CompiledModel& model,
                             absl::Duration learned_refresh,
                             std::function<absl::Time()> clock)
    : redis_(redis),
      keys_(keys),
      model_(model),
      learned_refresh_(learned_refresh),
      clock_(std::move(clock)) {}

std::vector<redis::Command> JourneyReader::LoadCommands(
    const std::string& customer_id) const {
  // The whole hash: the state and the ids already folded in (f:<id>).
  return {{"HGETALL", keys_.Journey(customer_id)},
          {"SMEMBERS", keys_.MergedIds(customer_id)}};
}

absl::StatusOr<std::optional<JourneyState>> JourneyReader::LoadFrom(
    const std::string& cid, const redis::PipelineReplies& r) {
  if (r.size() != kLoadCommands) {
    return absl::InternalError("journey read incomplete");
  }
  for (const auto& one : r) OMNICX_RETURN_IF_ERROR(one.status());
  std::optional<JourneyState> state;
  absl::flat_hash_set<std::string> folded;
  const auto& fields = r[0]->elements();
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& name = fields[i].str();
    if (name == "s") {
      state.emplace();
      if (!state->ParseFromString(fields[i + 1].str())) {
        return absl::DataLossError(
            absl::StrCat("journey state of ", cid, " is corrupt"));
      }
    } else if (absl::StartsWith(name, "f:")) {
      folded.insert(name.substr(2));
    }
  }
  // Merged customers whose merge has not reached this state yet (a merge
  // between its steps still has the merged journey, already folded in).
  std::vector<redis::Command> pending;
  for (const redis::Reply& m : r[1]->elements()) {
    if (folded.contains(m.str())) continue;
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
    if (!pending.empty()) RefreshDerived(model_, &*state, Learned().get());
  }
  return state;
}

omnicx::v1::JourneySummary JourneyReader::Summary(
    const std::string& customer_id, std::optional<JourneyState> state,
    absl::Time now, int max_drivers) {
  JourneyState s = std::move(state).value_or(JourneyState());
  s.set_customer_id(customer_id);
  return Summarize(model_, s, absl::ToUnixMillis(now), max_drivers,
                   Learned().get());
}

std::shared_ptr<const LearnedChurn> JourneyReader::Learned() {
  bool refresh = false;
  std::shared_ptr<const LearnedChurn> current;
  {
    absl::MutexLock lock(&learned_mu_);
    current = learned_;
    const absl::Time now = clock_();
    if (now - learned_at_ >= learned_refresh_ ||
        learned_at_ == absl::InfinitePast()) {
      learned_at_ = now;  // one caller refreshes; the others go on
      refresh = true;
    }
  }
  if (!refresh) return current;
  // The version alone first: the model is read only when it moved.
  absl::StatusOr<redis::Reply> v =
      redis_.Command({"HGET", keys_.ChurnModel(), "v"});
  int64_t version = 0;
  if (!v.ok() || (!v->is_nil() && !absl::SimpleAtoi(v->str(), &version)) ||
      version == current->version()) {
    return current;
  }
  if (absl::Status s = RefreshLearned(); !s.ok()) {
    OMNICX_LOG(kWarn) << "learned churn model: " << s;
  }
  absl::MutexLock lock(&learned_mu_);
  return learned_;
}

absl::Status JourneyReader::RefreshLearned() {
  OMNICX_ASSIGN_OR_RETURN(LearnedChurnModel m, ReadChurnModel(redis_, keys_));
  auto fresh = std::make_shared<const LearnedChurn>(std::move(m));
  absl::MutexLock lock(&learned_mu_);
  if (fresh->version() >= learned_->version()) learned_ = std::move(fresh);
  learned_at_ = clock_();
  return absl::OkStatus();
}

}  // namespace omnicx::journey
