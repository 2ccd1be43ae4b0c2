-- Leave: KEYS meta, waiting, seen, active, users, draw; ARGV user, seq.
-- Reply: 1 if the ticket was live and has ended, else 0.
local meta, waiting, seen, active, users, draw = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local user = ARGV[1]
local v = redis.call('HGET', users, user)
if not v then
  return 0
end
local i = string.find(v, ':', 1, true)
if i then
  v = string.sub(v, 1, i - 1)
end
if v ~= ARGV[2] then
  return 0
end
if redis.call('ZREM', active, user) == 0 then
  redis.call('ZREM', waiting, user)
  redis.call('ZREM', seen, user)
  if redis.call('HGET', meta, 'drawn') ~= '1' then
    redis.call('ZREM', draw, user)
  end
  redis.call('HINCRBY', meta, 'abandoned', 1)
end
redis.call('HDEL', users, user)
return 1
