-- The last step of an erasure (ProfileStore::Erase), in one script
-- so that a retry after any earlier failure still finds the customer by the
-- reference it used. n identities:
--
-- KEYS[1..n]       the identity index (owner) key of each identity
-- KEYS[n+1..2n]    the identity tombstone of each (same order)
-- KEYS[2n+1..]     the customer's own keys kept until now (profile, ids,
--                  merged ids, cached contexts, redirects of merged ids)
--
-- ARGV[1]   customer id
-- ARGV[2]   tombstone TTL (s)
-- ARGV[3]   n
--
-- Deletes the index entries the customer owns, sets every identity
-- tombstone, deletes the kept keys; returns how many keys it deleted.
local n = tonumber(ARGV[3])
local deleted = 0
for i = 1, n do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    deleted = deleted + 1
  end
  redis.call('SET', KEYS[n + i], '1', 'EX', ARGV[2])
end
for i = 2 * n + 1, #KEYS do
  deleted = deleted + redis.call('DEL', KEYS[i])
end
return deleted
