-- Join: ARGV user, nowMs, then the settings a new room gets: strategy,
-- admitPerSecond, maxActive, sessionSeconds, idleSeconds, opensAtMs.
-- Reply: standing|created|indexed.
local user, now = ARGV[1], tonumber(ARGV[2])
local m = room()
if not m[1] then
  redis.call('HSET', meta, 'st', ARGV[3], 'aps', ARGV[4], 'max', ARGV[5], 'ses', ARGV[6], 'idle', ARGV[7], 'open', ARGV[8])
  m = {ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], false, false}
end
local indexed = '|0'
if m[8] == '1' then
  indexed = '|1'
end

local cur = redis.call('HGET', users, user)
if cur then
  local sessionEnd = tonumber(redis.call('ZSCORE', active, user))
  if sessionEnd then
    if sessionEnd > now then
      return standing('A', cur, 0, sessionEnd, m) .. '|0' .. indexed
    end
    redis.call('ZREM', active, user)
  else
    local last = liveSince(user, now, m)
    if last then
      if now > last then
        redis.call('ZADD', seen, now, user)
      end
      return standing(waitingState(now, m), cur, redis.call('ZRANK', waiting, user) + 1, 0, m) .. '|0' .. indexed
    end
    redis.call('ZREM', waiting, user)
    redis.call('ZREM', seen, user)
    redis.call('HINCRBY', meta, 'dropped', 1)
  end
end

local seq = redis.call('HINCRBY', meta, 'seq', 1)
redis.call('ZADD', waiting, seq, user)
redis.call('ZADD', seen, now, user)
redis.call('HSET', users, user, seq)
return standing(waitingState(now, m), seq, redis.call('ZCARD', waiting), 0, m) .. '|1' .. indexed
