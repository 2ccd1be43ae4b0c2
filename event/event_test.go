package event_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/event"
)

func TestEventJSON(t *testing.T) {
	at := time.Date(2026, 12, 1, 11, 0, 3, 123456000, time.UTC)
	t.Run("OK", func(t *testing.T) {
		e, err := event.New(event.SeatsHeld, "019a2f60-0000-7000-8000-000000000001", at, map[string]int{"v": 1})
		if err != nil {
			t.Fatal(err)
		}
		e.Seq, e.Position = 42, 7
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"id":"` + e.ID + `","type":"SeatsHeld","at":"2026-12-01T11:00:03.123456Z","concertId":"019a2f60-0000-7000-8000-000000000001","seq":42,"data":{"v":1}}`
		if string(b) != want {
			t.Errorf("got %s, want %s", b, want)
		}
		var back event.Event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.ID != e.ID || back.Type != e.Type || !back.At.Equal(at) || back.ConcertID != e.ConcertID || back.Seq != 42 || string(back.Data) != `{"v":1}` {
			t.Errorf("decoded %+v, want %+v without position", back, e)
		}
	})
	t.Run("NoConcertIsNull", func(t *testing.T) {
		e, _ := event.New(event.BalanceCharged, "", at, map[string]int{"v": 1})
		b, _ := json.Marshal(e)
		if !strings.Contains(string(b), `"concertId":null`) {
			t.Errorf("got %s, want concertId null", b)
		}
		if got := e.Subject("boxoffice"); got != "boxoffice.none.BalanceCharged" {
			t.Errorf("subject: got %s, want boxoffice.none.BalanceCharged", got)
		}
	})
	t.Run("IDIsUUIDv7", func(t *testing.T) {
		e, _ := event.New(event.SoldOut, "", at, event.SoldOutData{V: 1})
		if !boxoffice.ValidID(e.ID) || e.ID[14] != '7' {
			t.Errorf("id %s: want a UUIDv7", e.ID)
		}
	})
}

func TestParseCursor(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{{"", 0, true}, {"0", 0, true}, {"12345", 12345, true}, {"-1", 0, false}, {"x", 0, false}, {"1.5", 0, false}} {
		got, err := event.ParseCursor(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseCursor(%q): got %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && boxoffice.ErrorCode(err) != boxoffice.CodeInvalidRequest {
			t.Errorf("ParseCursor(%q): got %v, want INVALID_REQUEST", tc.in, err)
		}
	}
	if got := event.Cursor(77); got != "77" {
		t.Errorf("Cursor(77): got %q", got)
	}
}

// newEvents makes unnumbered events of the given types and concerts.
func newEvents(t *testing.T, specs ...[2]string) []event.Event {
	t.Helper()
	var evs []event.Event
	for i, s := range specs {
		e, err := event.New(event.Type(s[0]), s[1], time.Unix(int64(i), 0), map[string]int{"v": 1})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	return evs
}

func TestBatch(t *testing.T) {
	const a, b = "019a2f60-0000-7000-8000-00000000000a", "019a2f60-0000-7000-8000-00000000000b"
	t.Run("Numbered", func(t *testing.T) {
		evs := newEvents(t, [2]string{"SeatsHeld", a}, [2]string{"BalanceCharged", ""}, [2]string{"SeatsHeld", b}, [2]string{"HoldReleased", a})
		bt := event.NewBatch(evs, false)
		bt.SetHead(event.Head{Key: a, Seq: 9})
		if cands := bt.SoldOutCandidates(); len(cands) != 0 {
			t.Fatalf("candidates without a sale: got %v", cands)
		}
		out := bt.Number(100)
		want := []struct {
			pos, seq int64
		}{{101, 10}, {102, 1}, {103, 1}, {104, 11}}
		for i, w := range want {
			if out[i].Position != w.pos || out[i].Seq != w.seq {
				t.Errorf("event %d: got position %d seq %d, want %d and %d", i, out[i].Position, out[i].Seq, w.pos, w.seq)
			}
		}
		heads := map[string]int64{}
		for _, h := range bt.Heads() {
			heads[h.Key] = h.Seq
		}
		if heads[a] != 11 || heads[b] != 1 || heads[event.NoConcert] != 1 {
			t.Errorf("heads: got %v, want a 11, b 1, none 1", heads)
		}
	})
	t.Run("SoldOutAfterTheLastSale", func(t *testing.T) {
		evs := newEvents(t, [2]string{"ReservationPaid", a}, [2]string{"SeatsHeld", b}, [2]string{"ReservationPaid", a})
		bt := event.NewBatch(evs, false)
		cands := bt.SoldOutCandidates()
		if len(cands) != 1 || cands[0] != a {
			t.Fatalf("candidates: got %v, want [a]", cands)
		}
		bt.SoldOut(cands, []string{a}, time.Unix(99, 0))
		out := bt.Number(0)
		last := out[len(out)-1]
		if len(out) != 4 || last.Type != event.SoldOut || last.ConcertID != a || last.Seq != 3 || !last.At.Equal(time.Unix(2, 0)) {
			t.Fatalf("got %d events ending with %+v, want SoldOut of a, seq 3, dated like the last sale", len(out), last)
		}
		for _, h := range bt.Heads() {
			if h.Key == a && (!h.SoldOut || h.Check) {
				t.Errorf("head of a: got %+v, want sold out", h)
			}
		}
	})
	t.Run("TruncatedDefers", func(t *testing.T) {
		evs := newEvents(t, [2]string{"ReservationPaid", a})
		bt := event.NewBatch(evs, true)
		if cands := bt.SoldOutCandidates(); cands != nil {
			t.Fatalf("candidates of a truncated batch: got %v, want none", cands)
		}
		bt.Number(0)
		var h event.Head
		for _, x := range bt.Heads() {
			if x.Key == a {
				h = x
			}
		}
		if !h.Check || h.SoldOut {
			t.Fatalf("head of a: got %+v, want marked to check", h)
		}
		// The next, complete batch checks it even without a sale of its own.
		next := event.NewBatch(nil, false)
		next.SetHead(h)
		cands := next.SoldOutCandidates()
		if len(cands) != 1 || cands[0] != a {
			t.Fatalf("candidates of the next batch: got %v, want [a]", cands)
		}
		next.SoldOut(cands, nil, time.Unix(5, 0))
		if out := next.Number(1); len(out) != 0 {
			t.Fatalf("not sold out: got %d events", len(out))
		}
		hs := next.Heads()
		if len(hs) != 1 || hs[0].Check {
			t.Fatalf("heads: got %+v, want a no longer to check", hs)
		}
	})
	t.Run("SoldOutOnce", func(t *testing.T) {
		bt := event.NewBatch(newEvents(t, [2]string{"ReservationPaid", a}), false)
		bt.SetHead(event.Head{Key: a, Seq: 5, SoldOut: true})
		if cands := bt.SoldOutCandidates(); len(cands) != 0 {
			t.Fatalf("candidates of a sold-out concert: got %v", cands)
		}
	})
}
