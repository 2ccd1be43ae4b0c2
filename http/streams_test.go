package http

import (
	"context"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice/queue"
)

// fakeBus keeps what is published; the test delivers it.
type fakeBus struct{ sent []string }

func (f *fakeBus) Publish(msg string) <-chan struct{}       { f.sent = append(f.sent, msg); return closed }
func (f *fakeBus) Listen(context.Context, func(msg string)) {}

func replaced(s *ownedStream) bool {
	select {
	case <-s.replaced:
		return true
	default:
		return false
	}
}

func TestStreamSet(t *testing.T) {
	tk := queue.Ticket{ConcertID: "c", UserID: "user with spaces", Seq: 7}
	instances := func() (*streamSet, *streamSet, *fakeBus, *fakeBus) {
		ba, bb := &fakeBus{}, &fakeBus{}
		return newStreamSet(ba), newStreamSet(bb), ba, bb
	}
	// deliver hands msgs to every instance in one order, as Redis does.
	deliver := func(msgs []string, to ...*streamSet) {
		for _, m := range msgs {
			for _, ss := range to {
				ss.heard(m)
			}
		}
	}
	want := func(t *testing.T, name string, s *ownedStream, wantReplaced bool) {
		t.Helper()
		if got := replaced(s); got != wantReplaced {
			t.Errorf("stream %s replaced: got %v, want %v", name, got, wantReplaced)
		}
	}

	t.Run("SameInstance", func(t *testing.T) {
		a, _, ba, _ := instances()
		s1, _ := a.take(tk)
		s2, _ := a.take(tk)
		want(t, "first", s1, true)
		want(t, "second", s2, false)
		deliver(ba.sent, a)
		want(t, "second", s2, false)
		a.release(s1) // the first ends after the second opened
		s3, _ := a.take(tk)
		want(t, "second", s2, true) // still known: the first's end forgot nothing
		want(t, "third", s3, false)
	})
	t.Run("OtherTicketsApart", func(t *testing.T) {
		a, _, _, _ := instances()
		s1, _ := a.take(tk)
		other := tk
		other.Seq++
		a.take(other)
		want(t, "first", s1, false)
	})
	t.Run("OtherInstanceLater", func(t *testing.T) {
		a, b, ba, bb := instances()
		s1, _ := a.take(tk)
		deliver(ba.sent, a, b)
		s2, _ := b.take(tk)
		deliver(bb.sent, a, b)
		want(t, "first, on a", s1, true)
		want(t, "second, on b", s2, false)
		if a.len() != 0 || b.len() != 1 {
			t.Errorf("open tickets: got %d on a and %d on b, want 0 and 1", a.len(), b.len())
		}
	})
	t.Run("OpenedTogether", func(t *testing.T) {
		// Both open before hearing anything; Redis orders a's first: b's
		// is the newer on every instance.
		a, b, ba, bb := instances()
		s1, _ := a.take(tk)
		s2, _ := b.take(tk)
		deliver(append(ba.sent, bb.sent...), a, b)
		want(t, "a's", s1, true)
		want(t, "b's", s2, false)
		// The other order.
		a, b, ba, bb = instances()
		s1, _ = a.take(tk)
		s2, _ = b.take(tk)
		deliver(append(bb.sent, ba.sent...), a, b)
		want(t, "a's", s1, false)
		want(t, "b's", s2, true)
	})
	t.Run("ThreeOpenings", func(t *testing.T) {
		// a opens two, b one in between them on the channel: a's second
		// is the newest.
		a, b, ba, bb := instances()
		s1, _ := a.take(tk)
		s3, _ := b.take(tk)
		s2, _ := a.take(tk)
		deliver([]string{ba.sent[0], bb.sent[0], ba.sent[1]}, a, b)
		want(t, "a's first", s1, true)
		want(t, "b's", s3, true)
		want(t, "a's second", s2, false)
	})
	t.Run("LostAnnouncement", func(t *testing.T) {
		// a's own announcement never came back: after streamConfirmAfter
		// any other counts as newer.
		a, b, _, bb := instances()
		s1, _ := a.take(tk)
		s2, _ := b.take(tk)
		deliver(bb.sent, a, b)
		want(t, "a's, unconfirmed", s1, false)
		s1.opened = s1.opened.Add(-streamConfirmAfter - time.Second)
		deliver(bb.sent, a)
		want(t, "a's, old", s1, true)
		want(t, "b's", s2, false)
	})
	t.Run("Malformed", func(t *testing.T) {
		a, _, ba, _ := instances()
		s1, _ := a.take(tk)
		deliver(ba.sent, a)
		for _, m := range []string{"", "x", "x c notanumber u", "x c 7"} {
			a.heard(m)
		}
		want(t, "first", s1, false)
	})
}
