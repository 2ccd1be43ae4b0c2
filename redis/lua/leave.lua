-- Leave: KEYS as the prelude's, then 6 draw; ARGV user, seq.
-- Reply: 1 if the ticket was live and has ended, else 0.
local draw = KEYS[6]
local user = ARGV[1]
if ticketOf(user) ~= ARGV[2] then
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
