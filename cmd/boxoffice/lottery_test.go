package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/token"
)

// publishedDraw is the publication of a draw of n fans, and the queue
// token of each fan, in the order the fans joined.
func publishedDraw(t *testing.T, n int) (boxhttp.Lottery, []string) {
	t.Helper()
	signer, err := token.NewSigner([]byte("0123456789abcdef-lottery-secret"))
	if err != nil {
		t.Fatal(err)
	}
	concertID := boxoffice.NewID()
	seed := signer.LotterySeed(concertID)
	tokens := make([]string, n)
	entries := make([]string, n)
	for i := range n {
		user := boxoffice.NewID()
		tokens[i] = signer.QueueToken(queue.Ticket{ConcertID: concertID, UserID: user, Seq: int64(i + 1)})
		entries[i] = queue.EntryID(concertID, user)
	}
	l := boxhttp.Lottery{
		ConcertID:  concertID,
		OpensAt:    time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC),
		Commitment: queue.Commitment(seed),
		Seed:       ptr(hex.EncodeToString(seed)),
	}
	for i, id := range queue.DrawOrder(seed, entries) {
		l.Entries = append(l.Entries, boxhttp.LotteryEntry{Entry: id, Position: int64(i + 1)})
	}
	return l, tokens
}

func ptr[T any](v T) *T { return &v }

// writeLottery writes l to a file of t's and returns its path.
func writeLottery(t *testing.T, l boxhttp.Lottery) string {
	t.Helper()
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "lottery.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runVerify(args ...string) (string, error) {
	var out, errOut bytes.Buffer
	err := verifyLotteryCommand(context.Background(), args, &out, &errOut)
	return out.String() + errOut.String(), err
}

// placeOf is the 1-based place of the entry of tok in l.
func placeOf(t *testing.T, l boxhttp.Lottery, tok string) int64 {
	t.Helper()
	tk, err := token.Peek(tok)
	if err != nil {
		t.Fatal(err)
	}
	id := queue.EntryID(tk.ConcertID, tk.UserID)
	for _, e := range l.Entries {
		if e.Entry == id {
			return e.Position
		}
	}
	t.Fatalf("no entry %s", id)
	return 0
}

func TestVerifyLottery(t *testing.T) {
	l, tokens := publishedDraw(t, 50)
	t.Run("OK", func(t *testing.T) {
		out, err := runVerify("--file", writeLottery(t, l), "--token", tokens[7], "--token", tokens[31])
		if err != nil {
			t.Fatalf("got %v, want it verified; output:\n%s", err, out)
		}
		for _, want := range []string{
			"verified",
			"50 entries: the seed orders them exactly as published",
			fmt.Sprintf("drew place %d of 50", placeOf(t, l, tokens[7])),
			fmt.Sprintf("drew place %d of 50", placeOf(t, l, tokens[31])),
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})

	cases := []struct {
		name   string
		tamper func(l *boxhttp.Lottery)
		tokens []string
		want   string
	}{
		{"ErrTamperedSeed", func(l *boxhttp.Lottery) {
			other := make([]byte, 32)
			_, _ = rand.Read(other)
			l.Seed = ptr(hex.EncodeToString(other))
		}, nil, "not the one committed to"},
		{"ErrSeedChosenToFitTheOrder", func(l *boxhttp.Lottery) {
			// A seed whose commitment is published along with it, after
			// the fact, orders the entries otherwise.
			other := make([]byte, 32)
			_, _ = rand.Read(other)
			l.Seed = ptr(hex.EncodeToString(other))
			h := sha256.Sum256(other)
			l.Commitment = hex.EncodeToString(h[:])
		}, nil, "but the seed puts it at place"},
		{"ErrCommitmentMismatch", func(l *boxhttp.Lottery) {
			l.Commitment = strings.Repeat("ab", 32)
		}, nil, "not the published commitment"},
		{"ErrSwappedPair", func(l *boxhttp.Lottery) {
			l.Entries[3].Position, l.Entries[4].Position = l.Entries[4].Position, l.Entries[3].Position
		}, nil, "is published at place 5, but the seed puts it at place 4"},
		{"ErrMissingEntry", func(l *boxhttp.Lottery) {
			l.Entries = append(l.Entries[:10:10], l.Entries[11:]...)
		}, nil, "has no entry: an entry is missing"},
		{"ErrDuplicateEntry", func(l *boxhttp.Lottery) {
			l.Entries[5].Entry = l.Entries[6].Entry
		}, nil, "appears twice"},
		{"ErrOwnEntryLeftOut", func(l *boxhttp.Lottery) {
			// Removed and renumbered: the rest is consistent, but the fan
			// holding the token is not in it.
			id := l.Entries[placeOf(t, *l, tokens[7])-1].Entry
			var kept []boxhttp.LotteryEntry
			for _, e := range l.Entries {
				if e.Entry != id {
					kept = append(kept, boxhttp.LotteryEntry{Entry: e.Entry, Position: int64(len(kept) + 1)})
				}
			}
			l.Entries = kept
		}, []string{tokens[7]}, "is not in the draw"},
		{"ErrTokenOfAnotherConcert", func(l *boxhttp.Lottery) {}, func() []string {
			_, toks := publishedDraw(t, 1)
			return toks
		}(), "the token is for concert"},
		{"ErrNotAToken", func(l *boxhttp.Lottery) {}, []string{"garbage"}, "not a queue token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tampered := l
			tampered.Entries = append([]boxhttp.LotteryEntry(nil), l.Entries...)
			tc.tamper(&tampered)
			args := []string{"--file", writeLottery(t, tampered)}
			for _, tok := range tc.tokens {
				args = append(args, "--token", tok)
			}
			out, err := runVerify(args...)
			if err == nil {
				t.Fatalf("got it verified, want a failure; output:\n%s", out)
			}
			if !strings.Contains(out, tc.want) || strings.Contains(out, "verified\n") {
				t.Errorf("output lacks %q (or says verified):\n%s", tc.want, out)
			}
		})
	}
	t.Run("ErrNotYetVerifiable", func(t *testing.T) {
		before := l
		before.Seed, before.Entries = nil, nil
		if out, err := runVerify("--file", writeLottery(t, before)); err == nil || !strings.Contains(err.Error(), "not published yet") {
			t.Errorf("seed not published: got %v, want an error saying so; output:\n%s", err, out)
		}
		drawless := l
		drawless.Entries = nil
		if out, err := runVerify("--file", writeLottery(t, drawless)); err == nil || !strings.Contains(err.Error(), "not made yet") {
			t.Errorf("draw not made: got %v, want an error saying so; output:\n%s", err, out)
		}
	})
	t.Run("URL", func(t *testing.T) {
		b, _ := json.Marshal(l)
		ts := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
			if r.URL.Path != "/v1/concerts/"+l.ConcertID+"/lottery" {
				nethttp.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(b)
		}))
		defer ts.Close()
		if out, err := runVerify("--url", ts.URL+"/v1/concerts/"+l.ConcertID+"/lottery"); err != nil {
			t.Errorf("got %v, want it verified; output:\n%s", err, out)
		}
		if _, err := runVerify("--url", ts.URL+"/v1/concerts/x/lottery"); err == nil || !strings.Contains(err.Error(), "404") {
			t.Errorf("unknown concert: got %v, want the 404", err)
		}
	})
	t.Run("ErrUsage", func(t *testing.T) {
		for _, args := range [][]string{nil, {"--url", "http://x", "--file", "y"}} {
			if _, err := runVerify(args...); err == nil {
				t.Errorf("args %q: got no error, want a usage error", args)
			}
		}
	})
}

