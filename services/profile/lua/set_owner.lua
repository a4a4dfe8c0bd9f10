-- Compare-and-set of one string key, the only way the profile writes an
-- identity index entry (`{id:<hmac>}:owner`, a slot of its own): claiming
-- an identity for a customer, repointing it to a merge's survivor,
-- releasing it, deleting it at erasure. One key, so it never spans slots.
--
-- KEYS[1]   the key
-- ARGV[1]   the value expected ("" = absent)
-- ARGV[2]   the value to set ("" = delete the key)
--
-- Returns the value found ("" when absent); the key changed only when it
-- equals ARGV[1].
local found = redis.call('GET', KEYS[1]) or ''
if found == ARGV[1] then
  if ARGV[2] == '' then
    redis.call('DEL', KEYS[1])
  else
    redis.call('SET', KEYS[1], ARGV[2])
  end
end
return found
