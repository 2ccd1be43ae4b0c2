-- Statuses: ARGV user, seq, nowMs of each ticket. Reply: {F} for an
-- unknown room, else {room part, place of each ticket}.
local m = room()
if not m[1] then
  return {'F'}
end
local out, counters = {roomPart(m)}, {}
for i = 1, #ARGV, 3 do
  local now = instant(ARGV[i + 2])
  local count = counters[now]
  if not count then
    count = counter(now, m)
    counters[now] = count
  end
  out[#out + 1] = look(ARGV[i], ARGV[i + 1], now, m, count)
end
return out
