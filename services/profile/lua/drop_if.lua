-- Deletes a hash when one of its fields has the value given: calls off a
-- merge whose record (KeyBuilder::MergingInto) still carries the token of
-- the attempt that froze it (ProfileStore's merge steps). One key.
--
-- KEYS[1]   the hash
-- ARGV[1]   field
-- ARGV[2]   value
--
-- Returns 1 when deleted, else 0.
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('DEL', KEYS[1])
end
return 0
