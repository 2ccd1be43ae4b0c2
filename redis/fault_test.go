package redis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/internal/testserver"
	"github.com/boxoffice/boxoffice/queue"
)

func wantCode(t *testing.T, err error, want boxoffice.Code) {
	t.Helper()
	if got := boxoffice.ErrorCode(err); got != want {
		t.Fatalf("got %v (%s), want %s", err, got, want)
	}
}

// TestFaults checks how failures of Redis are answered: UNAVAILABLE when
// nothing was done, OUTCOME_UNKNOWN when a change was sent and its answer
// not received, never an internal error.
func TestFaults(t *testing.T) {
	srv := testserver.StartRedis(t)
	ctx := context.Background()
	c, err := Open(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	admin, err := Open(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	s := NewQueueStore(c, "fault:")
	room := queue.Room{ConcertID: boxoffice.NewID(), OpensAt: time.Now().Add(-time.Minute), Settings: queue.DefaultSettings()}
	empty := func(context.Context) (queue.Snapshot, error) { return queue.Snapshot{}, nil }
	if err := s.Restore(ctx, room, empty, "test", time.Minute, time.Now()); err != nil {
		t.Fatal(err)
	}
	st, _, err := joinOne(ctx, s, room, "fan-0", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ticket := queue.Ticket{ConcertID: room.ConcertID, UserID: "fan-0", Seq: st.Seq}

	t.Run("Paused", func(t *testing.T) {
		// Redis takes the commands and does not answer before the deadline.
		if err := admin.Do(ctx, "CLIENT", "PAUSE", "1500", "ALL").Err(); err != nil {
			t.Fatal(err)
		}
		tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		// Joins are gathered by the service, as in production.
		svc := queue.NewService(s, boxoffice.SystemClock{}, "test", time.Second, nil, nil, nil)
		firstc := make(chan error, 1)
		go func() {
			_, _, err := svc.Join(tctx, room, "fan-1")
			firstc <- err
		}()
		time.Sleep(50 * time.Millisecond)
		// Gathered behind the join in flight (a user of its lane): never
		// sent.
		second := "fan-2"
		for i := 10; queue.JoinLane(second) != queue.JoinLane("fan-1"); i++ {
			second = fmt.Sprintf("fan-%d", i)
		}
		short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancelShort()
		_, _, err := svc.Join(short, room, second)
		wantCode(t, err, boxoffice.CodeUnavailable)
		wantCode(t, <-firstc, boxoffice.CodeOutcomeUnknown)
		_, err = s.Status(tctx, ticket, time.Now())
		wantCode(t, err, boxoffice.CodeUnavailable)
		time.Sleep(1500 * time.Millisecond)
		// The join gathered behind the one in flight was never sent.
		if ok, err := c.HExists(ctx, s.roomKeys(room.ConcertID)[kUsers], second).Result(); err != nil || ok {
			t.Errorf("%s has a place (%v), want none: UNAVAILABLE did nothing", second, err)
		}
	})

	t.Run("Down", func(t *testing.T) {
		srv.Kill()
		defer srv.Start()
		_, _, err := joinOne(ctx, s, room, "fan-3", time.Now())
		wantCode(t, err, boxoffice.CodeUnavailable)
		_, err = s.Status(ctx, ticket, time.Now())
		wantCode(t, err, boxoffice.CodeUnavailable)
		err = s.Leave(ctx, ticket.ConcertID, []queue.Ticket{ticket}, time.Now())
		wantCode(t, err, boxoffice.CodeUnavailable)
	})
}
