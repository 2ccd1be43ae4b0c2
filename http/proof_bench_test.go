package http_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/concert"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/memory"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/token"
)

// oneConcert is a concert store that knows one concert and nothing else.
type oneConcert struct {
	concert.Store
	c concert.Concert
}

func (o oneConcert) Concert(_ context.Context, id string) (concert.Concert, error) {
	if id != o.c.ID {
		return concert.Concert{}, concert.NotFound(id)
	}
	return o.c, nil
}

// BenchmarkProofFlood compares, on one server, what a flood of joins with
// bad proofs of work costs with what a status poll costs. The concert store
// costs nothing, so that the figures are the handlers' own.
//
//   - Poll: GET /v1/queue of an admitted fan on the in-memory waiting room
//     (tokens, the store's status, the answer): the cheapest poll there is.
//   - PollRedis: the same on the Redis waiting room, as in production.
//   - Garbage: a join whose Queue-Proof is 512 random bytes in base64.
//   - Oversized: a join whose Queue-Proof is 64 KiB, refused on its length.
//   - Forged: a proof for this fan, concert and time whose number solves its
//     challenge, under a signature the server did not make (form, salt,
//     one SHA-256 and one HMAC).
//   - OtherUser: a genuine solved proof of another user, replayed: every
//     check but the last passes (one SHA-256, one HMAC, one keyed hash).
func BenchmarkProofFlood(b *testing.B) {
	ctx := context.Background()
	clock := boxoffice.NewManualClock(base)
	signer, err := token.NewSigner([]byte("0123456789abcdef-bench-secret"))
	if err != nil {
		b.Fatal(err)
	}
	c := concert.Concert{ID: boxoffice.NewID(), Title: "Bench", Venue: "Hall", SalesOpenAt: base.Add(-time.Hour),
		WaitingRoom: queue.Settings{Strategy: queue.MaxActive, MaxActive: 10, SessionSeconds: 3600, IdleSeconds: 3600, ProofOfWork: 100_000}}
	store := oneConcert{c: c}
	user := boxoffice.NewID()
	access := signer.AccessToken(token.Access{UserID: user, IssuedAt: base, ExpiresAt: base.Add(time.Hour)})
	server := func(qs queue.Store) (*boxhttp.Server, string) {
		svc := queue.NewService(qs, clock, "bench", time.Second, nil, nil, nil)
		st, _, err := svc.Join(ctx, c.Room(), user)
		if err != nil {
			b.Fatal(err)
		}
		svc.Step(ctx)
		srv := boxhttp.NewServer(boxhttp.Options{Queue: svc, Signer: signer, Clock: clock,
			Concerts: concert.NewService(store, concert.NewCache(store, clock, time.Hour), svc, clock, nil)})
		return srv, signer.QueueToken(st.Ticket)
	}
	srv, queueToken := server(memory.NewQueueStore())
	poll := func(b *testing.B, srv *boxhttp.Server, queueToken string) {
		r := httptest.NewRequest("GET", "/v1/queue", nil)
		r.Header.Set("Authorization", "Bearer "+access)
		r.Header.Set("Queue-Token", queueToken)
		benchmarkCPU(b, srv, r, 200)
	}
	b.Run("Poll", func(b *testing.B) { poll(b, srv, queueToken) })
	b.Run("PollRedis", func(b *testing.B) {
		rs, rt := server(freshRedisQueue(b))
		poll(b, rs, rt)
	})
	join := func(b *testing.B, proof string) {
		r := httptest.NewRequest("POST", "/v1/concerts/"+c.ID+"/queue", nil)
		r.Header.Set("Authorization", "Bearer "+access)
		r.Header.Set("Queue-Proof", proof)
		benchmarkCPU(b, srv, r, 403)
	}
	b.Run("Garbage", func(b *testing.B) {
		junk := make([]byte, 512)
		_, _ = rand.Read(junk)
		join(b, base64.StdEncoding.EncodeToString(junk))
	})
	b.Run("Oversized", func(b *testing.B) {
		join(b, strings.Repeat("A", 64<<10))
	})
	b.Run("Forged", func(b *testing.B) {
		// A challenge made with another key: consistent, but not signed here.
		other, _ := token.NewSigner([]byte("a key the attacker chose"))
		ch := other.Challenge(c.ID, user, 1000, base.Add(token.ChallengeTTL))
		n, _ := token.Solve(ctx, ch)
		join(b, token.EncodeProof(ch, n))
	})
	b.Run("OtherUser", func(b *testing.B) {
		ch := signer.Challenge(c.ID, boxoffice.NewID(), 1000, base.Add(token.ChallengeTTL))
		n, _ := token.Solve(ctx, ch)
		join(b, token.EncodeProof(ch, n))
	})
}

// benchmarkCPU is benchmarkRequest that also reports the process's CPU
// time per request (cpu-ns/op): on a machine shared with other work, wall
// time per request says more of the neighbours than of the handler.
func benchmarkCPU(b *testing.B, srv nethttp.Handler, r *nethttp.Request, want int) {
	b.ReportAllocs()
	start, ok := cpuTime()
	n := 0
	for b.Loop() {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != want {
			b.Fatalf("status %d, want %d: %s", w.Code, want, w.Body)
		}
		n++
	}
	if end, ok2 := cpuTime(); ok && ok2 && n > 0 {
		b.ReportMetric(float64(end-start)/float64(n), "cpu-ns/op")
	}
}
