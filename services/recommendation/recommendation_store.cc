#include "services/recommendation/recommendation_store.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/keys/digest.h"
#include "libs/logging/log.h"
#include "libs/redis/script.h"
#include "libs/status/status_macros.h"
#include "services/recommendation/catalog.h"
#include "services/recommendation/lua/apply_catalog_lua.h"
#include "services/recommendation/lua/apply_outcome_lua.h"
#include "services/recommendation/lua/merge_contact_state_lua.h"
#include "services/recommendation/lua/read_contact_state_lua.h"
#include "services/recommendation/lua/record_outcome_lua.h"
#include "services/recommendation/lua/reserve_actions_lua.h"
#include "services/recommendation/lua/upsert_action_lua.h"

namespace omnicx::recommendation {
namespace {

using omnicx::v1::Action;

constexpr absl::string_view kVersionField = "#version";

// The scripts, one per file in lua/ with their KEYS and ARGV named at the
// top.
const redis::Script kUpsertScript(lua::kUpsertActionLua);
const redis::Script kApplyCatalogScript(lua::kApplyCatalogLua);
const redis::Script kReserveScript(lua::kReserveActionsLua);
const redis::Script kOutcomeScript(lua::kRecordOutcomeLua);
const redis::Script kApplyOutcomeScript(lua::kApplyOutcomeLua);
const redis::Script kReadContactScript(lua::kReadContactStateLua);
const redis::Script kMergeScript(lua::kMergeContactStateLua);

std::string Ms(absl::Time t) { return absl::StrCat(absl::ToUnixMillis(t)); }
std::string Ms(absl::Duration d) {
  return absl::StrCat(absl::ToInt64Milliseconds(d));
}

// "7d", "36h", "90m", "45s".
std::string ShortDuration(int64_t seconds) {
  if (seconds % 86400 == 0) return absl::StrCat(seconds / 86400, "d");
  if (seconds % 3600 == 0) return absl::StrCat(seconds / 3600, "h");
  if (seconds % 60 == 0) return absl::StrCat(seconds / 60, "m");
  return absl::StrCat(seconds, "s");
}

std::string ExplainReservationRefusal(const Action& action,
                                      absl::string_view raw, int global_cap) {
  if (absl::StartsWith(raw, "cooldown:")) {
    int64_t until_ms = 0;
    (void)absl::SimpleAtoi(raw.substr(9), &until_ms);
    return absl::StrCat(
        "cooldown:rejected, not before ",
        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(until_ms),
                         absl::UTCTimeZone()));
  }
  if (absl::StartsWith(raw, "cap:")) {
    return absl::StrCat("cap:", action.policy().max_per_window(), " per ",
                        ShortDuration(EffectiveWindowSeconds(action)),
                        " reached");
  }
  if (absl::StartsWith(raw, "global_cap:")) {
    return absl::StrCat("global_cap:", global_cap, " per day reached");
  }
  return std::string(raw);
}

bool Flag(const redis::Reply& r) { return r.integer() != 0; }

}  // namespace

std::string ResponseName(omnicx::v1::ActionResponse response) {
  const std::string& name = omnicx::v1::ActionResponse_Name(response);
  constexpr absl::string_view kPrefix = "ACTION_RESPONSE_";
  return name.size() > kPrefix.size() ? name.substr(kPrefix.size()) : name;
}

RecommendationStore::RecommendationStore(redis::Client& redis,
                                         const keys::KeyBuilder& keys,
                                         StoreOptions options)
    : redis_(redis), keys_(keys), options_(options) {}

absl::StatusOr<int64_t> RecommendationStore::ApplyCatalog(
    const ActionCatalog& catalog) {
  std::vector<std::string> args;
  args.push_back(keys::Sha256Hex(catalog.SerializeAsString()));
  for (const Action& a : catalog.actions()) {
    args.push_back(a.action_id());
    args.push_back(a.SerializeAsString());
  }
  OMNICX_ASSIGN_OR_RETURN(redis::Reply r, redis_.Eval(kApplyCatalogScript,
                                                      {keys_.Catalog()}, args));
  return r.AsInteger();
}

