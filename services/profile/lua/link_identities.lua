-- Links identities to the chosen customer, within per-type caps
-- (ProfileStore::LinkCommand). n identities:
--
-- KEYS[1]        the chosen customer's identity set
-- KEYS[2]        their profile hash
-- KEYS[3]        their merged_into redirect
-- KEYS[4]        their link records (provenance list)
-- KEYS[5..4+n]   the identity index (owner) key of each identity
-- KEYS[5+n]      the chosen customer's erasure tombstone
--
-- ARGV[1]        the chosen customer id
-- ARGV[2]        now (ms)
-- ARGV[3]        "1" when the first identity must still be owned by the
--                chosen customer or nobody (the anchor read before), else "0"
-- ARGV[4]        source (provenance)
-- ARGV[3+2i]     identity i as "type:value"
-- ARGV[4+2i]     the cap on identities of its type (0 = none)
--
-- Returns {"RETRY", owner} when the anchor was taken meanwhile, {"MOVED",
-- target} when the chosen customer was merged away, {"ERASED"} when they
-- were erased since the identities were read, else one status per
-- identity: owned, linked, refused, conflict:<owner>. A link bumps the
-- profile's context version `v` (the context shows the identities).
local chosen = ARGV[1]
if redis.call('EXISTS', KEYS[#KEYS]) == 1 then return {'ERASED'} end
local moved = redis.call('GET', KEYS[3])
if moved then return {'MOVED', moved} end
local n = #KEYS - 5
if ARGV[3] == '1' and n > 0 then
  local owner = redis.call('GET', KEYS[5])
  if owner and owner ~= chosen then return {'RETRY', owner} end
end
local per_type = {}
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local t = string.match(m, '^([^:]+):')
  per_type[t] = (per_type[t] or 0) + 1
end
local out = {}
local linked = false
for i = 1, n do
  local ident = ARGV[3 + 2 * i]
  local cap = tonumber(ARGV[4 + 2 * i])
  local owner = redis.call('GET', KEYS[4 + i])
  if owner == chosen then
    out[i] = 'owned'
  elseif owner then
    out[i] = 'conflict:' .. owner
  else
    local t = string.match(ident, '^([^:]+):')
    if cap > 0 and (per_type[t] or 0) >= cap then
      out[i] = 'refused'
    else
      redis.call('SET', KEYS[4 + i], chosen)
      redis.call('SADD', KEYS[1], ident)
      redis.call('RPUSH', KEYS[4], 'link\31' .. ident .. '\31' .. ARGV[4] .. '\31' .. ARGV[2])
      per_type[t] = (per_type[t] or 0) + 1
      out[i] = 'linked'
      linked = true
    end
  end
end
if linked then redis.call('HINCRBY', KEYS[2], 'v', 1) end
redis.call('HSETNX', KEYS[2], 'created_ms', ARGV[2])
return out
