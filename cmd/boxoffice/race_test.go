package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/token"
)

// These tests run three instances of one deployment on the shared
// PostgreSQL and Redis, and spread every race over all three.

// fan is a user with an admitted queue session.
type fan struct {
	c           *boxhttp.Client
	userID      string
	accessToken string
	queueToken  string
}

// newFan creates a user through c and joins them to the concert.
func newFan(ctx context.Context, c *boxhttp.Client, concertID, name string) (fan, error) {
	u, err := c.CreateUser(ctx, name)
	if err != nil {
		return fan{}, fmt.Errorf("create user: %w", err)
	}
	st, _, err := c.Join(ctx, u.AccessToken, concertID)
	if err != nil {
		return fan{}, fmt.Errorf("join: %w", err)
	}
	return fan{c: c, userID: u.UserID, accessToken: u.AccessToken, queueToken: st.Token}, nil
}

// admittedFans creates n users, spread over the instances, joins each to the
// concert and waits until all are admitted. advance, if set, moves the
// deployment's clock while waiting.
func admittedFans(t *testing.T, clients []*boxhttp.Client, concertID string, n int, advance func()) []fan {
	t.Helper()
	ctx := context.Background()
	fans := make([]fan, n)
	var wg sync.WaitGroup
	for i := range fans {
		wg.Go(func() {
			f, err := newFan(ctx, clients[i%len(clients)], concertID, fmt.Sprintf("fan %d", i))
			if err != nil {
				t.Error(err)
			}
			fans[i] = f
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, f := range fans {
		for {
			st, err := f.c.QueueStatus(ctx, f.accessToken, f.queueToken)
			if err != nil {
				t.Fatalf("queue status: %v", err)
			}
			if st.Status == "ADMITTED" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("fan not admitted after 20s: %+v", st)
			}
			if advance != nil {
				advance()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return fans
}

func createConcert(t *testing.T, c *boxhttp.Client, adminKey string, spec boxhttp.ConcertSpec) string {
	t.Helper()
	con, err := c.CreateConcert(context.Background(), adminKey, spec)
	if err != nil {
		t.Fatalf("create concert: %v", err)
	}
	return con.ConcertID
}

func fastRoom(spec boxhttp.ConcertSpec) boxhttp.ConcertSpec {
	spec.WaitingRoom = &boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: 5000, SessionSeconds: 600, IdleSeconds: 600}
	return spec
}

// start returns a channel that releases every goroutine waiting on it at once.
func start() (chan struct{}, func()) {
	ch := make(chan struct{})
	return ch, func() { close(ch) }
}

func TestRaceOneSeat(t *testing.T) {
	clients, admin := cluster(t, production, 3, nil, nil)
	ctx := context.Background()
	spec := fastRoom(testSpec(time.Now().Add(-time.Minute)))
	spec.MaxSeatsPerUser = 1
	concertID := createConcert(t, clients[0], admin, spec)
	day := spec.Dates[0].Format("2006-01-02")
	fans := admittedFans(t, clients, concertID, 100, nil)

	gate, open := start()
	results := make([]error, len(fans))
	held := make([]string, len(fans))
	var wg sync.WaitGroup
	for i, f := range fans {
		wg.Go(func() {
			<-gate
			r, err := f.c.Hold(ctx, f.accessToken, f.queueToken, boxhttp.HoldRequest{ConcertID: concertID, Date: day, SeatNumbers: []int{17}})
			results[i], held[i] = err, r.ReservationID
		})
	}
	open()
	wg.Wait()

	winner := -1
	for i, err := range results {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("fans %d and %d both hold seat 17", winner, i)
			}
			winner = i
		case !errors.Is(err, boxoffice.ErrSeatUnavailable):
			t.Errorf("fan %d: got %v, want SEAT_UNAVAILABLE", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("nobody holds seat 17, want exactly one holder")
	}
	// Every fan sees the seat held, and it is the winner's.
	for _, f := range fans[:3] {
		seats, err := f.c.Seats(ctx, f.accessToken, f.queueToken, concertID, day)
		if err != nil || seats.Seats[16].Status != "HELD" {
			t.Errorf("seat 17 shows %+v, %v; want HELD", seats.Seats[16], err)
		}
	}
	w := fans[winner]
	if r, err := w.c.Reservation(ctx, w.accessToken, held[winner]); err != nil || r.Seats[0].Number != 17 || r.Status != "HELD" {
		t.Errorf("winner's reservation: got %+v, %v", r, err)
	}
}

func TestRaceOverlappingHolds(t *testing.T) {
	clients, admin := cluster(t, production, 3, nil, nil)
	ctx := context.Background()
	spec := fastRoom(testSpec(time.Now().Add(-time.Minute)))
	concertID := createConcert(t, clients[0], admin, spec)
	day := spec.Dates[0].Format("2006-01-02")
	fans := admittedFans(t, clients, concertID, 60, nil)

	// Every fan wants 2-4 of the front 10 seats: heavy overlap.
	want := make([][]int, len(fans))
	for i := range want {
		want[i] = rand.Perm(10)[:2+rand.IntN(3)]
		for j := range want[i] {
			want[i][j]++
		}
	}
	gate, open := start()
	got := make([]boxhttp.Reservation, len(fans))
	errs := make([]error, len(fans))
	var wg sync.WaitGroup
	for i, f := range fans {
		wg.Go(func() {
			<-gate
			got[i], errs[i] = f.c.Hold(ctx, f.accessToken, f.queueToken, boxhttp.HoldRequest{ConcertID: concertID, Date: day, SeatNumbers: want[i]})
		})
	}
	open()
	wg.Wait()

	owner := map[int]int{}
	winners := 0
	for i, err := range errs {
		if err != nil {
			if !errors.Is(err, boxoffice.ErrSeatUnavailable) {
				t.Errorf("fan %d: got %v, want SEAT_UNAVAILABLE", i, err)
			}
			continue
		}
		winners++
		if len(got[i].Seats) != len(want[i]) {
			t.Errorf("fan %d holds %d seats, asked for %d: holds are all-or-nothing", i, len(got[i].Seats), len(want[i]))
		}
		for _, s := range got[i].Seats {
			if prev, taken := owner[s.Number]; taken {
				t.Errorf("seat %d held by fans %d and %d", s.Number, prev, i)
			}
			owner[s.Number] = i
		}
	}
	if winners == 0 {
		t.Fatal("no hold succeeded")
	}
	seats, err := fans[0].c.Seats(ctx, fans[0].accessToken, fans[0].queueToken, concertID, day)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range seats.Seats {
		_, held := owner[s.Number]
		if held != (s.Status == "HELD") {
			t.Errorf("seat %d shows %s, held by a winner: %v", s.Number, s.Status, held)
		}
	}
}

func TestRaceCharges(t *testing.T) {
	clients, _ := cluster(t, production, 3, nil, nil)
	ctx := context.Background()
	u, err := clients[0].CreateUser(ctx, "Park")
	if err != nil {
		t.Fatal(err)
	}
	gate, open := start()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			<-gate
			if _, err := clients[i%3].Charge(ctx, u.AccessToken, u.UserID, 1000+int64(i), ""); err != nil {
				t.Errorf("charge %d: %v", i, err)
			}
		})
	}
	open()
	wg.Wait()

	var want int64
	for i := range 50 {
		want += 1000 + int64(i)
	}
	bal, err := clients[1].Balance(ctx, u.AccessToken, u.UserID)
	if err != nil || bal.Balance != want {
		t.Errorf("balance: got %d, %v; want %d", bal.Balance, err, want)
	}
	hist, err := clients[2].History(ctx, u.AccessToken, u.UserID, 100, "")
	if err != nil || len(hist.Entries) != 50 {
		t.Fatalf("history: got %d entries, %v; want 50", len(hist.Entries), err)
	}
	// The ledger explains the balance: every entry's balanceAfter is the
	// running sum, newest first.
	running := want
	for _, e := range hist.Entries {
		if e.BalanceAfter != running {
			t.Errorf("entry %s: balanceAfter %d, want %d", e.ID, e.BalanceAfter, running)
		}
		running -= e.Amount
	}
}

func TestRacePayments(t *testing.T) {
	clients, admin := cluster(t, production, 3, nil, nil)
	ctx := context.Background()
	spec := fastRoom(testSpec(time.Now().Add(-time.Minute)))
	concertID := createConcert(t, clients[0], admin, spec)
	day := spec.Dates[0].Format("2006-01-02")
	f := admittedFans(t, clients, concertID, 1, nil)[0]
	r, err := f.c.Hold(ctx, f.accessToken, f.queueToken, boxhttp.HoldRequest{ConcertID: concertID, Date: day, SeatNumbers: []int{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	const charged = 1_000_000
	if _, err := f.c.Charge(ctx, f.accessToken, f.userID, charged, ""); err != nil {
		t.Fatal(err)
	}

	// 20 payments at once over three instances: 10 with one key, 10 with
	// keys of their own.
	gate, open := start()
	keys := make([]string, 20)
	pays := make([]boxhttp.Payment, 20)
	errs := make([]error, 20)
	var wg sync.WaitGroup
	for i := range keys {
		keys[i] = "same"
		if i%2 == 1 {
			keys[i] = fmt.Sprintf("own-%d", i)
		}
		wg.Go(func() {
			<-gate
			pays[i], errs[i] = clients[i%3].Pay(ctx, f.accessToken, f.queueToken, r.ReservationID, keys[i])
		})
	}
	open()
	wg.Wait()

	// One payment wins; every caller with the winner's key gets it, every
	// other caller is told the reservation is paid (or, if the payment ended
	// its session first, that the session is over).
	winner := -1
	for i, err := range errs {
		if err == nil {
			winner = i
			break
		}
	}
	if winner < 0 {
		t.Fatalf("no payment succeeded: %v", errs)
	}
	for i, err := range errs {
		switch {
		case keys[i] == keys[winner]:
			if err != nil || pays[i] != pays[winner] {
				t.Errorf("payment %d with the winning key %q: got %+v, %v; want %+v", i, keys[i], pays[i], err, pays[winner])
			}
		case !errors.Is(err, boxoffice.ErrAlreadyPaid) && !errors.Is(err, boxoffice.ErrQueueTokenExpired):
			t.Errorf("payment %d with key %q: got %v, want ALREADY_PAID or QUEUE_TOKEN_EXPIRED", i, keys[i], err)
		}
	}
	bal, _ := f.c.Balance(ctx, f.accessToken, f.userID)
	if want := charged - r.Amount; bal.Balance != want {
		t.Errorf("balance: got %d, want %d (exactly one debit of %d)", bal.Balance, want, r.Amount)
	}
	hist, _ := f.c.History(ctx, f.accessToken, f.userID, 100, "")
	payments := 0
	for _, e := range hist.Entries {
		if e.Kind == "PAYMENT" {
			payments++
		}
	}
	if payments != 1 {
		t.Errorf("ledger has %d PAYMENT entries, want 1", payments)
	}
	stats, _ := clients[0].Stats(ctx, admin, concertID)
	if stats.Sold != 2 || stats.Revenue != r.Amount {
		t.Errorf("stats: sold %d revenue %d, want 2 and %d", stats.Sold, stats.Revenue, r.Amount)
	}
}

// TestHoldLapsesDuringPayment lets holds lapse in the database's time, the
// one clock of the deployment, and then has their owner pay each through
// one instance while another fan grabs the seat through another.
func TestHoldLapsesDuringPayment(t *testing.T) {
	clients, admin := cluster(t, production, 3, nil, nil)
	ctx := context.Background()
	spec := fastRoom(testSpec(time.Now().Add(-time.Minute)))
	spec.HoldSeconds = 1
	spec.WaitingRoom.SessionSeconds = 3600
	concertID := createConcert(t, clients[0], admin, spec)
	day := spec.Dates[0].Format("2006-01-02")
	fans := admittedFans(t, clients, concertID, 2, nil)
	a, b := fans[0], fans[1]
	if _, err := a.c.Charge(ctx, a.accessToken, a.userID, 1_000_000, ""); err != nil {
		t.Fatal(err)
	}
	seats := []int{20, 21, 22, 23}
	held := make([]boxhttp.Reservation, len(seats))
	for i, seat := range seats {
		r, err := a.c.Hold(ctx, a.accessToken, a.queueToken, boxhttp.HoldRequest{ConcertID: concertID, Date: day, SeatNumbers: []int{seat}})
		if err != nil {
			t.Fatalf("hold %d: %v", seat, err)
		}
		held[i] = r
	}
	for dbNow(t).Before(held[len(held)-1].ExpiresAt) {
		time.Sleep(50 * time.Millisecond)
	}
	before, _ := a.c.Balance(ctx, a.accessToken, a.userID)

	for round, seat := range seats {
		r := held[round]
		gate, open := start()
		var payErr, holdErr error
		var wg sync.WaitGroup
		wg.Go(func() {
			<-gate
			_, payErr = clients[round%3].Pay(ctx, a.accessToken, a.queueToken, r.ReservationID, "")
		})
		wg.Go(func() {
			<-gate
			_, holdErr = clients[(round+1)%3].Hold(ctx, b.accessToken, b.queueToken, boxhttp.HoldRequest{ConcertID: concertID, Date: day, SeatNumbers: []int{seat}})
		})
		open()
		wg.Wait()

		if !errors.Is(payErr, boxoffice.ErrHoldExpired) {
			t.Errorf("round %d: paying a lapsed hold: got %v, want HOLD_EXPIRED", round, payErr)
		}
		if holdErr != nil {
			t.Errorf("round %d: the other fan's hold of the lapsed seat: got %v, want it to succeed", round, holdErr)
		}
		if got, _ := a.c.Reservation(ctx, a.accessToken, r.ReservationID); got.Status != "EXPIRED" {
			t.Errorf("round %d: lapsed reservation shows %s, want EXPIRED", round, got.Status)
		}
	}
	after, _ := a.c.Balance(ctx, a.accessToken, a.userID)
	if after.Balance != before.Balance {
		t.Errorf("balance moved from %d to %d", before.Balance, after.Balance)
	}
	stats, _ := clients[0].Stats(ctx, admin, concertID)
	if stats.Sold != 0 || stats.Revenue != 0 {
		t.Errorf("stats: sold %d revenue %d, want nothing sold", stats.Sold, stats.Revenue)
	}
}

// TestFIFOAcrossInstances joins fans one after another through three
// instances and checks that admission follows join order exactly.
func TestFIFOAcrossInstances(t *testing.T) {
	clock := boxoffice.NewManualClock(time.Now())
	var secret string
	clients, admin := cluster(t, production, 3, clock, func(c *Config) { secret = c.Secret })
	signer, err := token.NewSigner([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	spec := testSpec(clock.Now().Add(-time.Minute))
	spec.WaitingRoom = &boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: 3, SessionSeconds: 3600, IdleSeconds: 3600}
	concertID := createConcert(t, clients[0], admin, spec)

	const n = 30
	fans := make([]fan, n)
	for i := range fans {
		if fans[i], err = newFan(ctx, clients[i%3], concertID, fmt.Sprintf("fan %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Tickets are numbered in join order with no gaps, whichever instance
	// took the join.
	for i, f := range fans {
		tk, err := signer.VerifyQueue(f.queueToken)
		if err != nil || tk.Seq != int64(i+1) {
			t.Fatalf("fan %d: ticket %+v, %v; want seq %d", i, tk, err, i+1)
		}
	}

	admitted := func() []bool {
		out := make([]bool, n)
		for i, f := range fans {
			st, err := clients[(i+1)%3].QueueStatus(ctx, f.accessToken, f.queueToken)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = st.Status == "ADMITTED"
		}
		return out
	}
	// Step the clock; after each step the admitted fans must be exactly the
	// first k to join.
	prev := 0
	for step := 0; prev < n && step < 200; step++ {
		clock.Advance(time.Second)
		deadline := time.Now().Add(5 * time.Second)
		var k int
		for {
			stats, err := clients[step%3].Stats(ctx, admin, concertID)
			if err != nil {
				t.Fatal(err)
			}
			k = int(stats.Admitted)
			if k > prev || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if k <= prev {
			t.Fatalf("step %d: no admission after the clock moved 1s (admitted %d)", step, k)
		}
		time.Sleep(30 * time.Millisecond) // let the step that admitted them finish
		got := admitted()
		k = 0
		for _, a := range got {
			if a {
				k++
			}
		}
		want := make([]bool, n)
		for i := range k {
			want[i] = true
		}
		if !slices.Equal(got, want) {
			t.Fatalf("step %d: admitted %v, want the first %d in join order", step, got, k)
		}
		prev = k
	}
	if prev != n {
		t.Errorf("admitted %d of %d", prev, n)
	}
}

// TestRaceWaitingRoomChanges has admins change one waiting room at once
// through two instances: the room in Redis ends with the settings the
// database kept last, within the leader's refresh.
func TestRaceWaitingRoomChanges(t *testing.T) {
	var cfg Config
	clients, admin := cluster(t, production, 2, nil, func(c *Config) { cfg = *c })
	ctx := context.Background()
	concertID := createConcert(t, clients[0], admin, fastRoom(testSpec(time.Now().Add(-time.Minute))))
	if _, err := newFan(ctx, clients[0], concertID, "fan"); err != nil { // the room exists
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			wr := boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: float64(i + 1), SessionSeconds: 600, IdleSeconds: 600}
			if _, err := clients[i%2].SetWaitingRoom(ctx, admin, concertID, wr); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	db, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var want struct {
		aps     float64
		version int64
	}
	if err := db.QueryRow(ctx, `SELECT (waiting_room->>'admitPerSecond')::float8, (waiting_room->>'version')::bigint
		FROM concerts WHERE id = $1`, concertID).Scan(&want.aps, &want.version); err != nil {
		t.Fatal(err)
	}
	if want.version != 41 {
		t.Errorf("version in the database: got %d, want 41 (1 + 40 changes)", want.version)
	}
	opts, err := goredis.ParseURL(cfg.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opts)
	defer rdb.Close()
	meta := cfg.RedisPrefix + "wr:{" + concertID + "}:meta"
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := rdb.HMGet(ctx, meta, "aps", "ver").Result()
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got[0]) == fmt.Sprint(want.aps) && fmt.Sprint(got[1]) == fmt.Sprint(want.version) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("room in Redis: got admitPerSecond %v version %v, want %v version %d as in the database", got[0], got[1], want.aps, want.version)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
