-- Folds summed outbox deltas into a partition's aggregate shard, moves its
-- checkpoint and trims the folded entries, in one step (Aggregator). Every
-- key is in the partition's slot. f funnel days:
--
-- KEYS[1]      the partition's outbox stream
-- KEYS[2]      its checkpoint (id of the last folded entry)
-- KEYS[3]      its pain aggregate shard
-- KEYS[4..3+f] its funnel day shards
--
-- ARGV[1]      expected checkpoint ("" = none yet)
-- ARGV[2]      new checkpoint (last folded entry id)
-- ARGV[3]      trim below this id (the one after the new checkpoint)
-- ARGV[4]      funnel TTL (s)
-- ARGV[5]      p, the number of pain pairs
-- ARGV[6..5+2p]  pain field, delta pairs
-- then per funnel day: its pair count c and c field, count pairs
--
-- Returns {'OK'} or {'MOVED'} when another worker folded first (nothing
-- written: the caller's entries are already counted).
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return {'MOVED'} end
local function add(key, field, delta)
  if redis.call('HINCRBY', key, field, delta) == 0 then
    redis.call('HDEL', key, field)
  end
end
local i = 6
local p = tonumber(ARGV[5])
for _ = 1, p do
  add(KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
for k = 4, #KEYS do
  local c = tonumber(ARGV[i])
  i = i + 1
  for _ = 1, c do
    add(KEYS[k], ARGV[i], ARGV[i + 1])
    i = i + 2
  end
  redis.call('EXPIRE', KEYS[k], ARGV[4])
end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('XTRIM', KEYS[1], 'MINID', ARGV[3])
return {'OK'}