// TestVerifyLotteryEndToEnd draws a real opening on the embedded wiring and
// verifies its publication.
func TestVerifyLotteryEndToEnd(t *testing.T) {
	clock := boxoffice.NewManualClock(time.Now().UTC().Truncate(time.Second))
	cfg := embedded.config(t)
	cfg.AdminKey = "admin-" + randomHex(16)
	m := startMain(t, cfg, clock)
	client, adminKey := testClient(t, m.URL()), cfg.AdminKey
	ctx := context.Background()
	opening := clock.Now().Add(30 * time.Second)
	c, err := client.CreateConcert(ctx, adminKey, boxhttp.ConcertSpec{
		Title: "Lottery", Venue: "Hall", Dates: []time.Time{opening.Add(30 * 24 * time.Hour)},
		Grades:      []boxhttp.Grade{{Name: "R", Seats: "1-50", Price: 1000}},
		SalesOpenAt: opening,
		WaitingRoom: &boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: 1, SessionSeconds: 600, IdleSeconds: 60},
	})
	if err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for i := range 20 {
		u, err := client.CreateUser(ctx, fmt.Sprintf("fan%d", i))
		if err != nil {
			t.Fatal(err)
		}
		st, _, err := client.Join(ctx, u.AccessToken, c.ConcertID)
		if err != nil || st.Status != "PREQUEUE" {
			t.Fatalf("join: got %+v, %v; want PREQUEUE", st, err)
		}
		tokens = append(tokens, st.Token)
	}
	url := m.URL() + "/v1/concerts/" + c.ConcertID + "/lottery"
	if _, err := runVerify("--url", url); err == nil || !strings.Contains(err.Error(), "not published yet") {
		t.Fatalf("before the opening: got %v, want the seed not published yet", err)
	}
	clock.Set(opening)
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err := client.Lottery(ctx, c.ConcertID)
		if err != nil {
			t.Fatal(err)
		}
		if l.Entries != nil {
			if len(l.Entries) != len(tokens) {
				t.Fatalf("got %d entries, want %d", len(l.Entries), len(tokens))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no draw 30 s after the opening, want it at the first admission step")
		}
		time.Sleep(10 * time.Millisecond) // the admission loop runs every 10 ms
	}
	out, err := runVerify("--url", url, "--token", tokens[0], "--token", tokens[19])
	if err != nil {
		t.Fatalf("got %v, want it verified; output:\n%s", err, out)
	}
	if strings.Count(out, "drew place") != 2 || !strings.Contains(out, "of 20") {
		t.Errorf("output lacks both fans' places:\n%s", out)
	}
}
