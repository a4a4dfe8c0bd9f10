-- Records the customer's response to a recommended action
-- (RecommendationStore::RecordOutcome).
--
-- KEYS[1]   the decision hash
-- KEYS[2]   shown actions  } of the customer whose contact state
-- KEYS[3]   held actions   } changes
-- KEYS[4]   cool-downs     }
--
-- All times in ms.
-- ARGV[1]   action id
-- ARGV[2]   response (ACCEPTED, CONVERTED, REJECTED, IGNORED, ...)
-- ARGV[3]   now
-- ARGV[4]   occurred at
-- ARGV[5]   cool-down
-- ARGV[6]   retention
--
-- Returns {'not_found'}, {'no_action'}, {'duplicate', segment, 0, 0, 0}
-- or {'ok', segment, impression, success, failure} (each 0/1).
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_found'} end
local a = ARGV[1]
local reserved = redis.call('HGET', KEYS[1], 'a:' .. a)
if not reserved then return {'no_action'} end
local r = ARGV[2]
local seg = redis.call('HGET', KEYS[1], 'seg') or 'all'
if redis.call('HSETNX', KEYS[1], 'o:' .. a .. ':' .. r, ARGV[3]) == 0 then
  return {'duplicate', seg, 0, 0, 0}
end
local now = tonumber(ARGV[3])
local imp, s, f = 0, 0, 0
if redis.call('HSETNX', KEYS[1], 'p:' .. a, ARGV[3]) == 1 then
  imp = 1
  local m = a .. '|' .. redis.call('HGET', KEYS[1], 'id')
  redis.call('ZREM', KEYS[3], m)
  redis.call('ZADD', KEYS[2], reserved, m)
  local ret = tonumber(ARGV[6])
  if redis.call('PTTL', KEYS[2]) < ret then redis.call('PEXPIRE', KEYS[2], ARGV[6]) end
end
if r == 'ACCEPTED' or r == 'CONVERTED' then
  if redis.call('HSETNX', KEYS[1], 's:' .. a, 1) == 1 then s = 1 end
elseif r == 'REJECTED' or r == 'IGNORED' then
  if redis.call('HEXISTS', KEYS[1], 's:' .. a) == 0 and
     redis.call('HSETNX', KEYS[1], 'f:' .. a, 1) == 1 then
    f = 1
  end
end
local cd = tonumber(ARGV[5])
if r == 'REJECTED' and cd > 0 then
  local u = tonumber(ARGV[4]) + cd
  if u > now then
    local cur = tonumber(redis.call('HGET', KEYS[4], a) or '0')
    if u > cur then redis.call('HSET', KEYS[4], a, string.format('%.0f', u)) end
    if redis.call('PTTL', KEYS[4]) < u - now then
      redis.call('PEXPIRE', KEYS[4], string.format('%.0f', u - now))
    end
  end
end
return {'ok', seg, imp, s, f}
