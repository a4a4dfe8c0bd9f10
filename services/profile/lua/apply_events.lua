-- Commits a customer's new profile counters after applying a batch of their
-- events (ProfileStore::ApplyBatch): the state computed in C++
-- (profile_state.h), the new timeline entries and the unverified identity
-- claims. Every key is in the customer's partition slot.
--
-- KEYS[1]   profile hash (v = version of every write, s = ProfileState)
-- KEYS[2]   timeline (sorted set scored by occurred ms)
-- KEYS[3]   merged_into redirect
-- KEYS[4]   erasure tombstone
-- KEYS[5]   unverified identity claims
-- KEYS[6]   merge record (a merge of the customer away has begun)
-- KEYS[7]   merges into the customer with steps left (merging_in)
--
-- ARGV[1]   expected version ("0" = none)
-- ARGV[2]   new state (serialised ProfileState)
-- ARGV[3]   created_ms to set if the profile has none ("" = leave)
-- ARGV[4]   timeline cap to trim to ("" = cannot be over it yet)
-- ARGV[5]   claims cap
-- ARGV[6]   n, the number of timeline entries
-- ARGV[7..6+2n]  occurred ms, serialised event pairs
-- then      occurred ms, "type:value" pairs of claimed identities
--
-- Returns {'OK'}, {'ERASED'}, {'MOVED', survivor}, {'MERGING'} or
-- {'PENDING'} (a merge of or into the customer has steps left: the caller
-- finishes it, then resolves or reads again) or {'RETRY'} when the
-- version moved (an event, a link, traits, consent or a merge committed
-- since the caller read). The applied event ids live in the state, so an
-- unchanged version means the ids the caller took as unapplied still are.
-- The new version also retires cached agent contexts (cache_context.lua).
-- One call for all in the common case: neither erased nor merged away.
if redis.call('EXISTS', KEYS[4], KEYS[3], KEYS[6], KEYS[7]) > 0 then
  if redis.call('EXISTS', KEYS[4]) == 1 then return {'ERASED'} end
  if redis.call('EXISTS', KEYS[6]) == 1 then return {'MERGING'} end
  local to = redis.call('GET', KEYS[3])
  if to then return {'MOVED', to} end
  return {'PENDING'}
end
if (redis.call('HGET', KEYS[1], 'v') or '0') ~= ARGV[1] then
  return {'RETRY'}
end
redis.call('HSET', KEYS[1], 'v', tostring(tonumber(ARGV[1]) + 1), 's', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSETNX', KEYS[1], 'created_ms', ARGV[3]) end
local n = tonumber(ARGV[6])
redis.call('ZADD', KEYS[2], unpack(ARGV, 7, 6 + 2 * n))
if ARGV[4] ~= '' then
  local cap = tonumber(ARGV[4])
  local size = redis.call('ZCARD', KEYS[2])
  if size > cap then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, size - cap - 1) end
end
-- Claims: each scored by the latest event claiming it; the newest `claims
-- cap` are kept. Never written to the identity index.
if #ARGV > 6 + 2 * n then
  redis.call('ZADD', KEYS[5], 'GT', unpack(ARGV, 7 + 2 * n, #ARGV))
  local size = redis.call('ZCARD', KEYS[5])
  local keep = tonumber(ARGV[5])
  if size > keep then redis.call('ZREMRANGEBYRANK', KEYS[5], 0, size - keep - 1) end
end
return {'OK'}
