-- Configure: KEYS meta; ARGV version, then field, value pairs of the
-- settings and opening. Reply: 1 when applied, 0 for an unknown room or a
-- version below the room's.
local ver = redis.call('HGET', KEYS[1], 'ver')
if not redis.call('HGET', KEYS[1], 'st') or (ver and tonumber(ver) > tonumber(ARGV[1])) then
  return 0
end
redis.call('HSET', KEYS[1], 'ver', ARGV[1], unpack(ARGV, 2))
return 1
