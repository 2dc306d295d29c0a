-- Appends one apply to the registry log if nobody appended since the caller read it.
-- KEYS[1] sequence (integer string), KEYS[2] latest state (JSON), KEYS[3] log records (list of JSON)
-- ARGV[1] expected current sequence, ARGV[2] new state JSON, ARGV[3] log record JSON
-- Returns 1 when appended, 0 when the sequence moved on (another server applied first).
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current ~= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], current + 1)
redis.call('SET', KEYS[2], ARGV[2])
redis.call('RPUSH', KEYS[3], ARGV[3])
return 1
