-- Records the customer's response to a recommended action
-- (RecommendationStore::RecordOutcome).
--
-- KEYS[1]   the decision records of the customer the decision was made for
--           (hash; see reserve_actions.lua)
-- KEYS[2]   shown actions  } of the customer whose contact state
-- KEYS[3]   held actions   } changes, when that is the same customer;
-- KEYS[4]   cool-downs     } absent for a decision made under another id
--                            (before a merge: another slot), whose
--                            contact state apply_outcome.lua changes next
--
-- All times in ms.
-- ARGV[1]   action id
-- ARGV[2]   response (ACCEPTED, CONVERTED, REJECTED, IGNORED, ...)
-- ARGV[3]   now
-- ARGV[4]   occurred at
-- ARGV[5]   cool-down
-- ARGV[6]   retention
-- ARGV[7]   decision id
-- ARGV[8]   decision TTL (a record older than this is expired)
--
-- Returns {'not_found'}, {'no_action'}, {'duplicate', segment, 0, 0, 0}
-- or {'ok', segment, impression, success, failure} (each 0/1). Without
-- KEYS[2..4], 'duplicate' and 'ok' replies also carry the reservation time
-- when the action was presented ("" when not), for apply_outcome.lua,
-- which the caller runs after either (so a retry finishes a crash between
-- the two).
local contact = #KEYS >= 4
local d = ARGV[7]
local head = redis.call('HGET', KEYS[1], d)
if not head then return {'not_found'} end
local at = tonumber(string.match(head, '^%d+'))
if not at or at + tonumber(ARGV[8]) <= tonumber(ARGV[3]) then
  return {'not_found'}
end
local a = ARGV[1]
local reserved = redis.call('HGET', KEYS[1], d .. '|a:' .. a)
if not reserved then return {'no_action'} end
local r = ARGV[2]
local seg = string.match(head, '^%d+|(.*)|[^|]*$') or 'all'
if seg == '' then seg = 'all' end
local function presented()
  if redis.call('HEXISTS', KEYS[1], d .. '|p:' .. a) == 1 then
    return reserved
  end
  return ''
end
if redis.call('HSETNX', KEYS[1], d .. '|o:' .. a .. ':' .. r, ARGV[3]) == 0 then
  if not contact then return {'duplicate', seg, 0, 0, 0, presented()} end
  return {'duplicate', seg, 0, 0, 0}
end
local now = tonumber(ARGV[3])
local imp, s, f = 0, 0, 0
if redis.call('HSETNX', KEYS[1], d .. '|p:' .. a, ARGV[3]) == 1 then
  imp = 1
end
if imp == 1 and contact then
  local m = a .. '|' .. d
  redis.call('ZREM', KEYS[3], m)
  redis.call('ZADD', KEYS[2], reserved, m)
  local ret = tonumber(ARGV[6])
  if redis.call('PTTL', KEYS[2]) < ret then redis.call('PEXPIRE', KEYS[2], ARGV[6]) end
end
if r == 'ACCEPTED' or r == 'CONVERTED' then
  if redis.call('HSETNX', KEYS[1], d .. '|s:' .. a, 1) == 1 then s = 1 end
elseif r == 'REJECTED' or r == 'IGNORED' then
  if redis.call('HEXISTS', KEYS[1], d .. '|s:' .. a) == 0 and
     redis.call('HSETNX', KEYS[1], d .. '|f:' .. a, 1) == 1 then
    f = 1
  end
end
if not contact then return {'ok', seg, imp, s, f, presented()} end
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
