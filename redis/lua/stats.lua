-- Stats: KEYS meta, waiting, seen, active; ARGV nowMs.
-- Reply: F for an unknown room, else waiting|active|admittedTotal|droppedTotal|rate.
local meta, waiting, seen, active = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = tonumber(ARGV[1])
local m = redis.call('HMGET', meta, 'st', 'idle', 'admitted', 'dropped', 'rate')
if not m[1] then
  return 'F'
end
local cutoff = now - tonumber(m[2]) * 1000
local w = redis.call('ZCARD', waiting) - redis.call('ZCOUNT', seen, '-inf', cutoff)
local a = redis.call('ZCARD', active) - redis.call('ZCOUNT', active, '-inf', now)
return table.concat({w, a, m[3] or 0, m[4] or 0, m[5] or '0'}, '|')
