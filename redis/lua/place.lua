-- Place: KEYS as the prelude's. ARGV user, nowMs. Reply: {F} for an
-- unknown room, else {room part, place of the user's live ticket, or
-- E|0|0|0|0 when the user has none}.
local m = room()
if not m[1] then
  return {'F'}
end
local now = instant(ARGV[2])
local seq = ticketOf(ARGV[1])
if not seq then
  return {roomPart(m), place('E', 0, 0, 0, 0)}
end
local p = look(ARGV[1], seq, now, m, counter(now, m))
if string.sub(p, 1, 1) == 'E' then
  p = place('E', 0, 0, 0, 0)
end
return {roomPart(m), p}
