-- Step 1 of linking identities to the chosen customer (ProfileStore::Link,
-- profile_resolve.cc), in the customer's slot: records each identity the
-- customer may take in their identity set, within per-type caps. The
-- identity index entries are claimed afterwards, each by its own one-key
-- compare-and-set (set_owner.lua), and link_confirm.lua records the
-- outcome. So a customer's identity set always holds every identity whose
-- index entry names them (erasure and merges find them all); after a crash
-- it may also hold one whose claim never happened, which the next link of
-- it completes. n identities:
--
-- KEYS[1]   the customer's identity set
-- KEYS[2]   their profile hash
-- KEYS[3]   their merged_into redirect
-- KEYS[4]   their erasure tombstone
-- KEYS[5]   their merge record (a merge away has begun)
--
-- ARGV[1]        the customer id
-- ARGV[2]        now (ms)
-- ARGV[2+3i-2]   (i = 1..n, from ARGV[3]) identity i as "type:value",
-- ARGV[2+3i-1]   the cap on identities of its type (0 = none),
-- ARGV[2+3i]     its index owner as read before ("" = nobody)
--
-- Returns {'ERASED'}, {'MERGING'}, {'MOVED', target}, else one status per
-- identity: owned (index and set both name them), claim (to be claimed in
-- the index), refused (guard), conflict:<owner>. A new identity in the set
-- bumps the profile's context version `v` (the context shows the
-- identities).
local chosen = ARGV[1]
if redis.call('EXISTS', KEYS[4]) == 1 then return {'ERASED'} end
if redis.call('EXISTS', KEYS[5]) == 1 then return {'MERGING'} end
local moved = redis.call('GET', KEYS[3])
if moved then return {'MOVED', moved} end
local n = (#ARGV - 2) / 3
local per_type = {}
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local t = string.match(m, '^([^:]+):')
  per_type[t] = (per_type[t] or 0) + 1
end
local out = {}
local added = false
for i = 1, n do
  local ident = ARGV[3 * i]
  local cap = tonumber(ARGV[3 * i + 1])
  local owner = ARGV[3 * i + 2]
  if owner ~= '' and owner ~= chosen then
    out[i] = 'conflict:' .. owner
  elseif redis.call('SISMEMBER', KEYS[1], ident) == 1 then
    if owner == chosen then out[i] = 'owned' else out[i] = 'claim' end
  else
    local t = string.match(ident, '^([^:]+):')
    if cap > 0 and (per_type[t] or 0) >= cap then
      out[i] = 'refused'
    else
      redis.call('SADD', KEYS[1], ident)
      per_type[t] = (per_type[t] or 0) + 1
      out[i] = 'claim'
      added = true
    end
  end
end
if added then redis.call('HINCRBY', KEYS[2], 'v', 1) end
redis.call('HSETNX', KEYS[2], 'created_ms', ARGV[2])
return out
