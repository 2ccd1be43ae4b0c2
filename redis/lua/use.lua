-- Use: ARGV user, seq, nowMs of each ticket. Reply: {room part, then per
-- ticket: X when the ticket has ended, S while it waits in a sold-out
-- room, N|position while it waits, else the place of the extended
-- session, never extended past its absolute end}; {F} for an unknown room.
local m = room()
if not m[1] then
  return {'F'}
end
local out = {roomPart(m)}

local maxSession = tonumber(m[13]) or 0

local function use(user, seq, now)
  local cur, joined, endsAt = ticketOf(user)
  if cur ~= seq then
    return 'X'
  end
  local sessionEnd = tonumber(redis.call('ZSCORE', active, user))
  if sessionEnd then
    if sessionEnd <= now then
      return 'X'
    end
    if not endsAt and maxSession > 0 then
      -- A session admitted before its room had an absolute end gets one
      -- from its first use.
      endsAt = now + maxSession * 1000
      redis.call('HSET', users, user, seq .. ':' .. (joined or now) .. ':' .. endsAt)
      if sessionEnd > endsAt then
        redis.call('ZADD', active, endsAt, user)
        sessionEnd = endsAt
      end
    end
    local extended = now + tonumber(m[4]) * 1000
    if endsAt and extended > endsAt then
      extended = endsAt
    end
    if extended > sessionEnd then
      redis.call('ZADD', active, extended, user)
      sessionEnd = extended
    end
    return place('A', seq, 0, sessionEnd, 0, endsAt)
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
end

for i = 1, #ARGV, 3 do
  out[#out + 1] = use(ARGV[i], ARGV[i + 1], instant(ARGV[i + 2]))
end
return out
