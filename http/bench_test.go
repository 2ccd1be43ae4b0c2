package http_test

import (
	"context"
	nethttp "net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/memory"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/token"
)

// benchServer is a Server with an admitted ticket on an in-memory waiting
// room and no database: enough for the routes that need none.
func benchServer(b *testing.B) (*boxhttp.Server, string, string) {
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
	srv := boxhttp.NewServer(boxhttp.Options{Queue: qs, Signer: signer, Clock: clock})
	access := signer.AccessToken(token.Access{UserID: user, IssuedAt: base, ExpiresAt: base.Add(time.Hour)})
	return srv, access, signer.QueueToken(st.Ticket)
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