absl::StatusOr<int64_t> RecommendationStore::UpsertAction(
    const Action& action) {
  OMNICX_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_.Eval(kUpsertScript, {keys_.Catalog()},
                  {action.action_id(), action.SerializeAsString()}));
  return r.AsInteger();
}

absl::StatusOr<int64_t> RecommendationStore::CatalogVersion() {
  OMNICX_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_.Command({"HGET", keys_.Catalog(), std::string(kVersionField)}));
  if (r.is_nil()) return 0;
  return r.AsInteger();
}

absl::StatusOr<CatalogSnapshot> RecommendationStore::LoadCatalog() {
  OMNICX_ASSIGN_OR_RETURN(redis::Reply r,
                          redis_.Command({"HGETALL", keys_.Catalog()}));
  CatalogSnapshot snapshot;
  int64_t longest = 86400;
  const auto& e = r.elements();
  for (size_t i = 0; i + 1 < e.size(); i += 2) {
    const std::string& field = e[i].str();
    if (field == kVersionField) {
      (void)absl::SimpleAtoi(e[i + 1].str(), &snapshot.version);
      continue;
    }
    if (absl::StartsWith(field, "#")) continue;
    Action a;
    if (!a.ParseFromString(e[i + 1].str()) ||
        !ValidateAction(a, "action").empty()) {
      // Only validated actions are written; skip rather than serve junk.
      OMNICX_LOG(kError) << "catalog entry " << field
                         << " is not a valid action; skipped";
      continue;
    }
    longest = std::max(longest, EffectiveWindowSeconds(a));
    snapshot.actions.push_back(std::move(a));
  }
  std::sort(snapshot.actions.begin(), snapshot.actions.end(),
            [](const Action& a, const Action& b) {
              return a.action_id() < b.action_id();
            });
  snapshot.retention = absl::Seconds(longest);
  return snapshot;
}

absl::StatusOr<Reservation> RecommendationStore::Reserve(
    const ReserveRequest& request) {
  const std::string& cid = request.customer_id;
  std::vector<std::string> args = {Ms(request.now),
                                   Ms(options_.hold_ttl),
                                   Ms(options_.decision_ttl),
                                   absl::StrCat(request.max_actions),
                                   absl::StrCat(options_.global_daily_cap),
                                   request.decision_id,
                                   request.segment,
                                   absl::StrCat(request.catalog_version),
                                   Ms(request.retention)};
  absl::flat_hash_map<std::string, const Action*> by_id;
  for (const Action* a : request.ranked) {
    args.push_back(a->action_id());
    args.push_back(absl::StrCat(a->policy().max_per_window()));
    args.push_back(absl::StrCat(EffectiveWindowSeconds(*a) * 1000));
    args.push_back(a->required_consent());
    by_id[a->action_id()] = a;
  }
  OMNICX_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_.Eval(kReserveScript,
                  {keys_.NbaShown(cid), keys_.NbaHeld(cid),
                   keys_.NbaCooldowns(cid), keys_.NbaDecisions(cid),
                   keys_.ErasedCustomer(cid), keys_.Consents(cid)},
                  args));
  if (r.elements().size() == 1 && r.elements()[0].str() == "ERASED") {
    return absl::NotFoundError("the customer was erased");
  }
  if (r.elements().size() != 2) {
    return absl::InternalError("reserve script: unexpected reply");
  }
  Reservation out;
  for (const redis::Reply& id : r.elements()[0].elements()) {
    out.chosen.push_back(id.str());
  }
  const auto& s = r.elements()[1].elements();
  for (size_t i = 0; i + 1 < s.size(); i += 2) {
    auto it = by_id.find(s[i].str());
    if (it == by_id.end()) continue;
    out.suppressed.push_back(
        {s[i].str(), ExplainReservationRefusal(*it->second, s[i + 1].str(),
                                               options_.global_daily_cap)});
  }
  return out;
}

