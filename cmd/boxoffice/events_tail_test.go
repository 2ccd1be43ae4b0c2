package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	nethttp "net/http"
	"strings"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/event"
)

// TestEventsTail follows the feed of an embedded server with `boxoffice
// events tail`: what is kept first (--from-start), then what comes.
func TestEventsTail(t *testing.T) {
	cfg := embedded.config(t)
	cfg.AdminKey = "admin-" + randomHex(16)
	m := startMain(t, cfg, nil)
	ctx := context.Background()
	concertID := boxoffice.NewID()
	appendOne := func(typ event.Type, c string) event.Event {
		e, err := event.New(typ, c, time.Now(), map[string]int{"v": 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.db.events.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	first := appendOne(event.SeatsHeld, concertID)
	appendOne(event.BalanceCharged, "") // another concert's: filtered out

	out, w := io.Pipe()
	tailCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- eventsCommand(tailCtx, []string{"tail", "--url", m.URL(), "--concert", concertID, "--from-start", "--every", "20ms"},
			func(k string) string {
				if k == "BOXOFFICE_ADMIN_KEY" {
					return cfg.AdminKey
				}
				return ""
			}, w, io.Discard)
		w.Close()
	}()
	lines := bufio.NewScanner(out)
	next := func() event.Event {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("tail ended: %v", lines.Err())
		}
		var e event.Event
		if err := json.Unmarshal(lines.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", lines.Text(), err)
		}
		return e
	}
	if e := next(); e.ID != first.ID || e.Seq != 1 {
		t.Fatalf("first line: got %+v, want the kept event %s with seq 1", e, first.ID)
	}
	later := appendOne(event.HoldReleased, concertID)
	if e := next(); e.ID != later.ID || e.Seq != 2 || !strings.EqualFold(e.ConcertID, concertID) {
		t.Fatalf("second line: got %+v, want the new event %s with seq 2", e, later.ID)
	}
	stop()
	go io.Copy(io.Discard, out)
	if err := <-done; err != nil {
		t.Fatalf("tail: %v", err)
	}

	// The outbox's metrics.
	resp, err := nethttp.Get(m.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"boxoffice_events_outbox", "boxoffice_events_unrelayed", "boxoffice_events_kept 3",
		"boxoffice_events_relay_lag_seconds", "boxoffice_events_numbered_total 3", "boxoffice_events_relay_holder 1"} {
		if !strings.Contains(string(body), "\n"+name) {
			t.Errorf("metrics: no %q", name)
		}
	}
}
