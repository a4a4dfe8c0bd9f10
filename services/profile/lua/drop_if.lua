-- Deletes a hash, or sets one of its fields, when a field has the value
-- given: a merge record (KeyBuilder::MergingInto) is cleared, called off or
-- marked as logged only by a step of the attempt whose token it carries
-- (ProfileStore's merge steps), and never recreated once gone. One key.
--
-- KEYS[1]   the hash
-- ARGV[1]   field
-- ARGV[2]   value
-- ARGV[3]   field to set instead of deleting (optional)
-- ARGV[4]   its value
--
-- Returns 1 when deleted or set, else 0.
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[3] then
  redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
  return 1
end
return redis.call('DEL', KEYS[1])
