-- Step 1 of folding customer M's contact state into survivor S's
-- (RecommendationStore::MergeCustomers), in M's partition slot: reads M's
-- contact state in one consistent snapshot for step 2
-- (merge_contact_state.lua, in S's slot). Step 3 deletes these keys.
--
-- KEYS[1]   M's shown actions (zset)
-- KEYS[2]   M's held actions (zset)
-- KEYS[3]   M's cool-downs (hash)
-- KEYS[4]   the ids folded into M before (set)
--
-- Returns {shown member/score list, held member/score list, cool-down
-- field/value list, PTTL of shown, of held, of cool-downs, folded ids}.
return {
  redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES'),
  redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES'),
  redis.call('HGETALL', KEYS[3]),
  redis.call('PTTL', KEYS[1]),
  redis.call('PTTL', KEYS[2]),
  redis.call('PTTL', KEYS[3]),
  redis.call('SMEMBERS', KEYS[4]),
}
