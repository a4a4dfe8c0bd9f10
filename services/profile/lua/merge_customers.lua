-- Merges customer M into survivor S (ProfileStore::Merge).
--
-- KEYS[1]   S profile           KEYS[12]  M profile
-- KEYS[2]   S identities        KEYS[13]  M identities
-- KEYS[3]   S timeline          KEYS[14]  M timeline
-- KEYS[4]   S traits            KEYS[15]  M traits
-- KEYS[5]   S consents          KEYS[16]  M consents
-- KEYS[6]   S consent history   KEYS[17]  M consent history
-- KEYS[7]   S applied ids       KEYS[18]  M applied ids
-- KEYS[8]   S cached context    KEYS[19]  M cached context
-- KEYS[9]   S merged ids        KEYS[20]  M merged ids
-- KEYS[10]  S link records      KEYS[21]  M link records
-- KEYS[11]  S merged_into       KEYS[22]  M merged_into
-- KEYS[23]  merge log (stream)
-- KEYS[24]  S claims            KEYS[25]  M claims
-- KEYS[26]  S erasure tombstone KEYS[27]  M erasure tombstone
-- KEYS[28..] the identity index (owner) keys of M's identities
--
-- ARGV[1]   S id
-- ARGV[2]   M id
-- ARGV[3]   now (ms)
-- ARGV[4]   timeline cap
-- ARGV[5]   source (provenance)
-- ARGV[6]   how many identities S had when the caller read them
-- ARGV[7]   how many identities M had when the caller read them
-- ARGV[8]   claims cap
--
-- Returns {'OK'}, {'MOVED', side, target} when S or M was merged away
-- meanwhile, {'GONE'} when S or M no longer exists or is being erased, or
-- {'RETRY'} when an identity was linked to S or M since the caller read
-- their sets (the owner keys passed would miss it, and the guard's count is
-- stale). Identity sets only grow until an erasure, so equal sizes mean
-- equal sets. S's context version `v` is bumped (M's `v` is not carried
-- over: M's profile goes, and M's id redirects to S).
local S, M, now = ARGV[1], ARGV[2], ARGV[3]
local to_s = redis.call('GET', KEYS[11])
if to_s then return {'MOVED', 'survivor', to_s} end
local to_m = redis.call('GET', KEYS[22])
if to_m then return {'MOVED', 'merged', to_m} end
if redis.call('EXISTS', KEYS[12]) == 0 or redis.call('EXISTS', KEYS[1]) == 0 or
   redis.call('EXISTS', KEYS[26]) == 1 or redis.call('EXISTS', KEYS[27]) == 1 then
  return {'GONE'}
end
if redis.call('SCARD', KEYS[2]) ~= tonumber(ARGV[6]) or
   redis.call('SCARD', KEYS[13]) ~= tonumber(ARGV[7]) then
  return {'RETRY'}
end
-- Counters add up; first/created take the minimum, last the maximum.
local mp = redis.call('HGETALL', KEYS[12])
for i = 1, #mp, 2 do
  local f, v = mp[i], mp[i + 1]
  if f == 'ltv' then
    redis.call('HINCRBYFLOAT', KEYS[1], f, v)
  elseif f == 'event_count' or string.sub(f, 1, 3) == 'ch:' then
    redis.call('HINCRBY', KEYS[1], f, v)
  elseif f == 'first_seen_ms' or f == 'created_ms' then
    local cur = tonumber(redis.call('HGET', KEYS[1], f))
    if not cur or tonumber(v) < cur then redis.call('HSET', KEYS[1], f, v) end
  elseif f == 'last_seen_ms' then
    local cur = tonumber(redis.call('HGET', KEYS[1], f))
    if not cur or tonumber(v) > cur then redis.call('HSET', KEYS[1], f, v) end
  end
end
redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[13])
-- Timelines interleave by time (scores); keep the newest `cap`.
redis.call('ZUNIONSTORE', KEYS[3], 2, KEYS[3], KEYS[14])
local size = redis.call('ZCARD', KEYS[3])
local cap = tonumber(ARGV[4])
if size > cap then redis.call('ZREMRANGEBYRANK', KEYS[3], 0, size - cap - 1) end
-- Applied ids too, so a redelivered event of M is not counted again.
redis.call('ZUNIONSTORE', KEYS[7], 2, KEYS[7], KEYS[18], 'AGGREGATE', 'MAX')
-- Unverified claims stay claims (the newest `claims cap`), never links.
if redis.call('EXISTS', KEYS[25]) == 1 then
  redis.call('ZUNIONSTORE', KEYS[24], 2, KEYS[24], KEYS[25], 'AGGREGATE', 'MAX')
  local n = redis.call('ZCARD', KEYS[24])
  local keep = tonumber(ARGV[8])
  if n > keep then redis.call('ZREMRANGEBYRANK', KEYS[24], 0, n - keep - 1) end
end
-- Traits: the newest value of each trait wins.
local mt = redis.call('HGETALL', KEYS[15])
for i = 1, #mt, 2 do
  local name = mt[i]
  if not string.find(name, ':') then
    local mms = tonumber(redis.call('HGET', KEYS[15], name .. ':ms')) or 0
    local sms = tonumber(redis.call('HGET', KEYS[4], name .. ':ms'))
    if not sms or mms > sms then
      redis.call('HSET', KEYS[4], name, mt[i + 1], name .. ':ms', mms)
    end
  end
end
-- Consents: a withdrawal on either side wins; else the newest decision.
local mc = redis.call('HGETALL', KEYS[16])
for i = 1, #mc, 2 do
  local p = mc[i]
  if not string.find(p, ':') then
    local sg = redis.call('HGET', KEYS[5], p .. ':granted')
    local mg = redis.call('HGET', KEYS[16], p .. ':granted')
    local mms = tonumber(redis.call('HGET', KEYS[16], p .. ':ms')) or 0
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
for _, c in ipairs(redis.call('LRANGE', KEYS[17], 0, -1)) do
  redis.call('RPUSH', KEYS[6], c)
end
redis.call('SADD', KEYS[9], M)
redis.call('SUNIONSTORE', KEYS[9], KEYS[9], KEYS[20])
-- Provenance: the merge, then M's own link records (enough to unmerge).
redis.call('RPUSH', KEYS[10], 'merge\31' .. M .. '\31' .. ARGV[5] .. '\31' .. now)
for _, l in ipairs(redis.call('LRANGE', KEYS[21], 0, -1)) do
  redis.call('RPUSH', KEYS[10], l)
end
for i = 28, #KEYS do
  if redis.call('GET', KEYS[i]) == M then redis.call('SET', KEYS[i], S) end
end
redis.call('DEL', KEYS[8], KEYS[12], KEYS[13], KEYS[14], KEYS[15], KEYS[16],
           KEYS[17], KEYS[18], KEYS[19], KEYS[20], KEYS[21], KEYS[25])
redis.call('SET', KEYS[22], S)
redis.call('XADD', KEYS[23], '*', 'survivor', S, 'merged', M, 'at', now)
return {'OK'}
