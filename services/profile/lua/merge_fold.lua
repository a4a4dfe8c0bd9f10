-- Step 2 of a merge of M into S (profile_merge.cc), in S's slot: folds M's
-- state, as merge_freeze.lua read it, into S. Guarded by S's merged ids:
-- a retry finds M there ({'FOLDED'}) and folds nothing twice.
--
-- KEYS[1]   S profile           KEYS[8]   S link records
-- KEYS[2]   S identities        KEYS[9]   S merged_into
-- KEYS[3]   S timeline          KEYS[10]  S erasure tombstone
-- KEYS[4]   S traits            KEYS[11]  S claims
-- KEYS[5]   S consents          KEYS[12]  S's own merge record
-- KEYS[6]   S consent history   KEYS[13]  S merging_in
-- KEYS[7]   S merged ids        KEYS[14]  S cancelled merges
--
-- ARGV[1]   M id                ARGV[6]   claims cap
-- ARGV[2]   token of M's record ARGV[7]   S's version when read ("0" none)
-- ARGV[3]   merge time (ms)     ARGV[8]   S's new counters (S's and M's
-- ARGV[4]   source                        ProfileState merged in C++)
-- ARGV[5]   timeline cap        ARGV[9]   M's created_ms ("" = none)
-- ARGV[10..] sections, each its item count then its items: per-type caps
--           (type, cap pairs), M's identities, timeline (member, score
--           pairs), traits (field, value pairs), consents (field, value
--           pairs), consent history, merged ids, link records, claims
--           (member, score pairs).
--
-- Returns {'OK'}, {'FOLDED'} (done before), {'CANCELLED'} (this attempt
-- was called off), {'GONE'} (S erased or absent), {'MOVED', to},
-- {'MERGING'} (S is being merged away: this attempt is called off and
-- recorded as cancelled, so no late retry folds it), {'RETRY'} (S's
-- version moved since read), or {'REFUSED', type, count} (shared-device
-- guard; also recorded as cancelled).
local M, token = ARGV[1], ARGV[2]
if redis.call('SISMEMBER', KEYS[7], M) == 1 then return {'FOLDED'} end
if redis.call('SISMEMBER', KEYS[14], M .. ':' .. token) == 1 then
  return {'CANCELLED'}
end
if redis.call('EXISTS', KEYS[10]) == 1 then return {'GONE'} end
local into = redis.call('GET', KEYS[9])
if into then return {'MOVED', into} end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'GONE'} end
if redis.call('EXISTS', KEYS[12]) == 1 then
  redis.call('SADD', KEYS[14], M .. ':' .. token)
  return {'MERGING'}
end
if (redis.call('HGET', KEYS[1], 'v') or '0') ~= ARGV[7] then
  return {'RETRY'}
end
local pos = 10
local function section(width)
  local n = tonumber(ARGV[pos])
  local first = pos + 1
  pos = first + n * width
  return first, n
end
local caps_at, caps_n = section(2)
local ids_at, ids_n = section(1)
local tl_at, tl_n = section(2)
local tr_at, tr_n = section(2)
local co_at, co_n = section(2)
local ch_at, ch_n = section(1)
local mi_at, mi_n = section(1)
local li_at, li_n = section(1)
local cl_at, cl_n = section(2)
-- The shared-device guard holds for merges too.
local caps = {}
for i = 0, caps_n - 1 do
  caps[ARGV[caps_at + 2 * i]] = tonumber(ARGV[caps_at + 2 * i + 1])
end
local union = {}
for _, m in ipairs(redis.call('SMEMBERS', KEYS[2])) do union[m] = true end
for i = 0, ids_n - 1 do union[ARGV[ids_at + i]] = true end
local per_type = {}
for m in pairs(union) do
  local t = string.match(m, '^([^:]+):')
  per_type[t] = (per_type[t] or 0) + 1
