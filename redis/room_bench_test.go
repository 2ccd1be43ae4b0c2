package redis

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/boxoffice/boxoffice/queue"
)

// The room-size benchmarks fill one room per size through Join, fillBatch
// fans a call (the store runs them as scripts of hotBatch joins, as it does
// the batches queue.Service gathers), and measure in it:
// Redis bytes per waiting fan, joins, polls and one admission step. Sizes
// come from BOXOFFICE_ROOM_SIZES (comma-separated, default 1000,100000);
// 1000000 takes about a minute to fill and 400 MB of Redis.
//
//	BOXOFFICE_ROOM_SIZES=1000,100000,1000000 go test -run '^$' -bench RoomSize -benchtime 3000x ./redis/

const fillBatch = 1000

var roomT0 = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// sizedRoom is a room filled with n waiting fans, shared by the benchmarks
// of one size in a process.
type sizedRoom struct {
	s       *QueueStore
	room    queue.Room
	tickets []queue.Ticket
	next    atomic.Int64 // user number of the next join
	steps   int          // admission steps run, 100 ms apart
}

var (
	sizedMu    sync.Mutex
	sizedRooms = map[int]*sizedRoom{}
)

func roomSizes() []int {
	v := os.Getenv("BOXOFFICE_ROOM_SIZES")
	if v == "" {
		v = "1000,100000"
	}
	var out []int
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(f)
		if err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// roomOfSize returns the room of n fans, filling it on first use. Its keys
// are deleted when top, the benchmark whose sub-benchmarks share it, ends;
// b, the sub-benchmark asking, fails if the room cannot be filled.
func roomOfSize(top, b *testing.B, c goredis.UniversalClient, n int) *sizedRoom {
	sizedMu.Lock()
	defer sizedMu.Unlock()
	if r, ok := sizedRooms[n]; ok {
		return r
	}
	r := &sizedRoom{s: NewQueueStore(c, testPrefix(top, c))}
	// Open an hour ago, admitting 1,000/s with one-hour idle and session
	// limits, so nothing lapses while the benchmarks run.
	r.room = queue.Room{ConcertID: fmt.Sprintf("01970000-0000-7000-8000-%012d", n), OpensAt: roomT0.Add(-time.Hour),
		Seed: []byte("room size seed"), Settings: queue.Settings{Strategy: queue.Rate, AdmitPerSecond: 1000,
			SessionSeconds: 3600, IdleSeconds: 3600, MaxSessionSeconds: 3600}}
	ctx := context.Background()
	err := r.s.Restore(ctx, r.room, func(context.Context) (queue.Snapshot, error) { return queue.Snapshot{}, nil }, "bench", time.Second, roomT0)
	if err != nil {
		b.Fatalf("Restore: %v", err)
	}
	r.tickets = make([]queue.Ticket, 0, n)
	users := make([]string, 0, fillBatch)
	for len(r.tickets) < n {
		users = users[:0]
		for range min(fillBatch, n-len(r.tickets)) {
			users = append(users, r.user())
		}
		js, err := r.s.Join(ctx, r.room, users, roomT0)
		if err != nil {
			b.Fatalf("fill: %v", err)
		}
		for _, j := range js {
			r.tickets = append(r.tickets, j.Ticket)
		}
	}
	sizedRooms[n] = r
	top.Cleanup(func() {
		sizedMu.Lock()
		delete(sizedRooms, n)
		sizedMu.Unlock()
	})
	return r
}

// user returns a new user ID, as long as a UUID.
func (r *sizedRoom) user() string {
	return fmt.Sprintf("00000000-0000-7000-8000-%012d", r.next.Add(1))
}

// bytes is the sum of MEMORY USAGE over the room's keys.
func (r *sizedRoom) bytes(b *testing.B) int64 {
	var sum int64
	for _, k := range r.s.roomKeys(r.room.ConcertID) {
		n, err := r.s.client.MemoryUsage(b.Context(), k, 0).Result()
		if err != nil && err.Error() != "redis: nil" {
			b.Fatalf("MEMORY USAGE %s: %v", k, err)
		}
		sum += n
	}
	return sum
}

// waiting is how many fans wait in the room.
func (r *sizedRoom) waiting(b *testing.B) int64 {
	st, err := r.s.Stats(b.Context(), r.room.ConcertID, roomT0)
	if err != nil {
		b.Fatalf("Stats: %v", err)
	}
	return st.Waiting
}

func BenchmarkRoomSize(top *testing.B) {
	c := testClient(top)
	sizes := roomSizes()
	// Each measurement runs for every size in turn, so that the sizes are
	// compared within moments of each other on a shared machine.
	for _, n := range sizes {
		top.Run(fmt.Sprintf("bytes/fans=%d", n), func(b *testing.B) {
			r := roomOfSize(top, b, c, n)
			b.ResetTimer()
			// MEMORY USAGE of a whole key is O(n): measured once.
			b.ReportMetric(float64(r.bytes(b))/float64(r.waiting(b)), "bytes/fan")
		})
	}
	for _, n := range sizes {
		top.Run(fmt.Sprintf("join/fans=%d", n), func(b *testing.B) {
			r := roomOfSize(top, b, c, n)
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := r.s.Join(b.Context(), r.room, []string{r.user()}, roomT0); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
	for _, n := range sizes {
		top.Run(fmt.Sprintf("status/fans=%d", n), func(b *testing.B) {
			r := roomOfSize(top, b, c, n)
			var i atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					tk := r.tickets[i.Add(7919)%int64(len(r.tickets))]
					if _, err := r.s.Status(b.Context(), tk, roomT0); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
	// One step admits 100 (1,000/s, a step every 100 ms); as many join
	// outside the timer, so the room keeps its size.
	for _, n := range sizes {
		top.Run(fmt.Sprintf("admit/fans=%d", n), func(b *testing.B) {
			r := roomOfSize(top, b, c, n)
			users := make([]string, 100)
			var admitted int64
			b.ResetTimer()
			for range b.N {
				r.steps++
				now := roomT0.Add(time.Duration(r.steps) * 100 * time.Millisecond)
				b.StopTimer()
				for j := range users {
					users[j] = r.user()
				}
				if _, err := r.s.Join(b.Context(), r.room, users, now); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				a, err := r.s.Admit(b.Context(), r.room.ConcertID, "bench", time.Minute, now)
				if err != nil {
					b.Fatal(err)
				}
				admitted += a.Admitted
			}
			b.ReportMetric(float64(admitted)/float64(b.N), "admitted/step")
		})
	}
}
