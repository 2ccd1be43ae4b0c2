-- Use: ARGV user, seq, nowMs. Reply: X when the ticket has ended, S while
-- it waits in a sold-out room, N|position while it waits, else the
-- standing of the extended session.
local user, seq, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local m = room()
if not m[1] or ticketOf(user) ~= seq then
  return 'X'
end
local sessionEnd = tonumber(redis.call('ZSCORE', active, user))
if sessionEnd then
  if sessionEnd <= now then
    return 'X'
  end
  local extended = now + tonumber(m[4]) * 1000
  if extended > sessionEnd then
    redis.call('ZADD', active, extended, user)
    sessionEnd = extended
  end
  return place('A', seq, 0, sessionEnd, 0) .. '|' .. roomPart(m)
end
if not liveSince(user, now, m) then
  return 'X'
end
if soldOut(m) then
  return 'S'
end
if now < tonumber(m[6]) then
  return 'N|0'
end
return 'N|' .. (redis.call('ZRANK', waiting, user) + 1)
