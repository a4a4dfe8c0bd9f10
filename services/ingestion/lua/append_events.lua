-- Appends a batch of events to one stream shard, dropping repeats within
-- the dedup window (EventLog::Append). n events, B the caller's bucket
-- (its clock divided by the window):
--
-- KEYS[1]      the shard's event stream
-- KEYS[2..5]   the shard's dedup hashes for buckets B-2 .. B+1
--
-- ARGV[1]              dedup window (ms)
-- ARGV[2]              B-2
-- ARGV[3..2+n]         the event ids (distinct: Append resolves repeats
--                      within a call itself)
-- ARGV[3+n..2+2n]      the serialised events, same order
--
-- n is at most kMaxEventsPerScript (event_log.cc), which keeps unpack()
-- within Lua's C stack.
--
-- The bucket is taken from Redis's clock, the one clock all ingestion
-- replicas share, so every replica writes into and checks the same buckets.
-- An id is looked up in the current bucket and the one before it, and
-- recorded in the current one, which expires two windows after it began:
-- an id is remembered at least one window and at most two.
--
-- Redis's Lua bridge costs more than the commands it calls, so the script
-- asks each bucket once (one HMGET over all ids), records once (one HSET of
-- every new id) and builds no string per event: the XADD is its only
-- command per event (see docs/performance.md).
--
-- Returns {flags, entry_1, ..., entry_n}: flags[k] is 'A' when event k was
-- appended as entry_k, 'D' when it is a duplicate of the stored entry_k.
local t = redis.call('TIME')
local window = tonumber(ARGV[1])
local bucket = math.floor((tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) / window)
local slot = bucket - tonumber(ARGV[2]) + 2
if slot < 3 or slot > 5 then
  -- luacheck: push no max line length
  return redis.error_reply('ERR dedup bucket out of range: the service clock and the Redis clock differ by more than the dedup window')
  -- luacheck: pop
end
local current, previous = KEYS[slot], KEYS[slot - 1]
local n = (#ARGV - 2) / 2
local known = redis.call('HMGET', current, unpack(ARGV, 3, 2 + n))
local ask, at = {}, {}
for k = 1, n do
  if not known[k] then
    ask[#ask + 1] = ARGV[2 + k]
    at[#at + 1] = k
  end
end
if #ask > 0 then
  local old = redis.call('HMGET', previous, unpack(ask))
  for j = 1, #ask do
    if old[j] then known[at[j]] = old[j] end
  end
end
local flags, out, record = {}, {''}, {}
local stream = KEYS[1]
for k = 1, n do
  local entry = known[k]
  if entry then
    flags[k] = 'D'
  else
    entry = redis.call('XADD', stream, '*', 'e', ARGV[2 + n + k])
    flags[k] = 'A'
    record[#record + 1] = ARGV[2 + k]
    record[#record + 1] = entry
  end
  out[k + 1] = entry
end
if #record > 0 then
  redis.call('HSET', current, unpack(record))
  redis.call('PEXPIREAT', current, (bucket + 2) * window, 'NX')
end
out[1] = table.concat(flags)
return out
