-- Time: KEYS 1 a key of the room, which routes the call to the room's
-- node. ARGV nowMs. Reply: the instant in ms.
return instant(ARGV[1])
