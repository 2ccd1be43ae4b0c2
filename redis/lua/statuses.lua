-- Statuses: ARGV nowMs, then user, seq of each ticket. Reply: {F} for an
-- unknown room, else {room part, place of each ticket}.
local now = tonumber(ARGV[1])
local m = room()
if not m[1] then
  return {'F'}
end
local out, count = {roomPart(m)}, counter(now, m)
for i = 2, #ARGV, 2 do
  out[#out + 1] = look(ARGV[i], ARGV[i + 1], now, m, count)
end
return out
