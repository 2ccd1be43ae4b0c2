-- Status: ARGV user, seq, nowMs. Reply: F for an unknown room, else the
-- standing place|room.
local now = tonumber(ARGV[3])
local m = room()
if not m[1] then
  return 'F'
end
return look(ARGV[1], ARGV[2], now, m, counter(now, m)) .. '|' .. roomPart(m)
