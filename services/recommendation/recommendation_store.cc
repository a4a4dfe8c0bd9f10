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

namespace omnicx::recommendation {
namespace {

using omnicx::v1::Action;

constexpr absl::string_view kVersionField = "#version";

const redis::Script kUpsertScript(R"lua(
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return redis.call('HINCRBY', KEYS[1], '#version', 1)
)lua");

// ARGV: digest, then (id, serialised action) pairs.
const redis::Script kApplyCatalogScript(R"lua(
if redis.call('HGET', KEYS[1], '#seed') == ARGV[1] then
  return tonumber(redis.call('HGET', KEYS[1], '#version') or '0')
end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], '#seed', ARGV[1])
return redis.call('HINCRBY', KEYS[1], '#version', 1)
)lua");

// KEYS: shown, held, cool, decision, the customer's erasure tombstone
// (nothing is written for an erased customer: {'ERASED'}).
// ARGV: now, hold, decision ttl, max actions, global cap, decision id,
// segment, catalog version, retention, then (action, cap, window) triples
// in rank order (all in ms).
const redis::Script kReserveScript(R"lua(
if redis.call('EXISTS', KEYS[5]) == 1 then return {'ERASED'} end
local now = tonumber(ARGV[1])
local hold = tonumber(ARGV[2])
local maxn = tonumber(ARGV[4])
local gcap = tonumber(ARGV[5])
local day = 86400000
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%.0f', now - hold))
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf',
           '(' .. string.format('%.0f', now - tonumber(ARGV[9])))
