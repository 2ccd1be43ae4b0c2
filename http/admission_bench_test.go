package http_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/postgres"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/token"
	"github.com/boxoffice/boxoffice/wallet"
)

// BenchmarkAdmissionAccuracy measures how closely a RATE room admits at its
// configured rate in production mode: two instances on one PostgreSQL and
// one Redis, each running the real admission loop (100 ms steps) on the
// system clock, a queue far longer than the run can admit, and an operator
// reading `admitted` from the stats endpoint every window. It reports the
// median and the extremes of the windows' admitted/s and their ratio to
// the configured rate. It runs for BOXOFFICE_ACCURACY_SECONDS (default 60)
// in windows of 10 s:
//
//	go test -run '^$' -bench AdmissionAccuracy -benchtime 1x ./http/
func BenchmarkAdmissionAccuracy(b *testing.B) {
	const (
		rate   = 50.0
		window = 10 * time.Second
		tick   = 100 * time.Millisecond
	)
	seconds := 60
	if v, err := strconv.Atoi(os.Getenv("BOXOFFICE_ACCURACY_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	ctx := context.Background()
	db := freshDB(b)
	store := freshRedisQueue(b)
	clock := boxoffice.SystemClock{}
	signer, err := token.NewSigner([]byte("0123456789abcdef-accuracy-secret"))
	if err != nil {
		b.Fatal(err)
	}
	concerts := postgres.NewConcertStore(db)
	var clients []*boxhttp.Client
	var services []*queue.Service
	for i := range 2 {
		cache := concert.NewCache(concerts, clock, time.Second)
		bookings := booking.NewService(postgres.NewBookingStore(db), cache, clock)
		svc := queue.NewService(store, clock, fmt.Sprintf("instance-%d", i), tick, nil, signer.LotterySeed, supplyOf(bookings))
		srv := boxhttp.NewServer(boxhttp.Options{
			Wallet:   wallet.NewService(postgres.NewWalletStore(db), clock, wallet.DefaultLimits()),
			Concerts: concert.NewService(concerts, cache, svc, clock, nil),
			Booking:  bookings, Queue: svc, Signer: signer, AdminKey: adminKey,
			Clock: clock, Registry: prometheus.NewRegistry(),
		})
		ts := httptest.NewServer(srv)
		b.Cleanup(ts.Close)
		b.Cleanup(srv.CloseStreams)
		clients = append(clients, boxhttp.NewClient(ts.URL, ts.Client()))
		services = append(services, svc)
	}
	s := spec()
	s.SalesOpenAt = time.Now().Add(-time.Minute)
	s.WaitingRoom = &boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: rate, SessionSeconds: 3600, IdleSeconds: 3600}
	c, err := clients[0].CreateConcert(ctx, adminKey, s)
	if err != nil {
		b.Fatal(err)
	}
	room := queue.Room{ConcertID: c.ConcertID, OpensAt: s.SalesOpenAt,
		Settings: queue.Settings{Strategy: queue.Rate, AdmitPerSecond: rate, SessionSeconds: 3600, IdleSeconds: 3600}}
	fans := int(rate)*seconds*3/2 + 1000
	for i := range fans {
		if _, _, err := services[i%2].Join(ctx, room, boxoffice.NewID()); err != nil {
			b.Fatal(err)
		}
	}

	b.ResetTimer()
	for b.Loop() {
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{}, len(services))
		for _, svc := range services {
			go func() { _ = svc.Run(runCtx); done <- struct{}{} }()
		}
		admitted := func() (int64, time.Time) {
			st, err := clients[1].Stats(ctx, adminKey, c.ConcertID)
			if err != nil {
				b.Fatal(err)
			}
			return st.Admitted, time.Now()
		}
		// Skip the first admissions: the bucket starts with one second's
		// credit, which is not the steady pace.
		time.Sleep(2 * time.Second)
		n0, t0 := admitted()
		first := n0
		var rates []float64
		for range seconds / int(window/time.Second) {
			time.Sleep(window - time.Since(t0))
			n1, t1 := admitted()
			rates = append(rates, float64(n1-n0)/t1.Sub(t0).Seconds())
			n0, t0 = n1, t1
		}
		stop()
		for range services {
			<-done
		}
		st, err := clients[0].Stats(ctx, adminKey, c.ConcertID)
		if err != nil {
			b.Fatal(err)
		}
		if st.Waiting == 0 {
			b.Fatalf("the queue ran dry: want fans waiting throughout")
		}
		slices.Sort(rates)
		median := rates[len(rates)/2]
		if len(rates)%2 == 0 {
			median = (rates[len(rates)/2-1] + rates[len(rates)/2]) / 2
		}
		b.ReportMetric(median, "admitted/s")
		b.ReportMetric(median/rate, "ratio")
		b.ReportMetric(rates[0], "min-admitted/s")
		b.ReportMetric(rates[len(rates)-1], "max-admitted/s")
		b.Logf("configured %.0f/s; %d windows of %v: %v admitted/s; %d admitted after the first 2 s, measured admitRate %.2f/s",
			rate, len(rates), window, rates, n0-first, st.AdmitRate)
	}
}
