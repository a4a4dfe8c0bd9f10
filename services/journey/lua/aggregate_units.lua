-- Before 2026-12-02 the pain aggregates were floats in natural units (churn
-- 0..1, waits in seconds). Converts every field in place to the integer
-- units of journey_state.h once, then sets the marker
-- (JourneyStore::EnsureAggregateUnits).
--
-- KEYS[1]   pain aggregates
-- KEYS[2]   units marker ("2" once converted)
--
-- No ARGV. Returns how many fields it converted.
if redis.call('GET', KEYS[2]) == '2' then return 0 end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local metric = string.match(all[i], '\31([^\31]*)$')
  local scale = 1
  if metric == 'c' then scale = 100 elseif metric == 'w' then scale = 1000 end
  local v = math.floor(tonumber(all[i + 1]) * scale + 0.5)
  redis.call('HSET', KEYS[1], all[i], string.format('%.0f', v))
end
redis.call('SET', KEYS[2], '2')
return #all / 2
