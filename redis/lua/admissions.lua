-- Admissions: KEYS meta, log; ARGV from, limit. Reply: {F} for an unknown
-- room, else {n of the first entry, entries...}, each entry
-- seq|atMs|prequeue|user.
local m = redis.call('HMGET', KEYS[1], 'st', 'admitted')
if not m[1] then
  return {'F'}
end
local total, len = tonumber(m[2]) or 0, redis.call('LLEN', KEYS[2])
local first = total - len + 1
local from, limit = math.max(tonumber(ARGV[1]), first), tonumber(ARGV[2])
if limit <= 0 or from > total then
  return {tostring(from)}
end
local out = redis.call('LRANGE', KEYS[2], from - first, from - first + limit - 1)
table.insert(out, 1, tostring(from))
return out
