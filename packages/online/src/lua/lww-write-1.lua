--[[
  lww-write-1.lua: last-writer-wins write of one feature view's packed row into an entity hash.

  KEYS[1]  the entity hash (its name carries the entity's hash tag)
  ARGV[1]  field: the view version's field
  ARGV[2]  row: the packed row; byte 1 (1-based) is the format version, bytes 2-9 the event
           timestamp in ms as a little-endian float64
  ARGV[3]  retention in ms of the view (retentionMillis(ttl), computed by the caller); 0 = the
           view never expires, which makes the whole key persistent
  ARGV[4]  now in ms (the caller's clock), so that no expiry in the past is ever set

  Returns 1 when the row was applied, 0 when it was stale (a newer event is stored), 2 when it
  was accepted but already past its retention on a key that does not exist (nothing stored).

  LWW compares event time, not arrival time: a late or replayed event must never overwrite a
  newer value. Equal event times: the later arrival wins, as "latest created_ts wins" offline.

  The rule is one local function, lww_write, so that agg-write-2.lua runs the same text: its
  source is this file up to the "end of lww_write" marker, followed by agg-write-2.lua.
]]
local function lww_write(key, field, row, retentionArg, nowArg)
  if #row < 9 then
    return redis.error_reply('ERR tessera lww-write: row shorter than its 9-byte header')
  end
  local incomingTs = struct.unpack('<d', row, 2)

  local stored = redis.call('HGET', key, field)
  if stored and #stored >= 9 then
    local storedTs = struct.unpack('<d', stored, 2)
    if incomingTs < storedTs then
      return 0
    end
  end

  local retention = tonumber(retentionArg)
  if retention == 0 then
    redis.call('HSET', key, field, row)
    redis.call('PERSIST', key)
    return 1
  end

  -- Key expiry is the longest retention of the views the key holds: never shorten it, never
  -- make a persistent key expire. -2 = no key, -1 = key without expiry.
  local deadline = math.ceil(incomingTs + retention)
  local current = redis.call('PEXPIRETIME', key)
  if current == -2 then
    if deadline <= tonumber(nowArg) then
      return 2
    end
    redis.call('HSET', key, field, row)
    redis.call('PEXPIREAT', key, string.format('%.0f', deadline))
    return 1
  end
  redis.call('HSET', key, field, row)
  if current ~= -1 and deadline > current then
    redis.call('PEXPIREAT', key, string.format('%.0f', deadline))
  end
  return 1
end
-- end of lww_write
return lww_write(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
