package redis

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// pollToday is the commands today's status script makes for a batch of
// waiting fans (lua/room.lua's look and counter): the ticket's seq from
// :users, its session in :active, its last heartbeat in :seen, the
// heartbeat written, its rank in :waiting; the live count once a batch.
// KEYS: users, active, seen, waiting. ARGV: now, idle ms, then users.
var pollToday = goredis.NewScript(`
local users, active, seen, waiting = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, cutoff = tonumber(ARGV[1]), tonumber(ARGV[1]) - tonumber(ARGV[2])
local w = redis.call('ZCARD', waiting) - redis.call('ZCOUNT', seen, '-inf', cutoff)
local sum = 0
for i = 3, #ARGV do
  local u = ARGV[i]
  redis.call('HGET', users, u)
  redis.call('ZSCORE', active, u)
  local last = tonumber(redis.call('ZSCORE', seen, u))
  if last > cutoff and now > last then
    redis.call('ZADD', seen, now, u)
  end
  sum = sum + redis.call('ZRANK', waiting, u) + 1
end
return {w, sum}
`)

// pollList is the commands a status would make in the compact layout with
// heartbeats in an intrusive list through the fan slots (docs/
// waiting-room.md, "The crux is the heartbeats"): the fan's slot by the
// ticket's seq, its position from a Fenwick tree over blocks of 1,024 seqs
// and a count of the line's bits inside its block, and the heartbeat as
// the move of the fan to the list's tail. A slot is 25 bytes: state, last
// heartbeat (6 bytes, ms), joined (6), hash of the user (4), previous and
// next seq (4 each). It is the commands' cost, not a room: the fan's own
// idle check, as today's, but no watermark and no error paths.
// KEYS: fans, line, fenwick, meta. ARGV: now, idle ms, then seqs.
var pollList = goredis.NewScript(`
local fans, line, fen, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, cutoff = tonumber(ARGV[1]), tonumber(ARGV[1]) - tonumber(ARGV[2])
local tail = tonumber(redis.call('HGET', meta, 'tail'))
local function at(seq) return (seq - 1) * 25 end
local sum = 0
for i = 3, #ARGV do
  local seq = tonumber(ARGV[i])
  local s = redis.call('GETRANGE', fans, at(seq), at(seq) + 24)
  local state, beat, joined, h, prev, nxt = struct.unpack('>BI6I6I4I4I4', s)
  -- Position: blocks before the fan's, then bits before it in its block.
  local blk = math.floor((seq - 1) / 1024)
  local ops = {}
  local k = blk
  while k > 0 do
    ops[#ops + 1] = 'GET'
    ops[#ops + 1] = 'u32'
    ops[#ops + 1] = '#' .. (k - 1)
    k = k - bit.band(k, -k)
  end
  local pos = 1
  if #ops > 0 then
    for _, v in ipairs(redis.call('BITFIELD', fen, unpack(ops))) do pos = pos + v end
  end
  if seq - 1 > blk * 1024 then
    pos = pos + redis.call('BITCOUNT', line, blk * 1024, seq - 2, 'BIT')
  end
  sum = sum + pos
  -- Heartbeat: unlink, link at the tail.
  if beat > cutoff and now > beat and seq ~= tail then
    if prev > 0 then redis.call('SETRANGE', fans, at(prev) + 21, struct.pack('>I4', nxt)) end
    if nxt > 0 then redis.call('SETRANGE', fans, at(nxt) + 17, struct.pack('>I4', prev)) end
    redis.call('SETRANGE', fans, at(tail) + 21, struct.pack('>I4', seq))
    redis.call('SETRANGE', fans, at(seq), struct.pack('>BI6I6I4I4I4', state, now, joined, h, tail, 0))
    tail = seq
  end
end
redis.call('HSET', meta, 'tail', tail)
return sum
`)

