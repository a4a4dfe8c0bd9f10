#include "services/journey/churn_learner.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "services/journey/lua/learn_churn_lua.h"

namespace omnicx::journey {
namespace {

// The entry id just after `id` ("<ms>-<seq>"), for XTRIM MINID.
std::string NextId(const std::string& id) {
  const size_t dash = id.find('-');
  uint64_t ms = 0, seq = 0;
  if (dash == std::string::npos || !absl::SimpleAtoi(id.substr(0, dash), &ms) ||
      !absl::SimpleAtoi(id.substr(dash + 1), &seq)) {
    return id;
  }
  return absl::StrCat(ms, "-", seq + 1);
}

}  // namespace

ChurnLearner::ChurnLearner(redis::Client& redis, const keys::KeyBuilder& keys,
                           const CompiledModel& model,
                           ChurnLearnerOptions options)
    : redis_(redis),
      keys_(keys),
      model_(model),
      options_(std::move(options)),
      script_(lua::kLearnChurnLua) {}

ChurnLearner::~ChurnLearner() { Stop(); }

void ChurnLearner::Start() {
  thread_ = std::thread([this] {
    while (!stop_.WaitForNotificationWithTimeout(options_.interval)) {
      absl::StatusOr<int64_t> n = LearnOnce();
      if (!n.ok()) OMNICX_LOG(kWarn) << "churn learner: " << n.status();
    }
  });
}

void ChurnLearner::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<int64_t> ChurnLearner::LearnOnce() {
  // The model and checkpoints first, then the examples after them: a store
  // by another replica in between moves the version, so ours is refused.
  OMNICX_ASSIGN_OR_RETURN(redis::Reply hash,
                          redis_.Command({"HGETALL", keys_.ChurnModel()}));
  std::string version = "0";
  LearnedChurnModel model;
  std::vector<std::string> checkpoint(keys::kPartitions);
  const auto& e = hash.elements();
  for (size_t i = 0; i + 1 < e.size(); i += 2) {
    const std::string& field = e[i].str();
    if (field == "v") {
      version = e[i + 1].str();
    } else if (field == "m") {
      if (!model.ParseFromString(e[i + 1].str())) {
        return absl::DataLossError("the learned churn model is corrupt");
      }
    } else if (field.rfind("c:", 0) == 0) {
      int p = 0;
      if (absl::SimpleAtoi(field.substr(2), &p) && p >= 0 &&
          p < keys::kPartitions) {
        checkpoint[p] = e[i + 1].str();
      }
    }
  }
  std::vector<redis::Command> reads;
  reads.reserve(keys::kPartitions);
  for (int p = 0; p < keys::kPartitions; ++p) {
    reads.push_back({"XRANGE", keys_.ChurnExamples(p),
                     checkpoint[p].empty() ? "-" : "(" + checkpoint[p], "+",
                     "COUNT", absl::StrCat(options_.max_entries)});
  }
  OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies r, redis_.Pipeline(reads));
  int64_t learned = 0;
  std::vector<std::string> args = {version, ""};
  std::vector<std::pair<int, std::string>> last;
  for (int p = 0; p < keys::kPartitions; ++p) {
    OMNICX_RETURN_IF_ERROR(r[p].status());
    if (r[p]->elements().empty()) continue;
    for (const redis::Reply& entry : r[p]->elements()) {
      if (entry.elements().size() < 2) continue;
      const auto& fields = entry.elements()[1].elements();
      for (size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].str() != "x") continue;
        ChurnExample example;
        // A corrupt record is skipped (and logged), never blocks learning.
        if (!example.ParseFromString(fields[i + 1].str())) {
          OMNICX_LOG(kWarn) << "churn examples " << p << " entry "
                            << entry.elements()[0].str() << " is corrupt";
          continue;
        }
        Learn(model_, example, &model);
        ++learned;
      }
    }
    last.emplace_back(p, r[p]->elements().back().elements()[0].str());
  }
  if (last.empty()) return 0;
  int64_t v = 0;
  absl::SimpleAtoi(version, &v);
  model.set_version(v + 1);
  args[1] = model.SerializeAsString();
  for (const auto& [p, id] : last) {
    args.push_back(absl::StrCat("c:", p));
    args.push_back(id);
  }
  redis::ReplicaWaitScope wait(options_.replica_wait);
  OMNICX_ASSIGN_OR_RETURN(redis::Reply out,
                          redis_.Eval(script_, {keys_.ChurnModel()}, args));
  // Not replicated: the examples stay (after the checkpoint; a model lost
  // in a failover is learned again from them).
  OMNICX_RETURN_IF_ERROR(wait.status());
  if (out.elements().empty() || out.elements()[0].str() != "OK") return 0;
  // Best effort: entries a failed trim leaves are before the checkpoint,
  // never learned again, and trimmed by the partition's next pass.
  std::vector<redis::Command> trims;
  for (const auto& [p, id] : last) {
    trims.push_back({"XTRIM", keys_.ChurnExamples(p), "MINID", NextId(id)});
  }
  absl::StatusOr<redis::PipelineReplies> trimmed = redis_.Pipeline(trims);
  if (!trimmed.ok()) OMNICX_LOG(kWarn) << "examples trim: " << trimmed.status();
  return learned;
}

}  // namespace omnicx::journey
