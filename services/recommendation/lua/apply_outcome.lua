-- The contact-state half of an outcome for a decision made under another
-- customer id (before a merge; RecommendationStore::RecordOutcome), in the
-- slot of the customer whose contact state changes: record_outcome.lua
-- recorded the outcome on the decision, in its own customer's slot, and
-- said whether the action was presented. Idempotent (the same member and
-- score, the later cool-down), so it runs again when that outcome is
-- retried, and a crash between the halves is finished by the retry.
--
-- KEYS[1]   shown actions
-- KEYS[2]   held actions
-- KEYS[3]   cool-downs
--
-- All times in ms.
-- ARGV[1]   action id
-- ARGV[2]   decision id
-- ARGV[3]   reservation time when the action was presented ("" = not)
-- ARGV[4]   response
-- ARGV[5]   now
-- ARGV[6]   occurred at
-- ARGV[7]   cool-down
-- ARGV[8]   retention
--
-- Returns {'ok'}.
local a = ARGV[1]
local now = tonumber(ARGV[5])
if ARGV[3] ~= '' then
  local m = a .. '|' .. ARGV[2]
  redis.call('ZREM', KEYS[2], m)
  redis.call('ZADD', KEYS[1], ARGV[3], m)
  local ret = tonumber(ARGV[8])
  if redis.call('PTTL', KEYS[1]) < ret then redis.call('PEXPIRE', KEYS[1], ARGV[8]) end
end
local cd = tonumber(ARGV[7])
if ARGV[4] == 'REJECTED' and cd > 0 then
  local u = tonumber(ARGV[6]) + cd
  if u > now then
    local cur = tonumber(redis.call('HGET', KEYS[3], a) or '0')
    if u > cur then redis.call('HSET', KEYS[3], a, string.format('%.0f', u)) end
    if redis.call('PTTL', KEYS[3]) < u - now then
      redis.call('PEXPIRE', KEYS[3], string.format('%.0f', u - now))
    end
  end
end
return {'ok'}
