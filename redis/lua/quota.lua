-- Quota: one event against a sliding-window quota and, when given, its
-- group's.
-- KEYS: 1 the client's key, 2 (optional) its group's key; each a list of
-- the instants (µs) of its latest events, newest first, at most its limit.
-- ARGV: nowUs, windowUs, take ('1' to record the event when allowed, '0'
-- to only ask), then each key's limit.
-- Reply: 0 when allowed (and recorded when taken), else the µs until one
-- more event is allowed (nothing is recorded).
local now, window, take = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1'
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[3 + i])
  local oldest = tonumber(redis.call('LINDEX', key, limit - 1))
  if oldest and oldest + window - now > wait then
    wait = oldest + window - now
  end
end
if wait > 0 or not take then
  return wait
end
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[3 + i])
  local at = now
  local newest = tonumber(redis.call('LINDEX', key, 0))
  if newest and newest > at then
    at = newest -- a clock going back keeps the order
  end
  redis.call('LPUSH', key, string.format('%.17g', at))
  redis.call('LTRIM', key, 0, limit - 1)
  redis.call('PEXPIRE', key, math.ceil((at + window - now) / 1000))
end
return 0
