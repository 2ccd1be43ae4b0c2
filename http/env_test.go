package http_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	nethttp "net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/memory"
	"github.com/boxoffice/boxoffice/postgres"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/redis"
	"github.com/boxoffice/boxoffice/token"
	"github.com/boxoffice/boxoffice/wallet"
)

// base is the test clock's start: sales of the test concerts opened an hour
// before, and their dates are a month later.
var base = time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)

const adminKey = "test-admin-key"

var seoul = time.FixedZone("KST", 9*3600)

func databaseURL() string {
	if u := os.Getenv("BOXOFFICE_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

func redisURL() string {
	if u := os.Getenv("BOXOFFICE_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// unreachable skips t, or fails it when CI=true.
func unreachable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is unreachable: %v", what, err)
	}
	t.Skipf("%s is unreachable: %v", what, err)
}

func randomName(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// freshDB returns a migrated database on a schema of its own, dropped when
// t ends.
func freshDB(t testing.TB) *postgres.DB {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, databaseURL())
	if err != nil {
		unreachable(t, "PostgreSQL (BOXOFFICE_TEST_DATABASE_URL)", err)
	}
	schema := randomName("http_")
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	conn.Close(ctx)
	if err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, databaseURL())
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(databaseURL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("pool_max_conns", "8")
	u.RawQuery = q.Encode()
	db, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(db.Close)
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

// freshRedisQueue returns a Redis queue store under a key prefix of its
// own, whose keys are deleted when t ends.
func freshRedisQueue(t testing.TB) queue.Store {
	t.Helper()
	ctx := context.Background()
	client, err := redis.Open(ctx, redisURL())
	if err != nil {
		unreachable(t, "Redis (BOXOFFICE_TEST_REDIS_URL)", err)
	}
	prefix := randomName("httptest:") + ":"
	t.Cleanup(func() {
		defer client.Close()
		var cursor uint64
		for {
			keys, next, err := client.Scan(ctx, cursor, prefix+"*", 500).Result()
			if err != nil {
				t.Errorf("clean Redis keys %s*: %v", prefix, err)
				return
			}
			if len(keys) > 0 {
				client.Del(ctx, keys...)
			}
			if cursor = next; cursor == 0 {
				return
			}
		}
	})
	return redis.NewQueueStore(client, prefix)
}

// env is a Server on real stores, behind an httptest.Server, with a clock
// that moves only when told to.
type env struct {
	clock    *boxoffice.ManualClock
	queue    *queue.Service
	bookings *booking.Service
	server   *boxhttp.Server
	registry *prometheus.Registry
	signer   *token.Signer
	client   *boxhttp.Client
	url      string
	logs     *bytes.Buffer
	// logText returns what the server logged.
	logText func() string
}

type envOption func(*boxhttp.Options)

// roomsOf hands waiting room settings to the queue service the options
// end with, whichever option set it.
type roomsOf struct{ o *boxhttp.Options }

func (r roomsOf) Configure(ctx context.Context, room queue.Room) error {
	return r.o.Queue.Configure(ctx, room)
}

func withQueueStore(s queue.Store) envOption {
	return func(o *boxhttp.Options) {
		o.Queue = queue.NewService(s, o.Clock, "test", time.Second, nil, nil, supplyOf(o.Booking))
	}
}

// supplyOf reports the concerts' supply to the waiting room, as the real
// wiring does.
func supplyOf(b *booking.Service) func(ctx context.Context, concertID string) (queue.Supply, error) {
	return func(ctx context.Context, concertID string) (queue.Supply, error) {
		sup, err := b.Supply(ctx, concertID)
		return queue.Supply(sup), err
	}
}

func withRateLimit(r float64) envOption {
	return func(o *boxhttp.Options) { o.RateLimit = r }
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	db := freshDB(t)
	clock := boxoffice.NewManualClock(base)
	concerts := postgres.NewConcertStore(db)
	cache := concert.NewCache(concerts, clock, time.Second)
	signer, err := token.NewSigner([]byte("0123456789abcdef-test-secret"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	o := boxhttp.Options{
		Wallet:    wallet.NewService(postgres.NewWalletStore(db), clock, wallet.DefaultLimits()),
		Booking:   booking.NewService(postgres.NewBookingStore(db), cache, clock),
		Signer:    signer,
		AccessTTL: time.Hour,
		AdminKey:  adminKey,
		Clock:     clock,
		Logger:    slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, nil)),
		Registry:  prometheus.NewRegistry(),
	}
	o.Queue = queue.NewService(memory.NewQueueStore(), clock, "test", time.Second, nil, nil, supplyOf(o.Booking))
	o.Concerts = concert.NewService(concerts, cache, roomsOf{&o}, clock, o.Logger)
	for _, opt := range opts {
		opt(&o)
	}
	srv := boxhttp.NewServer(o)
	o.Queue.OnStep = srv.ObserveAdmission
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(srv.CloseStreams)
	return &env{
		clock: clock, queue: o.Queue, bookings: o.Booking, server: srv, registry: o.Registry, signer: signer,
		client: boxhttp.NewClient(ts.URL, ts.Client()), url: ts.URL, logs: logs, logText: logs.String,
	}
}

// lockedWriter serializes writes of concurrent handlers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (lw *lockedWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.Write(p)
}

// spec is a concert whose sale opened an hour before base: two dates in
// Seoul, VIP seats 1-10 at 150,000 and R seats 11-50 at 90,000, holds of
// 300 s, at most 4 seats per user and date, and a waiting room that admits
// everyone waiting at each step.
func spec() boxhttp.ConcertSpec {
	return boxhttp.ConcertSpec{
		Title: "Winter Concert",
		Venue: "Olympic Hall",
		Dates: []time.Time{
			time.Date(2026, 7, 1, 19, 0, 0, 0, seoul),
			time.Date(2026, 7, 2, 19, 0, 0, 0, seoul),
		},
		Grades: []boxhttp.Grade{
			{Name: "VIP", Seats: "1-10", Price: 150_000},
			{Name: "R", Seats: "11-50", Price: 90_000},
		},
		SalesOpenAt:     base.Add(-time.Hour),
		HoldSeconds:     300,
		MaxSeatsPerUser: 4,
		WaitingRoom:     &boxhttp.WaitingRoom{Strategy: "MAX_ACTIVE", MaxActive: 1000, SessionSeconds: 600, IdleSeconds: 60},
	}
}

const (
	day1 = "2026-07-01"
	day2 = "2026-07-02"
)

func (e *env) concert(t *testing.T, s boxhttp.ConcertSpec) boxhttp.Concert {
	t.Helper()
	c, err := e.client.CreateConcert(context.Background(), adminKey, s)
	if err != nil {
		t.Fatalf("create concert: %v", err)
	}
	return c
}

// fan is a user with an access token and, once joined, a queue token.
type fan struct {
	id, access, queue string
}

func (e *env) fan(t *testing.T, name string, balance int64) *fan {
	t.Helper()
	ctx := context.Background()
	u, err := e.client.CreateUser(ctx, name)
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	f := &fan{id: u.UserID, access: u.AccessToken}
	for balance > 0 {
		amount := min(balance, 1_000_000)
		if _, err := e.client.Charge(ctx, f.access, f.id, amount, ""); err != nil {
			t.Fatalf("charge: %v", err)
		}
		balance -= amount
	}
	return f
}

// join puts f in the concert's waiting room.
func (e *env) join(t *testing.T, f *fan, concertID string) boxhttp.QueueStatus {
	t.Helper()
	st, _, err := e.client.Join(context.Background(), f.access, concertID)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	f.queue = st.Token
	return st
}

// admit runs one admission step.
func (e *env) admit() { e.queue.Step(context.Background()) }

// admitted returns a fan with balance, admitted to the concert.
func (e *env) admitted(t *testing.T, name string, balance int64, concertID string) *fan {
	t.Helper()
	f := e.fan(t, name, balance)
	e.join(t, f, concertID)
	e.admit()
	st, err := e.client.QueueStatus(context.Background(), f.access, f.queue)
	if err != nil || st.Status != "ADMITTED" {
		t.Fatalf("queue status: got %+v, %v; want ADMITTED", st, err)
	}
	return f
}

func (e *env) hold(t *testing.T, f *fan, concertID, date string, seats ...int) boxhttp.Reservation {
	t.Helper()
	r, err := e.client.Hold(context.Background(), f.access, f.queue, boxhttp.HoldRequest{ConcertID: concertID, Date: date, SeatNumbers: seats})
	if err != nil {
		t.Fatalf("hold %v: %v", seats, err)
	}
	return r
}

// smallConcert is a concert of spec with one date, day1, whose 50 seats
// are free and may all be held by one fan.
func (e *env) smallConcert(t *testing.T) boxhttp.Concert {
	t.Helper()
	s := spec()
	s.Dates = s.Dates[:1]
	s.Grades = []boxhttp.Grade{{Name: "Free", Seats: "1-50", Price: 0}}
	s.MaxSeatsPerUser = 50
	return e.concert(t, s)
}

// buyAll has f, admitted, hold and pay every seat of day1 of a
// smallConcert.
func (e *env) buyAll(t *testing.T, f *fan, concertID string) {
	t.Helper()
	seats := make([]int, 50)
	for i := range seats {
		seats[i] = i + 1
	}
	r := e.hold(t, f, concertID, day1, seats...)
	if _, err := e.client.Pay(context.Background(), f.access, f.queue, r.ReservationID, ""); err != nil {
		t.Fatal(err)
	}
}

// answer is a raw HTTP answer.
type answer struct {
	status int
	header nethttp.Header
	body   []byte
}

// do sends a raw request; headers are name, value pairs.
func (e *env) do(t *testing.T, method, path, body string, headers ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := nethttp.NewRequest(method, e.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func bearer(tok string) string { return "Bearer " + tok }

// problem decodes a as a problem, failing t unless it is one.
func (a answer) problem(t *testing.T) boxhttp.Problem {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json (body %s)", ct, a.body)
	}
	var p boxhttp.Problem
	dec := json.NewDecoder(bytes.NewReader(a.body))
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("body %s is not a problem: %v", a.body, err)
	}
	if p.Type != "about:blank" || p.Status != a.status || p.Title == "" || p.Code == "" {
		t.Errorf("problem %s: want type about:blank, status %d, a title and a code", a.body, a.status)
	}
	return p
}

// wantProblem fails t unless a is a problem with status and code.
func wantProblem(t *testing.T, a answer, status int, code boxoffice.Code) boxhttp.Problem {
	t.Helper()
	if a.status != status {
		t.Errorf("status = %d, want %d (body %s)", a.status, status, a.body)
	}
	p := a.problem(t)
	if p.Code != code {
		t.Errorf("code = %s, want %s (detail %q)", p.Code, code, p.Detail)
	}
	return p
}

// wantCode fails t unless err is an answer with status and code.
func wantCode(t *testing.T, err error, status int, code boxoffice.Code) {
	t.Helper()
	if got := boxoffice.ErrorCode(err); got != code || boxhttp.StatusCode(err) != status {
		t.Errorf("got %v (status %d), want %d %s", err, boxhttp.StatusCode(err), status, code)
	}
}

func decode[T any](t *testing.T, a answer) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
	return v
}
