-- Spend: KEYS 1 the proof's key, in its room's slot. ARGV expiresMs, nowMs.
-- Reply: S when spent now, U when used already, X when expired at now.
local ttl = tonumber(ARGV[1]) - instant(ARGV[2])
if ttl <= 0 then
  return 'X'
end
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ttl) then
  return 'S'
end
return 'U'
