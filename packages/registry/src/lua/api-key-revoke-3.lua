-- Revokes the active API key of a name.
-- KEYS[1] records (hash id -> record JSON), KEYS[2] active names (hash name -> id), KEYS[3] change mark (counter)
-- ARGV[1] name, ARGV[2] revocation time (ms)
-- Returns the revoked record JSON, or false when no active key has that name.
local id = redis.call('HGET', KEYS[2], ARGV[1])
if not id then
  return false
end
local record = cjson.decode(redis.call('HGET', KEYS[1], id))
record['revokedAtMillis'] = tonumber(ARGV[2])
local text = cjson.encode(record)
redis.call('HSET', KEYS[1], id, text)
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('INCR', KEYS[3])
return text
