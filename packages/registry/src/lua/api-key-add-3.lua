-- Adds an API key; a rotation revokes the key it replaces in the same step.
-- KEYS[1] records (hash id -> record JSON), KEYS[2] active names (hash name -> id), KEYS[3] change mark (counter)
-- ARGV[1] new id, ARGV[2] new record JSON, ARGV[3] name, ARGV[4] id of the key it replaces ('' for none),
-- ARGV[5] revocation time of the replaced key (ms)
-- Returns 1 when added, 0 when the active key of that name is not the one named in ARGV[4].
local current = redis.call('HGET', KEYS[2], ARGV[3])
if (current or '') ~= ARGV[4] then
  return 0
end
if current then
  local old = cjson.decode(redis.call('HGET', KEYS[1], current))
  old['revokedAtMillis'] = tonumber(ARGV[5])
  redis.call('HSET', KEYS[1], current, cjson.encode(old))
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[1])
redis.call('INCR', KEYS[3])
return 1
