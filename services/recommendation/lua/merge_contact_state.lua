-- Step 2 of folding customer M's contact state into survivor S's
-- (RecommendationStore::MergeCustomers), in S's partition slot: M's state as
-- step 1 (read_contact_state.lua) read it comes in ARGV. Once per merged
-- id: S's set of folded ids says M was folded before, so a redelivered
-- merge record changes nothing; the ids folded into M before join it, so a
-- late merge of one of them, redirected to S, is refused too. Step 3
-- deletes M's keys.
--
-- KEYS[1]   S's shown actions
-- KEYS[2]   S's held actions
-- KEYS[3]   S's cool-downs
-- KEYS[4]   S's set of folded ids
-- KEYS[5]   S's merged_into redirect (the profile service's)
-- KEYS[6]   S's erasure tombstone
--
-- ARGV[1]   M's id
-- ARGV[2]   PTTL of M's shown, ARGV[3] of held, ARGV[4] of cool-downs (ms)
-- ARGV[5]   number of shown entries n1, ARGV[6] held n2, ARGV[7] cool-downs
--           n3
-- ARGV[8..] n1 (member, score) pairs, n2 (member, score) pairs, n3
--           (action, until ms) pairs, then the ids folded into M before
--
-- Merge records can be handled out of order (replicas, retries): when S
-- was itself merged away since, {'MOVED', its survivor} (fold there); when
-- it was erased, {'ERASED'} (M's state goes too, in step 3). Else
-- {'DONE'}, or {'SEEN'} when this merge was folded before.
if redis.call('EXISTS', KEYS[6]) == 1 then return {'ERASED'} end
local into = redis.call('GET', KEYS[5])
if into then return {'MOVED', into} end
if redis.call('SADD', KEYS[4], ARGV[1]) == 0 then return {'SEEN'} end
local i = 8
for k = 1, 3 do
  local to = KEYS[k]
  local n = tonumber(ARGV[k + 4])
  for _ = 1, n do
    local name, value = ARGV[i], ARGV[i + 1]
    i = i + 2
    if k < 3 then
      redis.call('ZADD', to, value, name)
    else
      local cur = tonumber(redis.call('HGET', to, name) or '0')
      if tonumber(value) > cur then redis.call('HSET', to, name, value) end
    end
  end
  local ttl = tonumber(ARGV[k + 1])
  if n > 0 and ttl > 0 and redis.call('PTTL', to) < ttl then
    redis.call('PEXPIRE', to, ttl)
  end
end
for j = i, #ARGV do redis.call('SADD', KEYS[4], ARGV[j]) end
return {'DONE'}