absl::StatusOr<OutcomeResult> RecommendationStore::RecordOutcome(
    const OutcomeRequest& request) {
  const std::string& cid = request.customer_id;
  const std::string response = ResponseName(request.response);
  // Decision ids this service makes never hold '|', the separator of the
  // record's fields; one that does names no decision.
  if (absl::StrContains(request.decision_id, '|')) {
    return absl::NotFoundError(
        absl::StrCat("decision ", request.decision_id,
                     " is unknown or expired for this customer"));
  }
  // A decision made under another id (before a merge) is in that
  // customer's slot: the decision's half first, then the contact state's
  // (apply_outcome.lua), each in one slot.
  const bool split = request.decision_customer_id != cid;
  std::vector<std::string> outcome_keys = {
      keys_.NbaDecisions(request.decision_customer_id)};
  if (!split) {
    outcome_keys.insert(
        outcome_keys.end(),
        {keys_.NbaShown(cid), keys_.NbaHeld(cid), keys_.NbaCooldowns(cid)});
  }
  OMNICX_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_.Eval(
          kOutcomeScript, outcome_keys,
          {request.action_id, response, Ms(request.now),
           Ms(request.occurred_at), Ms(request.cooldown), Ms(request.retention),
           request.decision_id, Ms(options_.decision_ttl)}));
  const auto& e = r.elements();
  if (e.empty()) return absl::InternalError("outcome script: empty reply");
  const std::string& verdict = e[0].str();
  if (verdict == "not_found") {
    return absl::NotFoundError(
        absl::StrCat("decision ", request.decision_id,
                     " is unknown or expired for this customer"));
  }
  if (verdict == "no_action") {
    return absl::NotFoundError(absl::StrCat("decision ", request.decision_id,
                                            " did not recommend action ",
                                            request.action_id));
  }
  if (e.size() < (split ? 6u : 5u)) {
    return absl::InternalError("outcome script: short reply");
  }
  if (split) {
    // Again for a duplicate too: idempotent, and it finishes an outcome
    // whose first half was recorded before a crash.
    if (options_.step_hook) OMNICX_RETURN_IF_ERROR(options_.step_hook(1));
    OMNICX_RETURN_IF_ERROR(
        redis_
            .Eval(kApplyOutcomeScript,
                  {keys_.NbaShown(cid), keys_.NbaHeld(cid),
                   keys_.NbaCooldowns(cid)},
                  {request.action_id, request.decision_id, e[5].str(), response,
                   Ms(request.now), Ms(request.occurred_at),
                   Ms(request.cooldown), Ms(request.retention)})
            .status());
  }
  OutcomeResult out;
  out.segment = e[1].str();
  if (verdict == "duplicate") return out;
  out.recorded = true;
  out.impression = Flag(e[2]);
  out.success = Flag(e[3]);
  out.failure = Flag(e[4]);

  // Learning statistics live in one suite-wide hash (another slot): updated
  // after the per-customer script. A crash in between loses one update of
  // the statistics, never double counts it.
  std::vector<std::string> counters;
  switch (request.response) {
    case omnicx::v1::ACTION_RESPONSE_ACCEPTED:
      counters.push_back("acc");
      break;
    case omnicx::v1::ACTION_RESPONSE_REJECTED:
      counters.push_back("rej");
      break;
    case omnicx::v1::ACTION_RESPONSE_IGNORED:
      counters.push_back("ign");
      break;
    case omnicx::v1::ACTION_RESPONSE_CONVERTED:
      counters.push_back("conv");
      break;
    default:
      break;
  }
  if (out.impression) counters.push_back("imp");
  if (out.success) counters.push_back("s");
  if (out.failure) counters.push_back("f");
  std::vector<std::string> segments = {std::string(kAllSegments)};
  if (out.segment != kAllSegments) segments.push_back(out.segment);
  std::vector<redis::Command> commands;
  for (const std::string& segment : segments) {
    for (const std::string& counter : counters) {
      commands.push_back(
          {"HINCRBY", keys_.NbaStats(),
           absl::StrCat(request.action_id, "|", segment, "|", counter), "1"});
    }
  }
  if (!commands.empty()) {
    OMNICX_ASSIGN_OR_RETURN(redis::PipelineReplies replies,
                            redis_.Pipeline(commands));
    for (const auto& reply : replies) {
      if (!reply.ok()) {
        OMNICX_LOG(kWarn) << "learning statistics not updated: "
                          << reply.status();
      }
    }
  }
  return out;
}

