-- Admit: one admission step of queue.Store.Admit.
-- KEYS: 1 meta, 2 waiting, 3 seen, 4 active, 5 users, 6 draw, 7 waits,
-- 8 lease, 9 log: one room, one slot.
-- ARGV: owner, leaseMs, nowMs, batch, rateHalfLifeSeconds, admitLimit, logLen.
-- Reply: {F} for an unknown room; {0} when another owner holds the lease;
-- else {1|admitted|dropped|ended|atMs|first|drew|waiting, admitted seqs,
-- gone seqs}, the seqs comma-separated in order; waiting is the places
-- waiting, not idle, before the step admitted any.
local meta, waiting, seen, active, users = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local draw, waits, lease, log = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local owner, now, batch, halfLife = ARGV[1], instant(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local admitLimit, logLen = tonumber(ARGV[6]), tonumber(ARGV[7])

-- seconds converts a positive number of milliseconds to seconds with the
-- same float operations as Go's time.Duration.Seconds.
local function seconds(ms)
  local s = math.floor(ms / 1000)
  return s + ((ms - s * 1000) * 1e6) / 1e9
end

-- measure is queue.MeasureRate.
local function measure(rate, count, ms)
  if ms <= 0 then
    return rate
  end
  local elapsed = seconds(ms)
  local sample = count / elapsed
  if rate == 0 then
    return sample
  end
  local w = 1 - 2 ^ (-elapsed / halfLife)
  return rate + w * (sample - rate)
end

-- waitBucket is queue.WaitBucket of a wait in ms, for the waits hash.
local function waitBucket(ms)
  local lo, hi = 1, #WAIT_BOUNDS + 1
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if ms <= WAIT_BOUNDS[mid] then
      hi = mid
    else
      lo = mid + 1
    end
  end
  return lo - 1
end

local function float(x)
  return string.format('%.17g', x)
end

local m = redis.call('HMGET', meta, 'st', 'aps', 'max', 'ses', 'idle', 'open', 'rate', 'credit', 'last', 'step',
  'drawn', 'avail', 'held', 'arate', 'astep', 'aat', 'abandoned', 'win', 'maxs')
if not m[1] then
  return {'F'}
end
local holder = redis.call('HMGET', lease, 'owner', 'until')
if holder[1] and holder[1] ~= owner and now < tonumber(holder[2]) then
  return {'0'}
end
redis.call('HSET', lease, 'owner', owner, 'until', now + tonumber(ARGV[2]))

-- Places idle since cutoff and sessions lapsed by now have ended; remove
-- up to batch of each, oldest first. Until the draw is made, a dropped
-- prequeue place leaves it.
local drawn = m[11] == '1'
local cutoff = now - tonumber(m[5]) * 1000
local gone = {}
-- seqsOf appends to gone the seqs of members' live tickets.
local function seqsOf(members)
  for _, v in ipairs(redis.call('HMGET', users, unpack(members))) do
    if v then
      local j = string.find(v, ':', 1, true)
      if j then
        v = string.sub(v, 1, j - 1)
      end
      gone[#gone + 1] = v
    end
  end
end
local idle = redis.call('ZRANGEBYSCORE', seen, '-inf', cutoff, 'LIMIT', 0, batch)
if #idle > 0 then
  seqsOf(idle)
  redis.call('ZREM', waiting, unpack(idle))
  redis.call('ZREM', seen, unpack(idle))
  redis.call('HDEL', users, unpack(idle))
  if not drawn then
    redis.call('ZREM', draw, unpack(idle))
  end
end
local lapsed = redis.call('ZRANGEBYSCORE', active, '-inf', now, 'LIMIT', 0, batch)
if #lapsed > 0 then
  seqsOf(lapsed)
  redis.call('ZREM', active, unpack(lapsed))
  redis.call('HDEL', users, unpack(lapsed))
end
local dropped, ended, admitted = #idle, #lapsed, 0
local idleLeft = redis.call('ZCOUNT', seen, '-inf', cutoff)
-- Live places; ended ones beyond the batch do not count.
local w = redis.call('ZCARD', waiting) - idleLeft

-- Abandonment: fold what happened since the previous step.
local abandoned = (tonumber(m[17]) or 0) + dropped
local astep = tonumber(m[15])
if not astep or now > astep then
  local n = abandoned - (tonumber(m[16]) or 0)
  if astep and (w > 0 or n > 0) then
    redis.call('HSET', meta, 'arate', float(measure(tonumber(m[14]) or 0, n, now - astep)))
  end
  redis.call('HSET', meta, 'astep', now, 'aat', abandoned)
end
if dropped > 0 then
  redis.call('HINCRBY', meta, 'dropped', dropped)
  redis.call('HINCRBY', meta, 'abandoned', dropped)
end

local open = tonumber(m[6])
local function reply(admittedSeqs, first, drew)
  return {table.concat({'1', admitted, dropped, ended, now, first, drew, w}, '|'), table.concat(admittedSeqs, ','),
    table.concat(gone, ',')}
end
if now < open or (not drawn and idleLeft > 0) then
  return reply({}, 0, 0)
end
-- The draw is the prequeue places in the draw set, frozen from now on.
local drew = 0
if not drawn then
  redis.call('HSET', meta, 'drawn', '1', 'drawnAt', now)
  drew = 1
end

local strategy, perSecond, maxActive = m[1], tonumber(m[2]), tonumber(m[3])
local usesRate = strategy == 'RATE' or strategy == 'RATE_AND_MAX_ACTIVE'
local usesMax = strategy == 'MAX_ACTIVE' or strategy == 'RATE_AND_MAX_ACTIVE'
local paused = m[12] and tonumber(m[12]) <= 0
-- Every session not yet removed counts, lapsed or not: a Use with an
-- earlier clock may still extend it.
local a = redis.call('ZCARD', active)

-- queue.Allowance; a paused room has none eligible.
local n = w
local window, used = {}, 0
local RATE_LIMIT = math.max(1, math.ceil(perSecond - 1e-9))
if paused then
  n = 0
end
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
  -- queue.Allowance's window: the steps of the last period, ms:n each.
  for step in string.gmatch(m[18] or '', '[^,]+') do
    local j = string.find(step, ':', 1, true)
    local at = tonumber(string.sub(step, 1, j - 1))
    if at > now - PERIOD then
      window[#window + 1] = step
      used = used + tonumber(string.sub(step, j + 1))
    end
  end
  n = math.min(n, RATE_LIMIT - used)
end
if usesMax then
  n = math.min(n, math.max(0, maxActive - a))
end
n = math.max(n, 0)
if usesRate then
  credit = credit - n
end

-- Admit from the head in key order, in chunks of batch. An ended place
-- there means more ended than one sweep removes; the step then stops
-- short and keeps the credit.
local limit = math.min(n, admitLimit)
local sessionEnd = now + tonumber(m[4]) * 1000
-- A session's absolute end, kept in its users hash value (seq:joinedMs:endMs).
local endsAt = nil
if (tonumber(m[19]) or 0) > 0 then
  endsAt = now + tonumber(m[19]) * 1000
  sessionEnd = math.min(sessionEnd, endsAt)
end
local hist = {}
local seqs = {}
while admitted < limit do
  local head = redis.call('ZRANGE', waiting, 0, math.min(limit - admitted, batch) - 1, 'WITHSCORES')
  if #head == 0 then
    break
  end
  local members = {}
  for i = 1, #head, 2 do
    members[#members + 1] = head[i]
  end
  local lasts = redis.call('ZMSCORE', seen, unpack(members))
  local tickets = redis.call('HMGET', users, unpack(members))
  local add, taken, entries, ends, stop = {}, {}, {}, {}, false
  for i, u in ipairs(members) do
    local last = tonumber(lasts[i])
    if not last or last <= cutoff then
      stop = true
      break
    end
    local seq, joined = tickets[i] or '0', open
    if endsAt and tickets[i] then
      ends[#ends + 1] = u
      ends[#ends + 1] = tickets[i] .. ':' .. endsAt
    end
    local j = string.find(seq, ':', 1, true)
    if j then
      joined = math.max(tonumber(string.sub(seq, j + 1)), open)
      seq = string.sub(seq, 1, j - 1)
    end
    local b = waitBucket(now - joined)
    hist[b] = (hist[b] or 0) + 1
    local prequeue = '0'
    if tonumber(head[2 * i]) < DRAW_SPAN then
      prequeue = '1'
    end
    add[#add + 1] = sessionEnd
    add[#add + 1] = u
    taken[#taken + 1] = u
    seqs[#seqs + 1] = seq
    entries[#entries + 1] = seq .. '|' .. now .. '|' .. prequeue .. '|' .. u
  end
  if #taken > 0 then
    redis.call('ZREM', waiting, unpack(taken))
    redis.call('ZREM', seen, unpack(taken))
    redis.call('ZADD', active, unpack(add))
    if #ends > 0 then
      redis.call('HSET', users, unpack(ends))
    end
    redis.call('RPUSH', log, unpack(entries))
    admitted = admitted + #taken
  end
  if stop then
    break
  end
end
local first = 0
if admitted > 0 then
  redis.call('LTRIM', log, -logLen, -1)
  first = redis.call('HINCRBY', meta, 'admitted', admitted) - admitted + 1
  for b, c in pairs(hist) do
    redis.call('HINCRBY', waits, b, c)
  end
end

if usesRate then
  if admitted < n then
    credit = credit + (n - admitted)
  end
  if admitted > 0 then
    window[#window + 1] = now .. ':' .. admitted
  end
  redis.call('HSET', meta, 'credit', float(credit), 'last', now, 'win', table.concat(window, ','))
end
local step = tonumber(m[10])
if w > 0 and step and not paused then
  redis.call('HSET', meta, 'rate', float(measure(tonumber(m[7]) or 0, admitted, now - step)))
end
redis.call('HSET', meta, 'step', now)
return reply(seqs, first, drew)
