package nats_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/event"
	"github.com/boxoffice/boxoffice/internal/testserver"
	"github.com/boxoffice/boxoffice/nats"
)

// events makes n numbered events over three concerts and none.
func events(n int) []event.Event {
	concerts := []string{boxoffice.NewID(), boxoffice.NewID(), ""}
	seqs := map[string]int64{}
	evs := make([]event.Event, n)
	for i := range evs {
		c := concerts[i%len(concerts)]
		e, _ := event.New(event.Types[i%len(event.Types)], c, time.Now(), map[string]int{"v": 1, "i": i})
		seqs[c]++
		e.Seq, e.Position = seqs[c], int64(i+1)
		evs[i] = e
	}
	return evs
}

// stored reads every message of the stream, in stream order.
func stored(t testing.TB, s *nats.Stream) []event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var all []event.Event
	err := s.Read(ctx, func(e event.Event, subject string) error {
		if want := e.Subject(s.Prefix()); subject != want {
			t.Errorf("event %s: got subject %s, want %s", e.ID, subject, want)
		}
		all = append(all, e)
		return nil
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return all
}

func ids(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func publish(t testing.TB, s *nats.Stream, evs []event.Event) {
	t.Helper()
	n, err := s.Publish(context.Background(), evs)
	if err != nil || n != len(evs) {
		t.Fatalf("Publish of %d events: got %d acknowledged, err %v; want all", len(evs), n, err)
	}
}

func TestPublishOnceInOrder(t *testing.T) {
	s := testserver.OpenStream(t, testserver.SharedNATS(t), testserver.StreamName())
	evs := events(40)
	publish(t, s, evs[:25])
	// Offered again, as by a relay that died before marking them: the
	// stream keeps one copy of each.
	publish(t, s, evs[:25])
	publish(t, s, evs[10:])
	got := stored(t, s)
	if !slices.Equal(ids(got), ids(evs)) {
		t.Fatalf("stream: got %d events %v, want the %d published once each, in order", len(got), ids(got), len(evs))
	}
	for i, e := range got {
		w := evs[i]
		if e.Seq != w.Seq || e.Type != w.Type || e.ConcertID != w.ConcertID || string(e.Data) != string(w.Data) {
			t.Errorf("event %d: got %+v, want %+v", i, e, w)
		}
	}
}

func TestPublishBody(t *testing.T) {
	s := testserver.OpenStream(t, testserver.SharedNATS(t), testserver.StreamName())
	evs := events(3)
	publish(t, s, evs)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := s.JetStream().Stream(ctx, s.Name())
	if err != nil {
		t.Fatal(err)
	}
	msg, err := st.GetMsg(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get("Nats-Msg-Id"); got != evs[2].ID {
		t.Errorf("Nats-Msg-Id: got %q, want the event id %q", got, evs[2].ID)
	}
	if want := s.Prefix() + ".none." + string(evs[2].Type); msg.Subject != want {
		t.Errorf("subject of an event of no concert: got %s, want %s", msg.Subject, want)
	}
	var body map[string]any
	if err := json.Unmarshal(msg.Data, &body); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "type", "at", "concertId", "seq", "data"} {
		if _, ok := body[k]; !ok {
			t.Errorf("body %s: no %q", msg.Data, k)
		}
	}
	if body["concertId"] != nil {
		t.Errorf("concertId of an event of no concert: got %v, want null", body["concertId"])
	}
}

// TestPublishAcrossRestart stops the server mid-stream: publishing fails
// while it is down, nothing is stored twice or out of order, and once it is
// back the rest goes through.
func TestPublishAcrossRestart(t *testing.T) {
	srv := testserver.StartNATS(t)
	s := testserver.OpenStream(t, srv.URL(), testserver.StreamName())
	evs := events(30)
	publish(t, s, evs[:10])
	srv.Stop()
	if n, err := s.Publish(context.Background(), evs[10:20]); err == nil || n != 0 {
		t.Fatalf("Publish while the server is down: got %d acknowledged, err %v; want none and an error", n, err)
	}
	srv.Start()
	// Offer from the first unacknowledged one until the stream takes it,
	// as the relay does.
	next := 10
	deadline := time.Now().Add(30 * time.Second)
	for next < len(evs) {
		if time.Now().After(deadline) {
			t.Fatalf("the restarted server took events up to %d of %d only", next, len(evs))
		}
		n, _ := s.Publish(context.Background(), evs[next:])
		next += n
		if n == 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	got := stored(t, s)
	if !slices.Equal(ids(got), ids(evs)) {
		t.Fatalf("stream: got %d events, want the %d published once each, in order", len(got), len(evs))
	}
}

// TestFollow follows the stream from its first event, filtered by concert,
// and then gets what is published after.
func TestFollow(t *testing.T) {
	s := testserver.OpenStream(t, testserver.SharedNATS(t), testserver.StreamName())
	evs := events(6) // concerts a, b, none, a, b, none
	publish(t, s, evs[:4])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan event.Event, 10)
	done := make(chan error, 1)
	go func() {
		done <- s.Follow(ctx, s.Subjects(evs[0].ConcertID, ""), true, func(e event.Event) error {
			got <- e
			return nil
		})
	}()
	for _, want := range []event.Event{evs[0], evs[3]} {
		select {
		case e := <-got:
			if e.ID != want.ID {
				t.Fatalf("followed %s, want %s", e.ID, want.ID)
			}
		case <-ctx.Done():
			t.Fatal("nothing followed")
		}
	}
	later, _ := event.New(event.SoldOut, evs[0].ConcertID, time.Now(), event.SoldOutData{V: 1})
	later.Seq = 3
	publish(t, s, append(evs[4:], later))
	select {
	case e := <-got:
		if e.ID != later.ID {
			t.Fatalf("followed %s, want the later %s", e.ID, later.ID)
		}
	case <-ctx.Done():
		t.Fatal("the later event was not followed")
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Follow after cancel: got %v, want context.Canceled", err)
	}
}
