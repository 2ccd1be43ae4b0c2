-- Supply: KEYS meta; ARGV available, held (1 or 0: any seat of each),
-- nowMs. Reply: F for an unknown room, 0 for a report older than the
-- room's latest, else 1.
local m = redis.call('HMGET', KEYS[1], 'st', 'sat')
if not m[1] then
  return 'F'
end
local now = instant(ARGV[3])
if m[2] and now < tonumber(m[2]) then
  return '0'
end
redis.call('HSET', KEYS[1], 'avail', ARGV[1], 'held', ARGV[2], 'sat', now)
return '1'
