-- Leave: KEYS as the prelude's, then 6 draw; ARGV user, seq for each
-- ticket, all of this room.
-- Reply: how many of the tickets were live and have ended.
local draw = KEYS[6]
local drawn = redis.call('HGET', meta, 'drawn') == '1'
local ended = 0
for i = 1, #ARGV, 2 do
  local user = ARGV[i]
  if ticketOf(user) == ARGV[i + 1] then
    if redis.call('ZREM', active, user) == 0 then
      redis.call('ZREM', waiting, user)
      redis.call('ZREM', seen, user)
      if not drawn then
        redis.call('ZREM', draw, user)
      end
      redis.call('HINCRBY', meta, 'abandoned', 1)
    end
    redis.call('HDEL', users, user)
    ended = ended + 1
  end
end
return ended
