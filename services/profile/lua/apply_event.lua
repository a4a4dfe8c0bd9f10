-- Applies one event to a customer's profile (ProfileStore::ApplyCommand).
--
-- KEYS[1]   profile hash
-- KEYS[2]   timeline (sorted set scored by occurred ms)
-- KEYS[3]   applied event ids (sorted set scored by apply time)
-- KEYS[4]   merged_into redirect
-- KEYS[5]   erasure tombstone
-- KEYS[6]   unverified identity claims
--
-- ARGV[1]   event id
-- ARGV[2]   occurred at (ms)
-- ARGV[3]   channel name
-- ARGV[4]   value (%.17g)
-- ARGV[5]   the serialised event (Interaction) as stored in the timeline
-- ARGV[6]   timeline cap
-- ARGV[7]   now (ms)
-- ARGV[8]   applied window (ms)
-- ARGV[9]   claims cap
-- ARGV[10..] the event's claimed identities ("type:value")
--
-- Returns 1 when applied, 0 when applied before, -1 when the customer was
-- merged away meanwhile, -2 when they were erased (nothing written).
--
-- The cached agent contexts are not touched: the event_count increment
-- below changes the customer's context version, and a cached context is
-- served only while its version is current (cache_context.lua).
if redis.call('EXISTS', KEYS[5]) == 1 then return -2 end
if redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
if redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end
-- Claims: deduplicated, each scored by the latest event claiming it; the
-- newest `claims cap` are kept. Never written to the identity index.
if #ARGV > 9 then
  local at = tonumber(ARGV[2])
  for i = 10, #ARGV do
    local cur = redis.call('ZSCORE', KEYS[6], ARGV[i])
    if not cur or at > tonumber(cur) then redis.call('ZADD', KEYS[6], at, ARGV[i]) end
  end
  local size = redis.call('ZCARD', KEYS[6])
  local keep = tonumber(ARGV[9])
  if size > keep then redis.call('ZREMRANGEBYRANK', KEYS[6], 0, size - keep - 1) end
end
local now = tonumber(ARGV[7])
redis.call('ZADD', KEYS[3], now, ARGV[1])
local count = redis.call('HINCRBY', KEYS[1], 'event_count', 1)
if count == 1 then redis.call('HSETNX', KEYS[1], 'created_ms', ARGV[7]) end
-- Applied ids older than the window go every 16th event of the customer,
-- so the set holds at most 15 ids past the window.
if count % 16 == 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[8]))
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[5])
-- The timeline holds at most one entry per applied event (merges add the
-- counts), so it can only be over the cap once the count is.
local cap = tonumber(ARGV[6])
if count > cap then
  local size = redis.call('ZCARD', KEYS[2])
  if size > cap then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, size - cap - 1) end
end
redis.call('HINCRBY', KEYS[1], 'ch:' .. ARGV[3], 1)
if tonumber(ARGV[4]) ~= 0 then
  redis.call('HINCRBYFLOAT', KEYS[1], 'ltv', ARGV[4])
end
local at = tonumber(ARGV[2])
local seen = redis.call('HMGET', KEYS[1], 'first_seen_ms', 'last_seen_ms')
local first, last = tonumber(seen[1]), tonumber(seen[2])
if not first or at < first then redis.call('HSET', KEYS[1], 'first_seen_ms', ARGV[2]) end
if not last or at > last then redis.call('HSET', KEYS[1], 'last_seen_ms', ARGV[2]) end
return 1
