-- Stores the churn learner's new model and moves its checkpoints in one
-- step (ChurnLearner::LearnOnce). One key, in its own slot {model}.
--
-- KEYS[1]   the model hash (v = version, m = serialised LearnedChurnModel,
--           c:<partition> = last learned examples entry)
--
-- ARGV[1]   expected version ("0" = none yet)
-- ARGV[2]   the new model
-- ARGV[3..] checkpoint field, entry id pairs
--
-- Returns {'OK'} or {'MOVED'} when another replica's learner stored first
-- (nothing written: the caller's examples are learned by the next pass).
if (redis.call('HGET', KEYS[1], 'v') or '0') ~= ARGV[1] then
  return {'MOVED'}
end
redis.call('HSET', KEYS[1], 'v', tostring(tonumber(ARGV[1]) + 1), 'm', ARGV[2])
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return {'OK'}
