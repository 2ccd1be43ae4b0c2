package http_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	boxhttp "github.com/boxoffice/boxoffice/http"
)

// replacedBy fails unless es ends with the replaced event.
func replacedBy(t *testing.T, es *boxhttp.EventStream) {
	t.Helper()
	ev, err := es.Next()
	if !errors.Is(err, boxhttp.ErrStreamReplaced) {
		t.Fatalf("got %+v, %v; want the stream replaced", ev.Status, err)
	}
	if es.Retry != time.Hour {
		t.Errorf("retry: got %v, want 1h", es.Retry)
	}
	if _, err := es.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the replaced event: got %v, want the stream ended (EOF)", err)
	}
}

// TestOneStreamPerTicket opens streams of one ticket on one server and, in
// production form, on two servers that share Redis: each opening ends the
// one before it.
func TestOneStreamPerTicket(t *testing.T) {
	limitModes(t, func(t *testing.T, l *limitEnv) {
		ctx := context.Background()
		c := l.concert(t, spec())
		a, b := l.on(0), l.on(1)

		t.Run("SecondEndsFirst", func(t *testing.T) {
			kim := l.fan(t, "Kim", 0)
			l.join(t, kim, c.ConcertID)
			first := a.stream(t, kim, 0)
			wantEvent(t, nextEvent(t, first), 1, "WAITING", 1)
			opened := time.Now()
			second := b.stream(t, kim, 0)
			wantEvent(t, nextEvent(t, second), 1, "WAITING", 1)
			replacedBy(t, first)
			t.Logf("the first stream ended %v after the second was asked for", time.Since(opened))
			l.admit()
			wantEvent(t, nextEvent(t, second), 2, "ADMITTED", 0)
			ended(t, second)
		})
		t.Run("OtherTicketsUntouched", func(t *testing.T) {
			lee, park := l.fan(t, "Lee", 0), l.fan(t, "Park", 0)
			l.join(t, lee, c.ConcertID)
			l.join(t, park, c.ConcertID)
			es := a.stream(t, lee, 0)
			nextEvent(t, es)
			nextEvent(t, b.stream(t, park, 0))
			nextEvent(t, a.stream(t, park, 0))
			l.admit()
			wantEvent(t, nextEvent(t, es), 2, "ADMITTED", 0)
		})
		t.Run("ReconnectAfterBlip", func(t *testing.T) {
			// The fan's connection broke unnoticed by the server: the
			// reconnection ends the dead stream, which then goes away
			// without touching the live one.
			choi := l.fan(t, "Choi", 0)
			l.join(t, choi, c.ConcertID)
			dead := a.stream(t, choi, 0)
			wantEvent(t, nextEvent(t, dead), 1, "WAITING", 1)
			live := b.stream(t, choi, 1)
			wantEvent(t, nextEvent(t, live), 2, "WAITING", 1)
			dead.Close()
			// Still the ticket's stream: a third opening ends it, and a
			// change reaches the third.
			third := a.stream(t, choi, 2)
			wantEvent(t, nextEvent(t, third), 3, "WAITING", 1)
			replacedBy(t, live)
			if err := l.client.Leave(ctx, choi.access, choi.queue); err != nil {
				t.Fatal(err)
			}
			wantEvent(t, nextEvent(t, third), 4, "EXPIRED", 0)
		})
		t.Run("ManyOpenings", func(t *testing.T) {
			yoon := l.fan(t, "Yoon", 0)
			l.join(t, yoon, c.ConcertID)
			var streams []*boxhttp.EventStream
			for i := range 6 {
				es := l.on(i).stream(t, yoon, 0)
				nextEvent(t, es)
				streams = append(streams, es)
			}
			for _, es := range streams[:5] {
				replacedBy(t, es)
			}
			l.admit()
			wantEvent(t, nextEvent(t, streams[5]), 2, "ADMITTED", 0)
		})
	}, fastStreams)
}
