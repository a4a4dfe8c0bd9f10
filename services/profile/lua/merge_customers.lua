-- Merges customer M into survivor S (ProfileService::Merge via
-- ProfileStore::Merge).
--
-- KEYS[1]   S profile           KEYS[11]  M profile
-- KEYS[2]   S identities        KEYS[12]  M identities
-- KEYS[3]   S timeline          KEYS[13]  M timeline
-- KEYS[4]   S traits            KEYS[14]  M traits
-- KEYS[5]   S consents          KEYS[15]  M consents
-- KEYS[6]   S consent history   KEYS[16]  M consent history
-- KEYS[7]   S cached context    KEYS[17]  M cached context
-- KEYS[8]   S merged ids        KEYS[18]  M merged ids
-- KEYS[9]   S link records      KEYS[19]  M link records
-- KEYS[10]  S merged_into       KEYS[20]  M merged_into
-- KEYS[21]  merge log (stream)
-- KEYS[22]  S claims            KEYS[23]  M claims
-- KEYS[24]  S erasure tombstone KEYS[25]  M erasure tombstone
-- KEYS[26..] the identity index (owner) keys of M's identities
--
-- ARGV[1]   S id
-- ARGV[2]   M id
-- ARGV[3]   now (ms)
-- ARGV[4]   timeline cap
-- ARGV[5]   source (provenance)
-- ARGV[6]   how many identities S had when the caller read them
-- ARGV[7]   how many identities M had when the caller read them
-- ARGV[8]   claims cap
-- ARGV[9]   S's profile version when the caller read it ("0" = none)
-- ARGV[10]  M's profile version when the caller read it
-- ARGV[11]  S's new counters: both customers' ProfileStates merged in C++
--           (with both sets of applied event ids)
--
-- Returns {'OK'}, {'MOVED', side, target} when S or M was merged away
-- meanwhile, {'GONE'} when S or M no longer exists or is being erased, or
-- {'RETRY'} when an identity was linked to S or M since the caller read
-- their sets (the owner keys passed would miss it, and the guard's count is
-- stale), or either profile was written since (the counters passed would
-- miss it). Identity sets only grow until an erasure, so equal sizes mean
-- equal sets. S's version `v` is bumped (M's is not carried over: M's
-- profile goes, and M's id redirects to S).
local S, M, now = ARGV[1], ARGV[2], ARGV[3]
local to_s = redis.call('GET', KEYS[10])
if to_s then return {'MOVED', 'survivor', to_s} end
local to_m = redis.call('GET', KEYS[20])
if to_m then return {'MOVED', 'merged', to_m} end
if redis.call('EXISTS', KEYS[11]) == 0 or redis.call('EXISTS', KEYS[1]) == 0 or
   redis.call('EXISTS', KEYS[24]) == 1 or redis.call('EXISTS', KEYS[25]) == 1 then
  return {'GONE'}
end
if redis.call('SCARD', KEYS[2]) ~= tonumber(ARGV[6]) or
   redis.call('SCARD', KEYS[12]) ~= tonumber(ARGV[7]) then
  return {'RETRY'}
end
if (redis.call('HGET', KEYS[1], 'v') or '0') ~= ARGV[9] or
   (redis.call('HGET', KEYS[11], 'v') or '0') ~= ARGV[10] then
  return {'RETRY'}
end
-- Counters: merged by the caller. The earlier creation time survives.
redis.call('HSET', KEYS[1], 's', ARGV[11])
local created = tonumber(redis.call('HGET', KEYS[11], 'created_ms'))
local mine = tonumber(redis.call('HGET', KEYS[1], 'created_ms'))
if created and (not mine or created < mine) then
  redis.call('HSET', KEYS[1], 'created_ms', created)
end
redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[12])
-- Timelines interleave by time (scores); keep the newest `cap`.
redis.call('ZUNIONSTORE', KEYS[3], 2, KEYS[3], KEYS[13])
local size = redis.call('ZCARD', KEYS[3])
local cap = tonumber(ARGV[4])
if size > cap then redis.call('ZREMRANGEBYRANK', KEYS[3], 0, size - cap - 1) end
-- Unverified claims stay claims (the newest `claims cap`), never links.
if redis.call('EXISTS', KEYS[23]) == 1 then
  redis.call('ZUNIONSTORE', KEYS[22], 2, KEYS[22], KEYS[23], 'AGGREGATE', 'MAX')
  local n = redis.call('ZCARD', KEYS[22])
  local keep = tonumber(ARGV[8])
  if n > keep then redis.call('ZREMRANGEBYRANK', KEYS[22], 0, n - keep - 1) end
end
-- Traits: the newest value of each trait wins.
local mt = redis.call('HGETALL', KEYS[14])
for i = 1, #mt, 2 do
  local name = mt[i]
  if not string.find(name, ':') then
    local mms = tonumber(redis.call('HGET', KEYS[14], name .. ':ms')) or 0
    local sms = tonumber(redis.call('HGET', KEYS[4], name .. ':ms'))
    if not sms or mms > sms then
      redis.call('HSET', KEYS[4], name, mt[i + 1], name .. ':ms', mms)
    end
  end
end
-- Consents: a withdrawal on either side wins; else the newest decision.
local mc = redis.call('HGETALL', KEYS[15])
for i = 1, #mc, 2 do
  local p = mc[i]
  if not string.find(p, ':') then
    local sg = redis.call('HGET', KEYS[5], p .. ':granted')
    local mg = redis.call('HGET', KEYS[15], p .. ':granted')
    local mms = tonumber(redis.call('HGET', KEYS[15], p .. ':ms')) or 0
    local sms = tonumber(redis.call('HGET', KEYS[5], p .. ':ms'))
    local take
    if not sg then take = true
    elseif sg == '0' then take = false
    elseif mg == '0' then take = true
    else take = mms > (sms or 0) end
    if take then
      redis.call('HSET', KEYS[5], p, mc[i + 1], p .. ':ms', mms, p .. ':granted', mg)
    end
  end
end
for _, c in ipairs(redis.call('LRANGE', KEYS[16], 0, -1)) do
  redis.call('RPUSH', KEYS[6], c)
end
redis.call('SADD', KEYS[8], M)
redis.call('SUNIONSTORE', KEYS[8], KEYS[8], KEYS[18])
-- Provenance: the merge, then M's own link records (enough to unmerge).
redis.call('RPUSH', KEYS[9], 'merge\31' .. M .. '\31' .. ARGV[5] .. '\31' .. now)
for _, l in ipairs(redis.call('LRANGE', KEYS[19], 0, -1)) do
  redis.call('RPUSH', KEYS[9], l)
end
for i = 26, #KEYS do
  if redis.call('GET', KEYS[i]) == M then redis.call('SET', KEYS[i], S) end
end
redis.call('DEL', KEYS[7], KEYS[11], KEYS[12], KEYS[13], KEYS[14], KEYS[15],
           KEYS[16], KEYS[17], KEYS[18], KEYS[19], KEYS[23])
redis.call('SET', KEYS[20], S)
redis.call('XADD', KEYS[21], '*', 'survivor', S, 'merged', M, 'at', now)
return {'OK'}