absl::StatusOr<StatsTable> RecommendationStore::LoadStats() {
  OMNICX_ASSIGN_OR_RETURN(redis::Reply r,
                          redis_.Command({"HGETALL", keys_.NbaStats()}));
  StatsTable table;
  const auto& e = r.elements();
  for (size_t i = 0; i + 1 < e.size(); i += 2) {
    const std::string& field = e[i].str();
    const size_t first = field.find('|');
    const size_t last = field.rfind('|');
    if (first == std::string::npos || first == last) continue;
    int64_t value = 0;
    if (!absl::SimpleAtoi(e[i + 1].str(), &value)) continue;
    table.SetCounter(field.substr(0, first),
                     field.substr(first + 1, last - first - 1),
                     field.substr(last + 1), value);
  }
  return table;
}

absl::StatusOr<bool> RecommendationStore::MergeCustomers(
    const std::string& survivor_id, const std::string& merged) {
  if (survivor_id == merged) return false;
  // Step 1, in M's slot: M's contact state and the ids folded into M.
  const std::vector<std::string> merged_keys = {
      keys_.NbaShown(merged), keys_.NbaHeld(merged), keys_.NbaCooldowns(merged),
      keys_.NbaMerged(merged)};
  OMNICX_ASSIGN_OR_RETURN(redis::Reply read,
                          redis_.Eval(kReadContactScript, merged_keys, {}));
  const auto& parts = read.elements();
  if (parts.size() < 7) {
    return absl::InternalError("contact state read: short reply");
  }
  std::vector<std::string> args = {merged, absl::StrCat(parts[3].integer()),
                                   absl::StrCat(parts[4].integer()),
                                   absl::StrCat(parts[5].integer())};
  for (int k = 0; k < 3; ++k) {
    args.push_back(absl::StrCat(parts[k].elements().size() / 2));
  }
  for (int k = 0; k < 3; ++k) {
    for (const redis::Reply& x : parts[k].elements()) args.push_back(x.str());
  }
  for (const redis::Reply& x : parts[6].elements()) args.push_back(x.str());
  if (options_.step_hook) OMNICX_RETURN_IF_ERROR(options_.step_hook(1));

  // Step 2, in S's slot (following S's redirects): fold it in, once.
  std::string survivor = survivor_id;
  std::string verdict;
  for (int hop = 0; hop < 16 && verdict.empty(); ++hop) {
    if (survivor == merged) {
      verdict = "SEEN";  // a redirect back to M: nothing to fold
      break;
    }
    OMNICX_ASSIGN_OR_RETURN(
        redis::Reply r,
        redis_.Eval(
            kMergeScript,
            {keys_.NbaShown(survivor), keys_.NbaHeld(survivor),
             keys_.NbaCooldowns(survivor), keys_.NbaMerged(survivor),
             keys_.MergedInto(survivor), keys_.ErasedCustomer(survivor)},
            args));
    const auto& v = r.elements();
    if (v.empty()) return absl::InternalError("merge script: empty reply");
    if (v[0].str() == "MOVED" && v.size() > 1) {
      survivor = v[1].str();
      continue;
    }
    verdict = v[0].str();
  }
  if (verdict.empty()) {
    return absl::InternalError(
        "merge redirects form a chain too long to follow");
  }
  if (options_.step_hook) OMNICX_RETURN_IF_ERROR(options_.step_hook(2));

  // Step 3, in M's slot: M's contact state is in S's now (or S was erased).
  OMNICX_RETURN_IF_ERROR(redis_
                             .Command({"DEL", merged_keys[0], merged_keys[1],
                                       merged_keys[2], merged_keys[3]})
                             .status());
  return verdict == "DONE";
}

}  // namespace omnicx::recommendation
