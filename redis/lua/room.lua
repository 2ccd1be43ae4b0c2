-- Prelude of the scripts that answer with a ticket's standing.
-- KEYS: 1 meta, 2 waiting, 3 seen, 4 active, 5 users: one room, one slot.
local meta, waiting, seen, active, users = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]

-- room reads the room; m[1] is false for an unknown room.
-- 1 st, 2 aps, 3 max, 4 ses, 5 idle, 6 open, 7 rate, 8 ix, 9 arate,
-- 10 avail, 11 held, 12 drawn, 13 maxs (absent in rooms older than it)
local function room()
  return redis.call('HMGET', meta, 'st', 'aps', 'max', 'ses', 'idle', 'open', 'rate', 'ix', 'arate', 'avail', 'held', 'drawn',
    'maxs')
end

-- roomPart is the room's part of a standing:
-- rate|abandonRate|strategy|admitPerSecond|maxActive|sessionSeconds|idleSeconds|opensAtMs|maxSessionSeconds
local function roomPart(m)
  return table.concat({m[7] or '0', m[9] or '0', m[1], m[2], m[3], m[4], m[5], m[6], m[13] or '0'}, '|')
end

-- place is the ticket's part of a standing:
-- state|seq|position|sessionEndMs|waiting|sessionEndsAtMs, the last 0 but
-- for a session with an absolute end.
local function place(state, seq, position, sessionEnd, w, endsAt)
  return table.concat({state, seq, position, sessionEnd, w, endsAt or 0}, '|')
end

-- soldOut: the last supply report had no seat available or held.
local function soldOut(m)
  return m[10] and tonumber(m[10]) <= 0 and tonumber(m[11]) <= 0
end

-- ticketOf returns the seq (a string) of user's live ticket, when it
-- joined (ms) and, for a session, its absolute end (ms), from the users
-- hash value seq:joinedMs, or seq:joinedMs:endMs once admitted with an end.
local function ticketOf(user)
  local v = redis.call('HGET', users, user)
  if not v then
    return nil
  end
  local i = string.find(v, ':', 1, true)
  if not i then
    return v, nil, nil
  end
  local seq, rest = string.sub(v, 1, i - 1), string.sub(v, i + 1)
  local j = string.find(rest, ':', 1, true)
  if not j then
    return seq, tonumber(rest), nil
  end
  return seq, tonumber(string.sub(rest, 1, j - 1)), tonumber(string.sub(rest, j + 1))
end

-- liveSince returns the last heartbeat of user's waiting place if the place
-- is alive at now: a place idle for idleSeconds has ended.
local function liveSince(user, now, m)
  local last = tonumber(redis.call('ZSCORE', seen, user))
  if last and last > now - tonumber(m[5]) * 1000 then
    return last
  end
  return nil
end

-- counter returns a function counting, once, the places alive at now.
local function counter(now, m)
  local w
  return function()
    if not w then
      w = redis.call('ZCARD', waiting) - redis.call('ZCOUNT', seen, '-inf', now - tonumber(m[5]) * 1000)
    end
    return w
  end
end

-- waitingPlace is the place of user's live waiting place.
local function waitingPlace(user, seq, now, m, count)
  if soldOut(m) then
    return place('S', seq, 0, 0, 0)
  end
  if now < tonumber(m[6]) then
    return place('P', seq, 0, 0, count())
  end
  return place('W', seq, redis.call('ZRANK', waiting, user) + 1, 0, count())
end

-- look is queue.Store.Status of (user, seq) without the room's part: it
-- records a heartbeat for a live waiting place.
local function look(user, seq, now, m, count)
  local cur, _, endsAt = ticketOf(user)
  if cur ~= seq then
    return place('E', seq, 0, 0, 0)
  end
  local sessionEnd = tonumber(redis.call('ZSCORE', active, user))
  if sessionEnd then
    if sessionEnd > now then
      return place('A', seq, 0, sessionEnd, 0, endsAt)
    end
    return place('E', seq, 0, 0, 0)
  end
  local last = liveSince(user, now, m)
  if not last then
    return place('E', seq, 0, 0, 0)
  end
  if now > last then
    redis.call('ZADD', seen, now, user)
  end
  return waitingPlace(user, seq, now, m, count)
end
