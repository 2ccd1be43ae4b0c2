-- Prelude of every script that takes an instant: instant(v) is the
-- instant an argument names, in ms: the number itself, or for T Redis's
-- own clock, read once per script run, so that every instance decides on
-- the one clock they share.
local serverNow
local function instant(v)
  if v ~= 'T' then
    return tonumber(v)
  end
  if not serverNow then
    local t = redis.call('TIME')
    serverNow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return serverNow
end
