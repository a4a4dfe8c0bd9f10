-- Walks the ranked actions, applies consent, cool-downs and contact caps,
-- and reserves the chosen ones for a decision (RecommendationStore::Reserve).
-- Nothing is written for an erased customer. Consent is read here, from the
-- customer's stored consents (the profile service's hash, same slot), in the
-- step that reserves: whatever profile the caller handed in, an action whose
-- purpose is not granted now is never reserved.
--
-- Reads only what the walk needs: the per-action times (presentations and
-- holds within the longest capped window among the candidates) when a
-- capped candidate is examined, or at once when that window covers the
-- global cap's day (the day's count is then taken from them); otherwise the
-- global cap counts with ZCOUNT. Each redis.call costs about as much as the
-- command it runs, so the reservations are written with one ZADD and one
-- HSET at the end.
--
-- KEYS[1]   the customer's shown actions (sorted set "action|decision")
-- KEYS[2]   their held (reserved, not yet shown) actions
-- KEYS[3]   their cool-downs (hash action -> until ms)
-- KEYS[4]   their decision records (hash, RecommendationStore::Reserve):
--           "<decision>" -> "<at>|<segment>|<catalog version>",
--           "<decision>|a:<action>" -> reservation time, plus the outcome
--           fields record_outcome.lua adds
-- KEYS[5]   the customer's erasure tombstone
-- KEYS[6]   the customer's consents (hash, field "<purpose>:granted" = 1/0)
--
-- All times in ms.
-- ARGV[1]   now
-- ARGV[2]   hold
-- ARGV[3]   decision TTL
-- ARGV[4]   max actions
-- ARGV[5]   global daily cap (0 = none)
-- ARGV[6]   decision id
-- ARGV[7]   segment
-- ARGV[8]   catalog version
-- ARGV[9]   retention
-- ARGV[10..] (action id, cap, window, required consent purpose or '')
--           quadruples in rank order
--
-- Returns {'ERASED'} or {chosen action ids, {action, reason, ...}
-- suppressed}.
if redis.call('EXISTS', KEYS[5]) == 1 then return {'ERASED'} end
local now = tonumber(ARGV[1])
local hold = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local maxn = tonumber(ARGV[4])
local gcap = tonumber(ARGV[5])
local day = 86400000
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%.0f', now - hold))
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf',
           '(' .. string.format('%.0f', now - tonumber(ARGV[9])))
-- Per-action times in the longest capped window, read on first need.
local maxwin = 0
for i = 10, #ARGV, 4 do
  if tonumber(ARGV[i + 1]) > 0 then
    local w = tonumber(ARGV[i + 2])
    if w > maxwin then maxwin = w end
  end
end
local times = nil
local function load_times()
  times = {}
  local from = '(' .. string.format('%.0f', now - maxwin)
  for k = 1, 2 do
    local e = redis.call('ZRANGEBYSCORE', KEYS[k], from, '+inf', 'WITHSCORES')
    for j = 1, #e, 2 do
      local a = string.match(e[j], '^[^|]+')
      local l = times[a]
      if not l then l = {}; times[a] = l end
      l[#l + 1] = tonumber(e[j + 1])
    end
  end
end
-- Presentations and holds within the last day (both sets).
local lastday = 0
if gcap > 0 then
  if maxwin >= day then
    load_times()
    for _, l in pairs(times) do
      for _, t in ipairs(l) do
        if t > now - day then lastday = lastday + 1 end
      end
    end
  else
    local from = '(' .. string.format('%.0f', now - day)
    lastday = redis.call('ZCOUNT', KEYS[1], from, '+inf') +
              redis.call('ZCOUNT', KEYS[2], from, '+inf')
  end
end
local cool = {}
local c = redis.call('HGETALL', KEYS[3])
for i = 1, #c, 2 do
  local u = tonumber(c[i + 1])
  if u > now then cool[c[i]] = u else redis.call('HDEL', KEYS[3], c[i]) end
end
local granted = {}
local chosen, suppressed = {}, {}
local held, records = {}, {}  -- ZADD and HSET arguments, written at the end
local id = ARGV[6]
for i = 10, #ARGV, 4 do
  if #chosen >= maxn then break end
  local a = ARGV[i]
  local cap = tonumber(ARGV[i + 1])
  local win = tonumber(ARGV[i + 2])
  local purpose = ARGV[i + 3]
  local reason = false
  local u = cool[a]
  if purpose ~= '' then
    local g = granted[purpose]
    if g == nil then
      g = redis.call('HGET', KEYS[6], purpose .. ':granted') == '1'
      granted[purpose] = g
    end
    if not g then reason = 'consent:' .. purpose .. ' missing' end
  end
  if not reason and u then
    reason = 'cooldown:' .. string.format('%.0f', u)
  elseif not reason then
    if cap > 0 then
      if not times then load_times() end
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
    if times then
      local l = times[a]
      if not l then l = {}; times[a] = l end
      l[#l + 1] = now
    end
    held[#held + 1] = ARGV[1]
    held[#held + 1] = a .. '|' .. id
    records[#records + 1] = id .. '|a:' .. a
    records[#records + 1] = ARGV[1]
  end
end
if #held > 0 then redis.call('ZADD', KEYS[2], unpack(held)) end
records[#records + 1] = id
records[#records + 1] = ARGV[1] .. '|' .. ARGV[7] .. '|' .. ARGV[8]
redis.call('HSET', KEYS[4], unpack(records))
-- The records live while the customer gets decisions; records older than
-- the TTL are dropped once the hash grows past 256 fields.
if redis.call('HLEN', KEYS[4]) > 256 then
  local all = redis.call('HGETALL', KEYS[4])
  local old = {}
  for j = 1, #all, 2 do
    if not string.find(all[j], '|', 1, true) then
      local at = tonumber(string.match(all[j + 1], '^%d+'))
      if at and at + ttl <= now then old[all[j]] = true end
    end
  end
  for j = 1, #all, 2 do
    if old[string.match(all[j], '^[^|]+')] then
      redis.call('HDEL', KEYS[4], all[j])
    end
  end
end
redis.call('PEXPIRE', KEYS[4], ARGV[3])
if #chosen > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return {chosen, suppressed}
