-- Admit: one admission step of queue.Store.Admit.
-- KEYS: 1 meta, 2 waiting, 3 seen, 4 active, 5 users, 6 lease: one room, one slot.
-- ARGV: owner, leaseMs, nowMs, batch, rateHalfLifeSeconds, admitLimit.
-- Reply: F for an unknown room; 0 when another owner holds the lease;
-- else 1|admitted|dropped|ended.
local meta, waiting, seen, active, users, lease = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local owner, now, batch, halfLife = ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local admitLimit = tonumber(ARGV[6])

-- seconds converts a positive number of milliseconds to seconds with the
-- same float operations as Go's time.Duration.Seconds.
local function seconds(ms)
  local s = math.floor(ms / 1000)
  return s + ((ms - s * 1000) * 1e6) / 1e9
end

-- measure is queue.MeasureRate.
local function measure(rate, admitted, ms)
  if ms <= 0 then
    return rate
  end
  local elapsed = seconds(ms)
  local sample = admitted / elapsed
  if rate == 0 then
    return sample
  end
  local w = 1 - 2 ^ (-elapsed / halfLife)
  return rate + w * (sample - rate)
end

local m = redis.call('HMGET', meta, 'st', 'aps', 'max', 'ses', 'idle', 'open', 'rate', 'credit', 'last', 'step')
if not m[1] then
  return 'F'
end
local holder = redis.call('HMGET', lease, 'owner', 'until')
if holder[1] and holder[1] ~= owner and now < tonumber(holder[2]) then
  return '0'
end
redis.call('HSET', lease, 'owner', owner, 'until', now + tonumber(ARGV[2]))

-- Places idle since cutoff and sessions lapsed by now have ended; remove
-- up to batch of each, oldest first.
local cutoff = now - tonumber(m[5]) * 1000
local idle = redis.call('ZRANGEBYSCORE', seen, '-inf', cutoff, 'LIMIT', 0, batch)
if #idle > 0 then
  redis.call('ZREM', waiting, unpack(idle))
  redis.call('ZREM', seen, unpack(idle))
  redis.call('HDEL', users, unpack(idle))
end
local lapsed = redis.call('ZRANGEBYSCORE', active, '-inf', now, 'LIMIT', 0, batch)
if #lapsed > 0 then
  redis.call('ZREM', active, unpack(lapsed))
  redis.call('HDEL', users, unpack(lapsed))
end
local dropped, ended, admitted = #idle, #lapsed, 0

if now >= tonumber(m[6]) then
  local strategy, perSecond, maxActive = m[1], tonumber(m[2]), tonumber(m[3])
  local usesRate = strategy == 'RATE' or strategy == 'RATE_AND_MAX_ACTIVE'
  local usesMax = strategy == 'MAX_ACTIVE' or strategy == 'RATE_AND_MAX_ACTIVE'
  -- Live places and sessions; ended ones beyond the batch do not count.
  local w = redis.call('ZCARD', waiting) - redis.call('ZCOUNT', seen, '-inf', cutoff)
  local a = redis.call('ZCARD', active) - redis.call('ZCOUNT', active, '-inf', now)

  -- queue.Allowance
  local n = w
  local credit = tonumber(m[8]) or 0
  if usesRate then
    local last = tonumber(m[9])
    if not last then
      credit = 1
    elseif now > last then
      credit = credit + seconds(now - last) * perSecond
    end
    credit = math.min(credit, math.max(1, perSecond))
    n = math.min(n, math.floor(credit + 1e-9))
  end
  if usesMax then
    n = math.min(n, math.max(0, maxActive - a))
  end
  n = math.max(n, 0)
  if usesRate then
    credit = credit - n
  end

  -- Admit from the head in seq order, in chunks of batch. An ended place
  -- there means more ended than one sweep removes; the step then stops
  -- short and keeps the credit.
  local limit = math.min(n, admitLimit)
  local sessionEnd = now + tonumber(m[4]) * 1000
  while admitted < limit do
    local head = redis.call('ZRANGE', waiting, 0, math.min(limit - admitted, batch) - 1)
    if #head == 0 then
      break
    end
    local lasts = redis.call('ZMSCORE', seen, unpack(head))
    local add, stop = {}, false
    for i, u in ipairs(head) do
      local last = tonumber(lasts[i])
      if not last or last <= cutoff then
        stop = true
        break
      end
      add[#add + 1] = sessionEnd
      add[#add + 1] = u
    end
    if #add > 0 then
      local taken = {}
      for i = 2, #add, 2 do
        taken[#taken + 1] = add[i]
      end
      redis.call('ZREM', waiting, unpack(taken))
      redis.call('ZREM', seen, unpack(taken))
      redis.call('ZADD', active, unpack(add))
      admitted = admitted + #taken
    end
    if stop then
      break
    end
  end

  if usesRate then
    if admitted < n then
      credit = credit + (n - admitted)
    end
    redis.call('HSET', meta, 'credit', string.format('%.17g', credit), 'last', now)
  end
  local step = tonumber(m[10])
  if w > 0 and step then
    redis.call('HSET', meta, 'rate', string.format('%.17g', measure(tonumber(m[7]) or 0, admitted, now - step)))
  end
  redis.call('HSET', meta, 'step', now)
  if admitted > 0 then
    redis.call('HINCRBY', meta, 'admitted', admitted)
  end
end
if dropped > 0 then
  redis.call('HINCRBY', meta, 'dropped', dropped)
end
return '1|' .. admitted .. '|' .. dropped .. '|' .. ended
