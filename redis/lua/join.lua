-- Join: KEYS as the prelude's, then 6 draw. ARGV: user, nowMs, draw key
-- of each join, in arrival order. Reply: {F} for an unknown room, else
-- {room part, then per join: S when the room is sold out, else
-- place|created|key}.
local draw = KEYS[6]
local m = room()
if not m[1] then
  return {'F'}
end
local drawn = m[12] == '1'

local function join(user, nowMs, drawKey)
  local now = instant(nowMs)
  local count = counter(now, m)
  local cur, _, endsAt = ticketOf(user)
  if cur then
    local sessionEnd = tonumber(redis.call('ZSCORE', active, user))
    if sessionEnd then
      if sessionEnd > now then
        return place('A', cur, 0, sessionEnd, 0, endsAt) .. '|0|0'
      end
      redis.call('ZREM', active, user)
    else
      local last = liveSince(user, now, m)
      if last then
        if soldOut(m) then
          return 'S'
        end
        if now > last then
          redis.call('ZADD', seen, now, user)
        end
        return waitingPlace(user, cur, now, m, count) .. '|0|' .. string.format('%.17g', redis.call('ZSCORE', waiting, user))
      end
      redis.call('ZREM', waiting, user)
      redis.call('ZREM', seen, user)
      if not drawn then
        redis.call('ZREM', draw, user)
      end
      redis.call('HINCRBY', meta, 'dropped', 1)
      redis.call('HINCRBY', meta, 'abandoned', 1)
    end
  end
  if soldOut(m) then
    return 'S'
  end
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  local key
  if now < tonumber(m[6]) and not drawn then
    key = drawKey
    redis.call('ZADD', draw, key, user)
  else
    key = string.format('%.17g', DRAW_SPAN + seq)
  end
  redis.call('ZADD', waiting, key, user)
  redis.call('ZADD', seen, now, user)
  redis.call('HSET', users, user, seq .. ':' .. now)
  return waitingPlace(user, seq, now, m, count) .. '|1|' .. key
end

local out = {roomPart(m)}
for i = 1, #ARGV, 3 do
  out[#out + 1] = join(ARGV[i], ARGV[i + 1], ARGV[i + 2])
end
return out
