-- Restore: rebuilds a room in steps, under a claim that one owner holds.
-- KEYS: 1 meta, 2 waiting, 3 seen, 4 active, 5 users, 6 draw, 7 waits,
-- 8 lease, 9 log, 10 claim: one room, one slot.
-- ARGV: step, owner, nowMs, then the step's arguments:
--   begin  leaseMs: E when the room exists; B while another owner's claim
--          lasts; else G: the claim is taken and what an earlier attempt
--          left is cleared. Each later step extends the claim by leaseMs.
--   add    sessionMs, maxSessionMs, then records of 4 fields: W user key
--          seq:joinedMs (a waiting place, heartbeat now), A user
--          seq:joinedMs endMs (a session ending sessionMs from now or at
--          its absolute end endMs if earlier; endMs is 0 for none, - for
--          maxSessionMs from now), D user drawKey - (a draw entry), L
--          entry - - (an admission log entry): L when the claim is no
--          longer ours, else G.
--   finish rateLimit, then field, value pairs of the meta hash: as add;
--          with a rateLimit (not -) the admission credit starts empty now
--          and the window full; the room exists once it returns G.
local claim = KEYS[10]
local step, owner, now = ARGV[1], ARGV[2], instant(ARGV[3])
if step == 'begin' then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return 'E'
  end
  local c = redis.call('HMGET', claim, 'owner', 'until')
  if c[1] and c[1] ~= owner and now < tonumber(c[2]) then
    return 'B'
  end
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9])
  redis.call('HSET', claim, 'owner', owner, 'until', now + tonumber(ARGV[4]), 'lease', ARGV[4])
  return 'G'
end
local c = redis.call('HMGET', claim, 'owner', 'lease')
if c[1] ~= owner or redis.call('EXISTS', KEYS[1]) == 1 then
  return 'L'
end
redis.call('HSET', claim, 'until', now + tonumber(c[2]))
if step == 'finish' then
  redis.call('HSET', KEYS[1], unpack(ARGV, 5))
  if ARGV[4] ~= '-' then
    redis.call('HSET', KEYS[1], 'credit', '0', 'last', now, 'win', now .. ':' .. ARGV[4])
  end
  redis.call('DEL', claim)
  return 'G'
end
local log = {}
local sessionEnd, maxSession = now + tonumber(ARGV[4]), tonumber(ARGV[5])
for i = 6, #ARGV, 4 do
  local kind, a, b, c = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if kind == 'W' then
    redis.call('ZADD', KEYS[2], b, a)
    redis.call('ZADD', KEYS[3], now, a)
    redis.call('HSET', KEYS[5], a, c)
  elseif kind == 'A' then
    local e = tonumber(c)
    if c == '-' then
      e = 0
      if maxSession > 0 then
        e = now + maxSession
      end
    end
    if e > 0 then
      redis.call('ZADD', KEYS[4], math.min(sessionEnd, e), a)
      redis.call('HSET', KEYS[5], a, b .. ':' .. e)
    else
      redis.call('ZADD', KEYS[4], sessionEnd, a)
      redis.call('HSET', KEYS[5], a, b)
    end
  elseif kind == 'D' then
    redis.call('ZADD', KEYS[6], b, a)
  elseif kind == 'L' then
    log[#log + 1] = a
  end
end
if #log > 0 then
  redis.call('RPUSH', KEYS[9], unpack(log))
end
return 'G'
