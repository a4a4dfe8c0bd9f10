-- Step 1 of a merge of M into S (ProfileStore::Merge, profile_merge.cc),
-- in M's slot: freezes M with a merge record and reads M's state. While
-- the record exists every write to M (apply, link, traits, consent)
-- answers {'MERGING'} and its caller finishes the merge first, so M's
-- state read here stays M's whole state. Called again by any step's retry
-- or by a caller that meets the record: then it only reads.
--
-- KEYS[1]   M's merge record (hash: to, token, at, source, survivor,
--           logged)
-- KEYS[2]   M profile           KEYS[8]   M traits
-- KEYS[3]   M merged_into       KEYS[9]   M consents
-- KEYS[4]   M erasure tombstone KEYS[10]  M consent history
-- KEYS[5]   M merging_in        KEYS[11]  M merged ids
-- KEYS[6]   M identities        KEYS[12]  M link records
-- KEYS[7]   M timeline          KEYS[13]  M claims
--
-- ARGV[1]   S ("" = only read a record that exists)
-- ARGV[2]   token of this attempt
-- ARGV[3]   now (ms)
-- ARGV[4]   source (provenance)
--
-- Returns {'NONE'} (no record and ARGV[1] empty), {'GONE'}, {'MOVED', to},
-- {'PENDING'} (merges into M have steps left: finish those first),
-- {'MERGING', to} (M is being merged into another customer), else
-- {'FROZEN', to, token, at, source, survivor or '', {v, s, created_ms},
-- ids, timeline (member, score...), traits, consents, consent history,
-- merged ids, link records, claims (member, score...), the merge log
-- entry id once written or ''}.
if redis.call('EXISTS', KEYS[4]) == 1 then return {'GONE'} end
local to = redis.call('HGET', KEYS[1], 'to')
if not to then
  if ARGV[1] == '' then return {'NONE'} end
  local into = redis.call('GET', KEYS[3])
  if into then return {'MOVED', into} end
  if redis.call('EXISTS', KEYS[2]) == 0 then return {'GONE'} end
  if redis.call('EXISTS', KEYS[5]) == 1 then return {'PENDING'} end
  redis.call('HSET', KEYS[1], 'to', ARGV[1], 'token', ARGV[2], 'at', ARGV[3],
             'source', ARGV[4])
  to = ARGV[1]
elseif ARGV[1] ~= '' and to ~= ARGV[1] then
  return {'MERGING', to}
end
local r = redis.call('HMGET', KEYS[1], 'token', 'at', 'source', 'survivor')
return {'FROZEN', to, r[1], r[2], r[3], r[4] or '',
        redis.call('HMGET', KEYS[2], 'v', 's', 'created_ms'),
        redis.call('SMEMBERS', KEYS[6]),
        redis.call('ZRANGE', KEYS[7], 0, -1, 'WITHSCORES'),
        redis.call('HGETALL', KEYS[8]),
        redis.call('HGETALL', KEYS[9]),
        redis.call('LRANGE', KEYS[10], 0, -1),
        redis.call('SMEMBERS', KEYS[11]),
        redis.call('LRANGE', KEYS[12], 0, -1),
        redis.call('ZRANGE', KEYS[13], 0, -1, 'WITHSCORES'),
        redis.call('HGET', KEYS[1], 'logged') or ''}
