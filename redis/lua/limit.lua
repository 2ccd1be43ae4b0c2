-- Limit: one request against a GCRA rate limit and, when given, its
-- group's.
-- KEYS: 1 the client's key, 2 (optional) its group's key; each holds its
-- theoretical arrival time (µs).
-- ARGV: nowUs, then per key its intervalUs (one request's worth of time)
-- and toleranceUs (burst × interval).
-- Reply: 0 when allowed (a request is taken from every key), else the µs to
-- wait before a request is allowed (nothing is taken).
local now = tonumber(ARGV[1])
local wait, tats = 0, {}
for i, key in ipairs(KEYS) do
  local interval, tolerance = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then
    tat = now
  end
  tats[i] = tat + interval
  -- Half a microsecond absorbs the rounding of summed intervals.
  local w = tats[i] - now - tolerance
  if w > 0.5 and w > wait then
    wait = w
  end
end
if wait > 0 then
  return math.ceil(wait)
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, string.format('%.17g', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000))
end
return 0
