-- Stats: KEYS meta, waiting, seen, active, users, draw, waits; ARGV nowMs.
-- Reply: F for an unknown room, else
-- waiting|active|admittedTotal|droppedTotal|abandonedTotal|rate|abandonRate|available|held|drawn
-- then bucket|count for each non-empty bucket of the wait histogram;
-- available and held are - before any supply report; drawn is 1 or 0.
local meta, waiting, seen, active, waits = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[7]
local now = instant(ARGV[1])
local m = redis.call('HMGET', meta, 'st', 'idle', 'admitted', 'dropped', 'abandoned', 'rate', 'arate', 'avail', 'held', 'drawn')
if not m[1] then
  return 'F'
end
local cutoff = now - tonumber(m[2]) * 1000
local w = redis.call('ZCARD', waiting) - redis.call('ZCOUNT', seen, '-inf', cutoff)
local a = redis.call('ZCARD', active) - redis.call('ZCOUNT', active, '-inf', now)
local out = {w, a, m[3] or 0, m[4] or 0, m[5] or 0, m[6] or '0', m[7] or '0', m[8] or '-', m[9] or '-', m[10] or '0'}
for _, v in ipairs(redis.call('HGETALL', waits)) do
  out[#out + 1] = v
end
return table.concat(out, '|')
