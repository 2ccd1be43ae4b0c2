package http_test

import (
	"context"
	nethttp "net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/concert"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/memory"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/token"
)

// benchServer is a Server with an admitted ticket on an in-memory waiting
// room and no database: enough for the routes that need none.
func benchServer(b *testing.B) (*boxhttp.Server, string, string) {
	b.Helper()
	srv, access, queueToken, _ := benchServerWith(b, nil)
	return srv, access, queueToken
}

// benchServerWith is benchServer with concerts as its concert store; it
// also returns the admitted ticket's concert.
func benchServerWith(b *testing.B, concerts concert.Store) (*boxhttp.Server, string, string, string) {
	b.Helper()
	ctx := context.Background()
	clock := boxoffice.NewManualClock(base)
	signer, err := token.NewSigner([]byte("0123456789abcdef-bench-secret"))
	if err != nil {
		b.Fatal(err)
	}
	qs := queue.NewService(memory.NewQueueStore(), clock, "bench", time.Second, nil, nil, nil)
	room := queue.Room{ConcertID: boxoffice.NewID(), OpensAt: base.Add(-time.Hour),
		Settings: queue.Settings{Strategy: queue.MaxActive, MaxActive: 10, SessionSeconds: 3600, IdleSeconds: 3600}}
	user := boxoffice.NewID()
	st, _, err := qs.Join(ctx, room, user)
	if err != nil {
		b.Fatal(err)
	}
	qs.Step(ctx)
	srv := boxhttp.NewServer(boxhttp.Options{Queue: qs, Signer: signer, Clock: clock,
		Concerts: concert.NewService(concerts, concert.NewCache(concerts, clock, time.Second), qs, clock, nil)})
	access := signer.AccessToken(token.Access{UserID: user, IssuedAt: base, ExpiresAt: base.Add(time.Hour)})
	return srv, access, signer.QueueToken(st.Ticket), room.ConcertID
}

// fixedSeats answers every seat map with one slice, as a store does for
// concurrent readers that see the same statuses.
type fixedSeats struct {
	concert.Store
	seats []concert.Seat
}

func (f fixedSeats) Seats(context.Context, string, string, time.Time) ([]concert.Seat, error) {
	return f.seats, nil
}

// BenchmarkSeats is the seat-map route's own cost: tokens, queue pass on
// the in-memory room, and the answer, with a store that costs nothing.
func BenchmarkSeats(b *testing.B) {
	seats := make([]concert.Seat, concert.SeatsPerDate)
	for i := range seats {
		seats[i] = concert.Seat{Number: i + 1, Grade: "VIP", Price: 150_000, Status: concert.Available}
	}
	srv, access, queueToken, concertID := benchServerWith(b, fixedSeats{seats: seats})
	r := httptest.NewRequest("GET", "/v1/concerts/"+concertID+"/dates/2026-07-01/seats", nil)
	r.Header.Set("Authorization", "Bearer "+access)
	r.Header.Set("Queue-Token", queueToken)
	benchmarkRequest(b, srv, r, 200)
}

func benchmarkRequest(b *testing.B, srv nethttp.Handler, r *nethttp.Request, want int) {
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != want {
			b.Fatalf("status %d, want %d: %s", w.Code, want, w.Body)
		}
	}
}

func BenchmarkHealthz(b *testing.B) {
	srv, _, _ := benchServer(b)
	benchmarkRequest(b, srv, httptest.NewRequest("GET", "/healthz", nil), 200)
}

func BenchmarkQueueStatus(b *testing.B) {
	srv, access, queueToken := benchServer(b)
	r := httptest.NewRequest("GET", "/v1/queue", nil)
	r.Header.Set("Authorization", "Bearer "+access)
	r.Header.Set("Queue-Token", queueToken)
	benchmarkRequest(b, srv, r, 200)
}

func BenchmarkUnauthenticated(b *testing.B) {
	srv, _, _ := benchServer(b)
	benchmarkRequest(b, srv, httptest.NewRequest("GET", "/v1/queue", nil), 401)
}