// BenchmarkPollSketch compares, on this Redis, the work of a batch of 128
// status polls of random waiting fans in a room of n: today's sorted sets
// and hash (pollToday) against the compact layout's list of heartbeats
// (pollList). Both are filled with plain commands; each reports
// microseconds per poll, wall time of serial script runs on one
// connection (the round trip shared by 128 polls).
//
//	go test -run '^$' -bench PollSketch -benchtime 300x ./redis/
func BenchmarkPollSketch(b *testing.B) {
	const batch, drawSpan = 128, 1 << 52
	for _, n := range []int{1000, 1000000} {
		c := testClient(b)
		base := testPrefix(b, c) + "wr:{poll}:"
		ctx := b.Context()
		now := time.Now().UnixMilli()
		user := func(i int) string { return fmt.Sprintf("01970000-0000-7000-8000-%012d", i) }
		// Today's layout.
		for start := 1; start <= n; start += 10000 {
			p := c.Pipeline()
			for i := start; i < min(start+10000, n+1); i++ {
				p.HSet(ctx, base+"users", user(i), strconv.Itoa(i)+":"+strconv.FormatInt(now, 10))
				p.ZAdd(ctx, base+"waiting", goredis.Z{Score: float64(drawSpan + i), Member: user(i)})
				p.ZAdd(ctx, base+"seen", goredis.Z{Score: float64(now - int64(n-i)%60000), Member: user(i)})
			}
			if _, err := p.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
		// The list layout: every seq waiting, linked in seq order.
		slots := make([]byte, 0, 25*n)
		for i := 1; i <= n; i++ {
			slots = append(slots, 1)
			slots = binary.BigEndian.AppendUint16(slots, uint16(now>>32))
			slots = binary.BigEndian.AppendUint32(slots, uint32(now))
			slots = binary.BigEndian.AppendUint16(slots, uint16(now>>32))
			slots = binary.BigEndian.AppendUint32(slots, uint32(now))
			slots = binary.BigEndian.AppendUint32(slots, uint32(i*2654435761))
			slots = binary.BigEndian.AppendUint32(slots, uint32(i-1))
			next := i + 1
			if i == n {
				next = 0
			}
			slots = binary.BigEndian.AppendUint32(slots, uint32(next))
		}
		blocks := (n + 1023) / 1024
		fen := make([]byte, 4*blocks)
		for k := 1; k <= blocks; k++ { // every block full: node k covers lowbit(k) blocks
			binary.BigEndian.PutUint32(fen[4*(k-1):], uint32(1024*(k&-k)))
		}
		line := make([]byte, (n+7)/8)
		for i := range line {
			line[i] = 0xff
		}
		p := c.Pipeline()
		p.Set(ctx, base+"fans", slots, 0)
		p.Set(ctx, base+"line", line, 0)
		p.Set(ctx, base+"fen", fen, 0)
		p.HSet(ctx, base+"meta", "tail", n)
		if _, err := p.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		todayKeys := []string{base + "users", base + "active", base + "seen", base + "waiting"}
		listKeys := []string{base + "fans", base + "line", base + "fen", base + "meta"}
		// Every fan waits, so a fan's position is its seq: check both
		// scripts compute it before timing them.
		for _, seq := range []int{1, 2, n / 2, n/2 + 7, n} {
			got, err := pollToday.Run(ctx, c, todayKeys, now, 60000, user(seq)).Int64Slice()
			if err != nil || got[1] != int64(seq) {
				b.Fatalf("today's poll of seq %d: position %v, %v", seq, got, err)
			}
			pos, err := pollList.Run(ctx, c, listKeys, now, 60000, seq).Int64()
			if err != nil || pos != int64(seq) {
				b.Fatalf("the list's poll of seq %d: position %d, %v", seq, pos, err)
			}
		}
		rng := rand.New(rand.NewPCG(1, uint64(n)))
		b.Run(fmt.Sprintf("fans=%d/today", n), func(b *testing.B) {
			args := make([]any, 2+batch)
			for b.Loop() {
				args[0], args[1] = time.Now().UnixMilli(), 60000
				for i := range batch {
					args[2+i] = user(1 + rng.IntN(n))
				}
				if err := pollToday.Run(ctx, c, todayKeys, args...).Err(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*batch), "µs/poll")
		})
		b.Run(fmt.Sprintf("fans=%d/list", n), func(b *testing.B) {
			args := make([]any, 2+batch)
			for b.Loop() {
				args[0], args[1] = time.Now().UnixMilli(), 60000
				for i := range batch {
					args[2+i] = 1 + rng.IntN(n)
				}
				if err := pollList.Run(ctx, c, listKeys, args...).Err(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*batch), "µs/poll")
		})
	}
}