local times = {}
local lastday = 0
for k = 1, 2 do
  local e = redis.call('ZRANGE', KEYS[k], 0, -1, 'WITHSCORES')
  for i = 1, #e, 2 do
    local a = string.match(e[i], '^[^|]+')
    local t = tonumber(e[i + 1])
    local l = times[a]
    if not l then l = {}; times[a] = l end
    l[#l + 1] = t
    if t > now - day then lastday = lastday + 1 end
  end
end
local cool = {}
local c = redis.call('HGETALL', KEYS[3])
for i = 1, #c, 2 do
  local u = tonumber(c[i + 1])
  if u > now then cool[c[i]] = u else redis.call('HDEL', KEYS[3], c[i]) end
end
local chosen, suppressed = {}, {}
for i = 10, #ARGV, 3 do
  if #chosen >= maxn then break end
  local a = ARGV[i]
  local cap = tonumber(ARGV[i + 1])
  local win = tonumber(ARGV[i + 2])
  local reason = false
  local u = cool[a]
  if u then
    reason = 'cooldown:' .. string.format('%.0f', u)
  else
    if cap > 0 then
      local n = 0
      for _, t in ipairs(times[a] or {}) do
        if t > now - win then n = n + 1 end
      end
      if n >= cap then reason = 'cap:' .. n end
    end
    if not reason and gcap > 0 and lastday >= gcap then
      reason = 'global_cap:' .. lastday
    end
  end
  if reason then
    suppressed[#suppressed + 1] = a
    suppressed[#suppressed + 1] = reason
  else
    chosen[#chosen + 1] = a
    lastday = lastday + 1
    redis.call('ZADD', KEYS[2], ARGV[1], a .. '|' .. ARGV[6])
    redis.call('HSET', KEYS[4], 'a:' .. a, ARGV[1])
  end
end
redis.call('HSET', KEYS[4], 'id', ARGV[6], 'seg', ARGV[7], 'v', ARGV[8],
           'at', ARGV[1])
redis.call('PEXPIRE', KEYS[4], ARGV[3])
if #chosen > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return {chosen, suppressed}
)lua");

// KEYS: decision, shown, held, cool (the last three of the customer whose
// contact state changes). ARGV: action, response, now, occurred at,
// cool-down, retention (ms).
const redis::Script kOutcomeScript(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_found'} end
local a = ARGV[1]
local reserved = redis.call('HGET', KEYS[1], 'a:' .. a)
if not reserved then return {'no_action'} end
local r = ARGV[2]
local seg = redis.call('HGET', KEYS[1], 'seg') or 'all'
if redis.call('HSETNX', KEYS[1], 'o:' .. a .. ':' .. r, ARGV[3]) == 0 then
  return {'duplicate', seg, 0, 0, 0}
end
local now = tonumber(ARGV[3])
local imp, s, f = 0, 0, 0
if redis.call('HSETNX', KEYS[1], 'p:' .. a, ARGV[3]) == 1 then
  imp = 1
  local m = a .. '|' .. redis.call('HGET', KEYS[1], 'id')
  redis.call('ZREM', KEYS[3], m)
  redis.call('ZADD', KEYS[2], reserved, m)
  local ret = tonumber(ARGV[6])
  if redis.call('PTTL', KEYS[2]) < ret then redis.call('PEXPIRE', KEYS[2], ARGV[6]) end
end
if r == 'ACCEPTED' or r == 'CONVERTED' then
  if redis.call('HSETNX', KEYS[1], 's:' .. a, 1) == 1 then s = 1 end
elseif r == 'REJECTED' or r == 'IGNORED' then
  if redis.call('HEXISTS', KEYS[1], 's:' .. a) == 0 and
     redis.call('HSETNX', KEYS[1], 'f:' .. a, 1) == 1 then
    f = 1
  end
end
local cd = tonumber(ARGV[5])
if r == 'REJECTED' and cd > 0 then
  local u = tonumber(ARGV[4]) + cd
  if u > now then
    local cur = tonumber(redis.call('HGET', KEYS[4], a) or '0')
    if u > cur then redis.call('HSET', KEYS[4], a, string.format('%.0f', u)) end
    if redis.call('PTTL', KEYS[4]) < u - now then
      redis.call('PEXPIRE', KEYS[4], string.format('%.0f', u - now))
    end
  end
end
return {'ok', seg, imp, s, f}
)lua");

// KEYS: survivor shown, held, cool, merged set; merged shown, held, cool;
// the survivor's merged_into redirect (the profile service's) and erasure
// tombstone. ARGV: merged id.
// Merge records can be handled out of order (replicas, retries): when the
// survivor was itself merged away since, {'MOVED', its survivor} (fold
// there); when it was erased, the merged customer's state goes too
// ({'ERASED'}). Else {'DONE'}, or {'SEEN'} when this merge was folded before.
const redis::Script kMergeScript(R"lua(
if redis.call('EXISTS', KEYS[9]) == 1 then
  redis.call('DEL', KEYS[5], KEYS[6], KEYS[7])
  return {'ERASED'}
end
local to = redis.call('GET', KEYS[8])
if to then return {'MOVED', to} end
if redis.call('SADD', KEYS[4], ARGV[1]) == 0 then return {'SEEN'} end
for k = 1, 3 do
  local from, to = KEYS[k + 4], KEYS[k]
  if k < 3 then
    local e = redis.call('ZRANGE', from, 0, -1, 'WITHSCORES')
    for i = 1, #e, 2 do redis.call('ZADD', to, e[i + 1], e[i]) end
  else
    local c = redis.call('HGETALL', from)
    for i = 1, #c, 2 do
      local cur = tonumber(redis.call('HGET', to, c[i]) or '0')
      if tonumber(c[i + 1]) > cur then redis.call('HSET', to, c[i], c[i + 1]) end
    end
  end
  local ttl = redis.call('PTTL', from)
  if ttl > 0 and redis.call('PTTL', to) < ttl then
    redis.call('PEXPIRE', to, ttl)
  end
  redis.call('DEL', from)
end
return {'DONE'}
)lua");

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
    by_id[a->action_id()] = a;
  }
  OMNICX_ASSIGN_OR_RETURN(
      redis::Reply r, redis_.Eval(kReserveScript,
                                  {keys_.NbaShown(cid), keys_.NbaHeld(cid),
                                   keys_.NbaCooldowns(cid),
                                   keys_.NbaDecision(cid, request.decision_id),
                                   keys_.ErasedCustomer(cid)},
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
  OMNICX_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_.Eval(
          kOutcomeScript,
          {keys_.NbaDecision(request.decision_customer_id, request.decision_id),
           keys_.NbaShown(cid), keys_.NbaHeld(cid), keys_.NbaCooldowns(cid)},
          {request.action_id, response, Ms(request.now),
           Ms(request.occurred_at), Ms(request.cooldown),
           Ms(request.retention)}));
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
  if (e.size() < 5) return absl::InternalError("outcome script: short reply");
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
  std::string survivor = survivor_id;
  for (int hop = 0; hop < 16; ++hop) {
    if (survivor == merged) return false;
    OMNICX_ASSIGN_OR_RETURN(
        redis::Reply r,
        redis_.Eval(kMergeScript,
                    {keys_.NbaShown(survivor), keys_.NbaHeld(survivor),
                     keys_.NbaCooldowns(survivor), keys_.NbaMerged(survivor),
                     keys_.NbaShown(merged), keys_.NbaHeld(merged),
                     keys_.NbaCooldowns(merged), keys_.MergedInto(survivor),
                     keys_.ErasedCustomer(survivor)},
                    {merged}));
    const auto& verdict = r.elements();
    if (verdict.empty()) break;
    if (verdict[0].str() == "MOVED" && verdict.size() > 1) {
      survivor = verdict[1].str();
      continue;
    }
    return verdict[0].str() == "DONE";
  }
  return absl::InternalError("merge redirects form a chain too long to follow");
}

}  // namespace omnicx::recommendation
