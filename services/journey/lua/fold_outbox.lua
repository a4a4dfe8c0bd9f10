-- Adds the summed outbox deltas of some partitions to their aggregate
-- shard and moves those partitions' checkpoints, in one step (Aggregator).
-- Every key is in the shard's slot {agg:<g>}; the outboxes themselves are
-- trimmed afterwards, outside this script. f funnel days:
--
-- KEYS[1]      the shard's checkpoints (partition -> last folded entry id)
-- KEYS[2]      its pain aggregate
-- KEYS[3..2+f] its funnel day aggregates
--
-- ARGV[1]      funnel TTL (s)
-- ARGV[2]      n, the number of partitions folded
-- ARGV[3..]    n triples: partition, expected checkpoint ("" = none), new
-- then         p, the number of pain pairs, and p field, delta pairs
-- then         per funnel day: its pair count c and c field, count pairs
--
-- Returns {'OK'} or {'MOVED'} when another worker folded one of these
-- partitions first (nothing written: the caller's entries are counted).
local n = tonumber(ARGV[2])
local parts, moved = {}, {}
for k = 1, n do parts[k] = ARGV[3 * k] end
local current = redis.call('HMGET', KEYS[1], unpack(parts))
for k = 1, n do
  if (current[k] or '') ~= ARGV[3 * k + 1] then return {'MOVED'} end
  moved[#moved + 1] = ARGV[3 * k]
  moved[#moved + 1] = ARGV[3 * k + 2]
end
local function add(key, field, delta)
  if redis.call('HINCRBY', key, field, delta) == 0 then
    redis.call('HDEL', key, field)
  end
end
local i = 3 * n + 3
local p = tonumber(ARGV[i])
i = i + 1
for _ = 1, p do
  add(KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
for k = 3, #KEYS do
  local c = tonumber(ARGV[i])
  i = i + 1
  for _ = 1, c do
    add(KEYS[k], ARGV[i], ARGV[i + 1])
    i = i + 2
  end
  redis.call('EXPIRE', KEYS[k], ARGV[1])
end
redis.call('HSET', KEYS[1], unpack(moved))
return {'OK'}