end
for t, n in pairs(per_type) do
  if caps[t] and n > caps[t] then
    redis.call('SADD', KEYS[14], M .. ':' .. token)
    return {'REFUSED', t, tostring(n)}
  end
end
-- Counters: merged by the caller. The earlier creation time survives.
redis.call('HSET', KEYS[1], 's', ARGV[8])
local created = tonumber(ARGV[9])
local mine = tonumber(redis.call('HGET', KEYS[1], 'created_ms'))
if created and (not mine or created < mine) then
  redis.call('HSET', KEYS[1], 'created_ms', ARGV[9])
end
redis.call('HINCRBY', KEYS[1], 'v', 1)
for i = 0, ids_n - 1 do redis.call('SADD', KEYS[2], ARGV[ids_at + i]) end
-- Timelines interleave by time (scores); keep the newest `cap`.
for i = 0, tl_n - 1 do
  redis.call('ZADD', KEYS[3], ARGV[tl_at + 2 * i + 1], ARGV[tl_at + 2 * i])
end
local size = redis.call('ZCARD', KEYS[3])
local cap = tonumber(ARGV[5])
if size > cap then redis.call('ZREMRANGEBYRANK', KEYS[3], 0, size - cap - 1) end
-- Unverified claims stay claims (the newest `claims cap`), never links.
if cl_n > 0 then
  for i = 0, cl_n - 1 do
    redis.call('ZADD', KEYS[11], 'GT', ARGV[cl_at + 2 * i + 1], ARGV[cl_at + 2 * i])
  end
  local n = redis.call('ZCARD', KEYS[11])
  local keep = tonumber(ARGV[6])
  if n > keep then redis.call('ZREMRANGEBYRANK', KEYS[11], 0, n - keep - 1) end
end
-- Traits: the newest value of each trait wins.
local mt = {}
for i = 0, tr_n - 1 do mt[ARGV[tr_at + 2 * i]] = ARGV[tr_at + 2 * i + 1] end
for name, value in pairs(mt) do
  if not string.find(name, ':') then
    local mms = tonumber(mt[name .. ':ms']) or 0
    local sms = tonumber(redis.call('HGET', KEYS[4], name .. ':ms'))
    if not sms or mms > sms then
      redis.call('HSET', KEYS[4], name, value, name .. ':ms', mms)
    end
  end
end
-- Consents: a withdrawal on either side wins; else the newest decision.
local mc = {}
for i = 0, co_n - 1 do mc[ARGV[co_at + 2 * i]] = ARGV[co_at + 2 * i + 1] end
for p, value in pairs(mc) do
  if not string.find(p, ':') then
    local sg = redis.call('HGET', KEYS[5], p .. ':granted')
    local mg = mc[p .. ':granted']
    local mms = tonumber(mc[p .. ':ms']) or 0
    local sms = tonumber(redis.call('HGET', KEYS[5], p .. ':ms'))
    local take
    if not sg then take = true
    elseif sg == '0' then take = false
    elseif mg == '0' then take = true
    else take = mms > (sms or 0) end
    if take then
      redis.call('HSET', KEYS[5], p, value, p .. ':ms', mms, p .. ':granted', mg or '1')
    end
  end
end
for i = 0, ch_n - 1 do redis.call('RPUSH', KEYS[6], ARGV[ch_at + i]) end
redis.call('SADD', KEYS[7], M)
for i = 0, mi_n - 1 do redis.call('SADD', KEYS[7], ARGV[mi_at + i]) end
-- Provenance: the merge, then M's own link records (enough to unmerge).
redis.call('RPUSH', KEYS[8], 'merge\31' .. M .. '\31' .. ARGV[4] .. '\31' .. ARGV[3])
for i = 0, li_n - 1 do redis.call('RPUSH', KEYS[8], ARGV[li_at + i]) end
-- The merge has steps left (repoint, finalise, log): any later apply on S
-- meets this and finishes them.
redis.call('SADD', KEYS[13], M)
return {'OK'}
