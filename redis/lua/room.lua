-- Prelude of the scripts that answer with a ticket's standing.
-- KEYS: 1 meta, 2 waiting, 3 seen, 4 active, 5 users: one room, one slot.
local meta, waiting, seen, active, users = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]

-- room reads the room's settings, measured rate and index flag; m[1] is
-- false for an unknown room.
local function room()
  return redis.call('HMGET', meta, 'st', 'aps', 'max', 'ses', 'idle', 'open', 'rate', 'ix')
end

-- standing is the reply:
-- state|seq|position|sessionEndMs|rate|strategy|admitPerSecond|maxActive|sessionSeconds|idleSeconds|opensAtMs
local function standing(state, seq, position, sessionEnd, m)
  return table.concat({state, seq, position, sessionEnd, m[7] or '0', m[1], m[2], m[3], m[4], m[5], m[6]}, '|')
end

-- waitingState is P before the opening, W from it on.
local function waitingState(now, m)
  if now < tonumber(m[6]) then
    return 'P'
  end
  return 'W'
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
