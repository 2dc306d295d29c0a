--[[
  agg-rebuild-2.lua: one entity of a tile rebuild (docs/design/window-aggregations.md §3.6 step 3;
  the contract is OnlineRebuildBatch in core's online-store.ts), atomically: unless the entity's
  `ok` marker of the target generation exists (a resumed part never merges twice), store its
  rebuilt aggregation fields, its pending list and its dedup set, with the expiry rules of
  agg-write-2.lua, and the marker.

  KEYS[1]  the entity hash
  KEYS[2]  the dedup set of the target generation (`<entity key>:d:<field>:g<G>`; same hash tag)
  ARGV[1]  the ok marker field (`<field>.g<G>.ok`)
  ARGV[2]  the pending list field (`<field>.pend`)
  ARGV[3]  the pending list ('' = none: the field is deleted)
  ARGV[4]  the hash deadline: newest event + retention, ms ('0' = persistent, '-1' = no event)
  ARGV[5]  the dedup set deadline: max(now, newest event) + L + margin, ms
  ARGV[6]  n, the number of aggregation fields
  ARGV[7 … 6+2n]  field name, bytes pairs
  ARGV[7+2n …]    dedup entries: score (event ts), member (16-byte fp) pairs

  Returns 1 when written, 0 when skipped (marker present).
]]
local key = KEYS[1]
local dkey = KEYS[2]
if redis.call('HEXISTS', key, ARGV[1]) == 1 then
  return 0
end
local CHUNK = 500
local n = tonumber(ARGV[6])
-- -2 = no key, -1 = persistent.
local expiry = redis.call('PEXPIRETIME', key)
local existed = expiry ~= -2
local last = 6 + 2 * n
for from = 7, last, 2 * CHUNK do
  redis.call('HSET', key, unpack(ARGV, from, math.min(last, from + 2 * CHUNK - 1)))
end
if ARGV[3] == '' then
  redis.call('HDEL', key, ARGV[2])
else
  redis.call('HSET', key, ARGV[2], ARGV[3])
end
redis.call('HSET', key, ARGV[1], '1')
local deadline = tonumber(ARGV[4])
if deadline == 0 then
  redis.call('PERSIST', key)
elseif deadline > 0 then
  if not existed or (expiry ~= -1 and deadline > expiry) then
    redis.call('PEXPIREAT', key, ARGV[4])
  end
end
if #ARGV > last then
  for from = last + 1, #ARGV, 2 * CHUNK do
    redis.call('ZADD', dkey, unpack(ARGV, from, math.min(#ARGV, from + 2 * CHUNK - 1)))
  end
  local current = redis.call('PEXPIRETIME', dkey)
  if current == -1 or (current ~= -2 and tonumber(ARGV[5]) > current) then
    redis.call('PEXPIREAT', dkey, ARGV[5])
  end
end
return 1
