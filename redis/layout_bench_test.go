package redis

import (
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

// BenchmarkLayoutSketch measures, on this Redis, the bytes per waiting fan
// of each structure of the compact layout docs/waiting-room.md proposes
// ("Memory"), written with plain commands for n fans (no scripts, no room
// logic): the fan slots, a string of 17 bytes per seq; the line, a
// Fenwick tree of 4-byte counts per seq; the user index, a hash of buckets
// of about 32 "\x00user\x01seq" entries (linear hashing keeps them so);
// the heartbeats, a hash of 4-byte seqs per last-seen millisecond, fans
// spread over a 60 s window. It reports each as bytes/fan, their sum as
// bytes/fan, and two variants apart: users16, the index with UUIDs as 16
// bytes in fixed 20-byte entries, and beatsec, the heartbeats by second
// in 6-byte entries (seq, millisecond).
//
//	go test -run '^$' -bench LayoutSketch -benchtime 1x ./redis/
func BenchmarkLayoutSketch(b *testing.B) {
	for _, n := range []int{1000, 100000, 1000000} {
		b.Run(fmt.Sprintf("fans=%d", n), func(b *testing.B) {
			c := testClient(b)
			base := testPrefix(b, c) + "wr:{sketch}:"
			ctx := b.Context()
			const (
				slotBytes = 17
				perBucket = 32
				window    = 60000 // ms of heartbeats
			)
			buckets := max(1, n/perBucket)
			blobs := make([][]byte, buckets)
			blobs16 := make([][]byte, buckets)
			beats := map[int64][]byte{}
			beatSecs := map[int64][]byte{}
			slots := make([]byte, 0, n*slotBytes)
			fenwick := make([]byte, 4*n)
			for i := 1; i <= n; i++ {
				user := fmt.Sprintf("01970000-0000-7000-8000-%012d", i)
				h := sha1.Sum([]byte(user))
				hb := binary.BigEndian.Uint32(h[:4])
				slot := make([]byte, slotBytes)
				slot[0] = 1
				binary.BigEndian.PutUint32(slot[13:], hb)
				slots = append(slots, slot...)
				// Every seq present: node i counts lowbit(i) seqs.
				binary.BigEndian.PutUint32(fenwick[4*(i-1):], uint32(i&-i))
				k := hb % uint32(buckets)
				blobs[k] = fmt.Appendf(blobs[k], "\x00%s\x01%d", user, i)
				// The same entry with the UUID's 16 bytes: fixed width.
				blobs16[k] = binary.BigEndian.AppendUint64(blobs16[k], uint64(i))
				blobs16[k] = binary.BigEndian.AppendUint64(blobs16[k], uint64(hb))
				blobs16[k] = binary.BigEndian.AppendUint32(blobs16[k], uint32(i))
				ms := int64(i) * window / int64(n)
				beats[ms] = binary.BigEndian.AppendUint32(beats[ms], uint32(i))
				// Per second instead: seq and the millisecond in it.
				beatSecs[ms/1000] = binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint32(beatSecs[ms/1000], uint32(i)), uint16(ms%1000))
			}
			p := c.Pipeline()
			p.Set(ctx, base+"fans", slots, 0)
			p.Set(ctx, base+"line", fenwick, 0)
			for k, v := range blobs {
				if len(v) > 0 {
					p.HSet(ctx, base+"users", k, v)
				}
			}
			for k, v := range blobs16 {
				if len(v) > 0 {
					p.HSet(ctx, base+"users16", k, v)
				}
			}
			for ms, v := range beats {
				p.HSet(ctx, base+"beats", ms, v)
			}
			for sec, v := range beatSecs {
				p.HSet(ctx, base+"beatsec", sec, v)
			}
			if _, err := p.Exec(ctx); err != nil {
				b.Fatal(err)
			}
			var total int64
			for _, name := range []string{"fans", "line", "users", "beats", "users16", "beatsec"} {
				var bytes int64
				for range b.N {
					v, err := c.MemoryUsage(ctx, base+name, 0).Result()
					if err != nil && err != goredis.Nil {
						b.Fatal(err)
					}
					bytes = v
				}
				if name != "users16" && name != "beatsec" {
					total += bytes
				}
				b.ReportMetric(float64(bytes)/float64(n), name+"-bytes/fan")
			}
			b.ReportMetric(float64(total)/float64(n), "bytes/fan")
		})
	}
}
