-- Limit: one request against a GCRA rate limit.
-- KEYS: 1 the client's key, holding its theoretical arrival time (µs).
-- ARGV: nowUs, intervalUs (one request's worth of time), toleranceUs
-- (burst × interval).
-- Reply: 0 when allowed, else the µs to wait before a request is allowed.
local now, interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local new = tat + interval
-- Half a microsecond absorbs the rounding of summed intervals.
local wait = new - now - tolerance
if wait > 0.5 then
  return math.ceil(wait)
end
redis.call('SET', KEYS[1], string.format('%.17g', new), 'PX', math.ceil((new - now) / 1000))
return 0
