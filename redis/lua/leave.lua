-- Leave: KEYS meta, waiting, seen, active, users; ARGV user, seq.
-- Reply: 1 if the ticket was live and has ended, else 0.
local meta, waiting, seen, active, users = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local user = ARGV[1]
if redis.call('HGET', users, user) ~= ARGV[2] then
  return 0
end
if redis.call('ZREM', active, user) == 0 then
  redis.call('ZREM', waiting, user)
  redis.call('ZREM', seen, user)
  redis.call('HINCRBY', meta, 'dropped', 1)
end
redis.call('HDEL', users, user)
return 1
