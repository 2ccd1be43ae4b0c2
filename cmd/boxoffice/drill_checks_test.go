package main

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/queue"
)

func TestReadyCheck(t *testing.T) {
	times := func(secs ...float64) readyTimes {
		r := readyTimes{Fault: "redis"}
		for _, s := range secs {
			r.Seconds = append(r.Seconds, readyEntry{Instance: "instance", Seconds: s})
		}
		return r
	}
	tests := []struct {
		name string
		in   []readyTimes
		ok   bool
	}{
		{"OK", []readyTimes{times(0, 0.4, 9.9), times(0, 0, 0)}, true},
		{"TooSlow", []readyTimes{times(0, 0.4, 10.1)}, false},
		{"NeverReady", []readyTimes{times(0, -1, 0)}, false},
		{"NothingMeasured", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c := readyCheck(tt.in, 10*time.Second); c.OK != tt.ok {
				t.Errorf("got %v (%s), want %v", c.OK, c.Detail, tt.ok)
			}
		})
	}
}

// drawn is a verifiable publication of a draw of n entries.
func drawn(t *testing.T, n int) *boxhttp.Lottery {
	t.Helper()
	seed := []byte("drill seed")
	sum := sha256.Sum256(seed)
	s := hex.EncodeToString(seed)
	var ids []string
	for i := range n {
		ids = append(ids, queue.EntryID("c", strings.Repeat("u", i+1)))
	}
	l := &boxhttp.Lottery{ConcertID: "c", Commitment: hex.EncodeToString(sum[:]), Seed: &s, Entries: []boxhttp.LotteryEntry{}}
	for i, id := range queue.DrawOrder(seed, ids) {
		l.Entries = append(l.Entries, boxhttp.LotteryEntry{Entry: id, Position: int64(i + 1)})
	}
	return l
}

func TestLotteryCheck(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		if c := lotteryCheck(drawn(t, 5), drawn(t, 5)); !c.OK {
			t.Errorf("got failed: %s", c.Detail)
		}
	})
	t.Run("EntriesLost", func(t *testing.T) {
		after := drawn(t, 5)
		after.Entries = nil
		if c := lotteryCheck(drawn(t, 5), after); c.OK || !strings.Contains(c.Detail, "5 at a different place") {
			t.Errorf("got %v (%s), want failed with 5 moved", c.OK, c.Detail)
		}
	})
	t.Run("Reordered", func(t *testing.T) {
		after := drawn(t, 5)
		after.Entries[0].Position, after.Entries[1].Position = 2, 1
		if c := lotteryCheck(drawn(t, 5), after); c.OK {
			t.Errorf("got passed, want failed")
		}
	})
	t.Run("NewSeed", func(t *testing.T) {
		after := drawn(t, 5)
		other := "00"
		after.Seed = &other
		if c := lotteryCheck(drawn(t, 5), after); c.OK || !strings.Contains(c.Detail, "seed") {
			t.Errorf("got %v (%s), want failed on the seed", c.OK, c.Detail)
		}
	})
	t.Run("NewCommitment", func(t *testing.T) {
		after := drawn(t, 5)
		after.Commitment = strings.Repeat("0", 64)
		if c := lotteryCheck(drawn(t, 5), after); c.OK {
			t.Errorf("got passed, want failed")
		}
	})
	t.Run("Unverifiable", func(t *testing.T) {
		before, after := drawn(t, 5), drawn(t, 5)
		before.Entries[0].Position, before.Entries[1].Position = 2, 1
		after.Entries[0].Position, after.Entries[1].Position = 2, 1
		if c := lotteryCheck(before, after); c.OK || !strings.Contains(c.Detail, "does not verify") {
			t.Errorf("got %v (%s), want failed verification", c.OK, c.Detail)
		}
	})
	t.Run("NotPublished", func(t *testing.T) {
		if c := lotteryCheck(nil, drawn(t, 5)); c.OK {
			t.Errorf("got passed, want failed")
		}
	})
}
