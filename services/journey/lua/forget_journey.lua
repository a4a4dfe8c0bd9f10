-- Deletes a customer's journey and takes it out of the pain aggregates
-- (JourneyStore::Forget).
--
-- KEYS[1]   journey hash
-- KEYS[2]   applied event ids
-- KEYS[3]   pain aggregates
--
-- ARGV[1]   expected version ("0" = none)
-- ARGV[2..] aggregate field, delta pairs
--
-- Returns {'OK'}, {'RETRY'} when the version moved, or {'NOOP'} when there
-- was no journey.
if (redis.call('HGET', KEYS[1], 'v') or '0') ~= ARGV[1] then
  return {'RETRY'}
end
if ARGV[1] == '0' then return {'NOOP'} end
redis.call('DEL', KEYS[1], KEYS[2])
for i = 2, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1])
end
return {'OK'}
