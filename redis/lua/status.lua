-- Status: ARGV user, seq, nowMs. Reply: F for an unknown room, else standing.
local user, seq, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local m = room()
if not m[1] then
  return 'F'
end
if redis.call('HGET', users, user) ~= seq then
  return standing('E', seq, 0, 0, m)
end
local sessionEnd = tonumber(redis.call('ZSCORE', active, user))
if sessionEnd then
  if sessionEnd > now then
    return standing('A', seq, 0, sessionEnd, m)
  end
  return standing('E', seq, 0, 0, m)
end
local last = liveSince(user, now, m)
if not last then
  return standing('E', seq, 0, 0, m)
end
if now > last then
  redis.call('ZADD', seen, now, user)
end
return standing(waitingState(now, m), seq, redis.call('ZRANK', waiting, user) + 1, 0, m)
