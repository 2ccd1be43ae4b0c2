-- Join: KEYS as the prelude's, then 6 draw. ARGV user, nowMs, then the settings a new room gets:
-- strategy, admitPerSecond, maxActive, sessionSeconds, idleSeconds,
-- opensAtMs; then the user's draw key. Reply: S when the room is sold out,
-- else standing|created|indexed.
local draw = KEYS[6]
local user, now = ARGV[1], tonumber(ARGV[2])
local m = room()
if not m[1] then
  redis.call('HSET', meta, 'st', ARGV[3], 'aps', ARGV[4], 'max', ARGV[5], 'ses', ARGV[6], 'idle', ARGV[7], 'open', ARGV[8])
  m = {ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], false, false, false, false, false, false}
end
local drawn = m[12] == '1'
local indexed = '|0'
if m[8] == '1' then
  indexed = '|1'
end
local count = counter(now, m)

local cur = ticketOf(user)
if cur then
  local sessionEnd = tonumber(redis.call('ZSCORE', active, user))
  if sessionEnd then
    if sessionEnd > now then
      return place('A', cur, 0, sessionEnd, 0) .. '|' .. roomPart(m) .. '|0' .. indexed
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
      return waitingPlace(user, cur, now, m, count) .. '|' .. roomPart(m) .. '|0' .. indexed
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
  key = ARGV[9]
  redis.call('ZADD', draw, key, user)
else
  key = string.format('%.17g', DRAW_SPAN + seq)
end
redis.call('ZADD', waiting, key, user)
redis.call('ZADD', seen, now, user)
redis.call('HSET', users, user, seq .. ':' .. ARGV[2])
return waitingPlace(user, seq, now, m, count) .. '|' .. roomPart(m) .. '|1' .. indexed
