package storetest

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/boxoffice/boxoffice/queue"
)

// benchParallelism is goroutines per CPU in the benchmarks: requests arrive
// many at a time, and a networked store needs them in flight to show its
// throughput.
const benchParallelism = 8

// benchFans is how many places the Status and Use benchmarks keep.
const benchFans = 10000

// BenchmarkQueueJoin measures joins of distinct fans into one room from
// parallel goroutines.
func BenchmarkQueueJoin(b *testing.B, s queue.Store) {
	room := openRoom(rateSettings(100))
	newRoom(b, s, room, qT0)
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := joinOne(b.Context(), s, room, "fan-"+strconv.FormatInt(n.Add(1), 10), qT0); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkQueueStatus measures Status (a heartbeat with a position) of
// waiting fans in a room of 10,000 from parallel goroutines.
func BenchmarkQueueStatus(b *testing.B, s queue.Store) {
	ts := benchJoin(b, s, closedRoom(rateSettings(100)))
	benchTickets(b, ts, func(tk queue.Ticket) error {
		_, err := s.Status(b.Context(), tk, qT0)
		return err
	})
}

// BenchmarkQueueUse measures Use of admitted sessions in a room of 10,000
// from parallel goroutines.
func BenchmarkQueueUse(b *testing.B, s queue.Store) {
	ts := benchJoin(b, s, openRoom(maxActiveSettings(benchFans)))
	if a, err := s.Admit(b.Context(), qRoomID, "owner-a", qLease, qT0); err != nil || a.Admitted != benchFans {
		b.Fatalf("Admit: got %+v, %v, want %d admitted", a, err, benchFans)
	}
	benchTickets(b, ts, func(tk queue.Ticket) error {
		_, err := s.Use(b.Context(), tk, qT0)
		return err
	})
}

func benchJoin(b *testing.B, s queue.Store, room queue.Room) []queue.Ticket {
	newRoom(b, s, room, qT0)
	ts := make([]queue.Ticket, benchFans)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < benchFans; i += 16 {
				st, _, err := joinOne(b.Context(), s, room, fanID(i), qT0)
				if err != nil {
					b.Error(err)
					return
				}
				ts[i] = st.Ticket
			}
		})
	}
	wg.Wait()
	return ts
}

func benchTickets(b *testing.B, ts []queue.Ticket, f func(queue.Ticket) error) {
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := f(ts[n.Add(7919)%benchFans]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
