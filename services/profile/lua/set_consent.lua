-- Records a consent decision (ProfileStore::SetConsent). Like every
-- customer-level write it lands on the customer as it is when it runs: a
-- redirect left by a merge sends it to the survivor ({'MOVED', survivor}:
-- the caller retries there), a customer without a profile (never seen, or
-- erased) gets nothing ({'GONE'}), and the profile's context version `v` is
-- bumped (cached agent contexts of the earlier version are no longer served).
--
-- KEYS[1]   current consents (hash purpose -> Consent, purpose:ms -> time,
--           purpose:granted -> 1/0, the last for merges)
-- KEYS[2]   consent history list
-- KEYS[3]   profile hash
-- KEYS[4]   merged_into redirect
-- KEYS[5]   erasure tombstone (a customer being erased is gone already)
-- KEYS[6]   merge record (a merge away has begun: {'MERGING'}, the caller
--           finishes it and follows the redirect)
--
-- ARGV[1]   purpose
-- ARGV[2]   updated at (ms)
-- ARGV[3]   the serialised Consent
-- ARGV[4]   granted (1/0)
--
-- Returns {'OK'}, {'MOVED', survivor}, {'MERGING'} or {'GONE'}.
if redis.call('EXISTS', KEYS[6]) == 1 then return {'MERGING'} end
local to = redis.call('GET', KEYS[4])
if to then return {'MOVED', to} end
if redis.call('EXISTS', KEYS[3]) == 0 or redis.call('EXISTS', KEYS[5]) == 1 then
  return {'GONE'}
end
redis.call('RPUSH', KEYS[2], ARGV[3])
local current = redis.call('HGET', KEYS[1], ARGV[1] .. ':ms')
if not current or tonumber(ARGV[2]) >= tonumber(current) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3], ARGV[1] .. ':ms', ARGV[2],
             ARGV[1] .. ':granted', ARGV[4])
end
redis.call('HINCRBY', KEYS[3], 'v', 1)
return {'OK'}
