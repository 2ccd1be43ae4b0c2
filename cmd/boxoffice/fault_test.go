package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	nethttp "net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/internal/testserver"
	"github.com/boxoffice/boxoffice/postgres"
)

// TestPostgresRestartMidSale restarts PostgreSQL under two instances while
// fans charge, hold and pay: every answer in the gap is UNAVAILABLE or
// OUTCOME_UNKNOWN, the instances recover by themselves, every unknown
// outcome is learned by retrying with the same key, and nothing is lost or
// doubled.
func TestPostgresRestartMidSale(t *testing.T) {
	for _, tc := range []struct {
		name    string
		restart func(*testserver.Postgres)
	}{
		{"FastStop", func(pg *testserver.Postgres) { pg.Stop(); time.Sleep(300 * time.Millisecond); pg.Start() }},
		{"Kill", func(pg *testserver.Postgres) { pg.Kill(); time.Sleep(300 * time.Millisecond); pg.Start() }},
	} {
		t.Run(tc.name, func(t *testing.T) { restartMidSale(t, tc.restart) })
	}
}

// attempt is one change a fan asked for and how it was answered.
type attempt struct {
	op            string // "charge" or "pay"
	fan           int
	key           string
	amount        int64  // charge
	reservationID string // pay
	err           error
}

func restartMidSale(t *testing.T, restart func(*testserver.Postgres)) {
	pg := testserver.StartPostgres(t)
	cfg := testConfig()
	cfg.DatabaseURL = pg.URL() + "&pool_max_conns=8"
	cfg.RedisURL = testRedisURL()
	cfg.RedisPrefix = freshRedisPrefix(t)
	cfg.AdminKey = "admin-" + randomHex(16)
	cfg.Secret = "secret-" + randomHex(16)
	cfg.RequestTimeout = 2 * time.Second
	clients := []*boxhttp.Client{
		testClient(t, startMain(t, cfg, nil).URL()),
		testClient(t, startMain(t, cfg, nil).URL()),
	}
	ctx := context.Background()
	spec := fastRoom(testSpec(time.Now().Add(-time.Minute)))
	concertID := createConcert(t, clients[0], cfg.AdminKey, spec)
	days := []string{spec.Dates[0].Format("2006-01-02"), spec.Dates[1].Format("2006-01-02")}
	fans := admittedFans(t, clients, concertID, 16, nil)
	for _, f := range fans {
		if _, err := f.c.Charge(ctx, f.accessToken, f.userID, 1_000_000, ""); err != nil {
			t.Fatalf("first charge: %v", err)
		}
	}

	var (
		mu       sync.Mutex
		attempts []attempt
		codes    = map[boxoffice.Code]int{}
	)
	record := func(a attempt) {
		mu.Lock()
		defer mu.Unlock()
		if a.op != "" {
			attempts = append(attempts, a)
		}
		codes[boxoffice.ErrorCode(a.err)]++
	}
	allowed := map[boxoffice.Code]bool{
		"": true, boxoffice.CodeUnavailable: true, boxoffice.CodeOutcomeUnknown: true,
		boxoffice.CodeSeatUnavailable: true, boxoffice.CodeSeatLimitExceeded: true,
		boxoffice.CodeInsufficientBalance: true, boxoffice.CodeHoldExpired: true,
		boxoffice.CodeQueueTokenExpired: true, boxoffice.CodeNotAdmitted: true,
	}
	check := func(what string, err error) {
		var re *boxhttp.ResponseError
		if err != nil && !errors.As(err, &re) {
			t.Errorf("%s: %v, want an answer from the server", what, err)
			return
		}
		if !allowed[boxoffice.ErrorCode(err)] || re != nil && re.StatusCode >= 500 && re.StatusCode != 503 {
			t.Errorf("%s: got %v, want success, a domain error, UNAVAILABLE or OUTCOME_UNKNOWN", what, err)
		}
		if re != nil && re.StatusCode == 503 && re.RetryAfter == 0 {
			t.Errorf("%s: 503 without Retry-After", what)
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range fans {
		wg.Go(func() {
			f := &fans[i]
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("charge-%d-%d", i, n)
				_, err := f.c.Charge(ctx, f.accessToken, f.userID, 10_000, key)
				check("charge", err)
				record(attempt{op: "charge", fan: i, key: key, amount: 10_000, err: err})

				seats := rand.Perm(50)[:1+rand.IntN(2)]
				for j := range seats {
					seats[j]++
				}
				r, err := f.c.Hold(ctx, f.accessToken, f.queueToken, boxhttp.HoldRequest{
					ConcertID: concertID, Date: days[rand.IntN(len(days))], SeatNumbers: seats})
				check("hold", err)
				record(attempt{err: err})
				if errors.Is(err, boxoffice.ErrQueueTokenExpired) {
					f.rejoin(ctx, concertID)
				}
				if err != nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				key = fmt.Sprintf("pay-%d-%d", i, n)
				_, err = f.c.Pay(ctx, f.accessToken, f.queueToken, r.ReservationID, key)
				check("pay", err)
				record(attempt{op: "pay", fan: i, key: key, reservationID: r.ReservationID, err: err})
				if err == nil {
					f.rejoin(ctx, concertID)
				}
			}
		})
	}
	time.Sleep(time.Second)
	restart(pg)
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("answers: %v", codes)
	if codes[boxoffice.CodeUnavailable]+codes[boxoffice.CodeOutcomeUnknown] == 0 {
		t.Error("no request met the restart, want some UNAVAILABLE or OUTCOME_UNKNOWN")
	}
	if codes[""] == 0 {
		t.Fatal("no request succeeded")
	}

	// The instances serve again without a restart of their own.
	for _, c := range clients {
		f := fans[0]
		if _, err := c.Charge(ctx, f.accessToken, f.userID, 1, "after-"+randomHex(4)); err != nil {
			t.Fatalf("charge after the restart: %v", err)
		}
		record(attempt{op: "charge", fan: 0, amount: 1})
	}

	// Learn every unknown outcome by retrying with the same key.
	charged := map[string]int64{} // user → charged amount the fans know of
	paid := map[string]bool{}     // reservation → paid as the fans know it
	asked := map[string]bool{}    // reservations a payment was asked for
	for _, f := range fans {
		charged[f.userID] = 1_000_000
	}
	for _, a := range attempts {
		f := fans[a.fan]
		err := a.err
		for try := 0; boxoffice.ErrorCode(err) == boxoffice.CodeOutcomeUnknown; try++ {
			if try == 20 {
				t.Fatalf("%s %s: still OUTCOME_UNKNOWN after %d retries", a.op, a.key, try)
			}
			switch a.op {
			case "charge":
				_, err = f.c.Charge(ctx, f.accessToken, f.userID, a.amount, a.key)
			case "pay":
				_, err = f.c.Pay(ctx, f.accessToken, f.queueToken, a.reservationID, a.key)
			}
			if boxoffice.ErrorCode(err) == boxoffice.CodeUnavailable {
				t.Fatalf("retry of %s %s: %v, want its outcome", a.op, a.key, err)
			}
		}
		switch a.op {
		case "charge":
			if err == nil {
				charged[f.userID] += a.amount
			} else if !errors.Is(err, boxoffice.ErrUnavailable) {
				t.Errorf("charge %s: %v", a.key, err)
			}
		case "pay":
			asked[a.reservationID] = true
			paid[a.reservationID] = paid[a.reservationID] || err == nil
		}
	}

	checkLedger(t, pg.URL(), charged, paid, asked)
}

// rejoin takes a new queue ticket for f once its session ended, and waits
// until it is admitted.
func (f *fan) rejoin(ctx context.Context, concertID string) {
	st, _, err := f.c.Join(ctx, f.accessToken, concertID)
	if err != nil {
		return
	}
	f.queueToken = st.Token
	for range 200 {
		st, err := f.c.QueueStatus(ctx, f.accessToken, f.queueToken)
		if err == nil && st.Status == "ADMITTED" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkLedger checks the database against what the fans were told:
// every charge they know of and no other, money conserved, each seat sold
// once and only to a paid reservation, one payment and one ledger entry
// per paid reservation, and every payment asked for paid exactly when the
// fan was told so.
func checkLedger(t *testing.T, url string, charged map[string]int64, paid, asked map[string]bool) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	query := func(sql string, scan func(pgx.Rows) error) {
		t.Helper()
		rows, err := conn.Query(ctx, sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				t.Fatal(err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}

	// Charges: exactly those the fans were told of.
	query(`SELECT user_id, coalesce(sum(amount), 0) FROM ledger WHERE kind = 'CHARGE' GROUP BY user_id`, func(r pgx.Rows) error {
		var user string
		var sum int64
		if err := r.Scan(&user, &sum); err != nil {
			return err
		}
		if sum != charged[user] {
			t.Errorf("user %s: ledger charges %d, fans were told of %d", user, sum, charged[user])
		}
		return nil
	})
	// Money: charged = balances + paid; the ledger's payments are the
	// payments; each user's ledger runs without a gap to their balance.
	var charges, balances, payments, ledgerPaid int64
	var nPayments, nLedgerPaid int
	if err := conn.QueryRow(ctx, `SELECT
		(SELECT coalesce(sum(amount), 0) FROM ledger WHERE kind = 'CHARGE'),
		(SELECT coalesce(sum(balance), 0) FROM wallets),
		(SELECT coalesce(sum(amount), 0) FROM payments),
		(SELECT coalesce(sum(amount), 0) FROM ledger WHERE kind = 'PAYMENT'),
		(SELECT count(*) FROM payments),
		(SELECT count(*) FROM ledger WHERE kind = 'PAYMENT')`).
		Scan(&charges, &balances, &payments, &ledgerPaid, &nPayments, &nLedgerPaid); err != nil {
		t.Fatal(err)
	}
	if charges != balances+payments {
		t.Errorf("charged %d, want balances %d + paid %d = %d", charges, balances, payments, balances+payments)
	}
	if ledgerPaid != payments || nLedgerPaid != nPayments {
		t.Errorf("ledger has %d payment entries of %d, payments %d of %d; want one entry per payment", nLedgerPaid, ledgerPaid, nPayments, payments)
	}
	query(`SELECT w.user_id, w.balance, w.entries,
		       (SELECT count(*) FROM ledger l WHERE l.user_id = w.user_id),
		       coalesce((SELECT sum(CASE WHEN kind = 'CHARGE' THEN amount ELSE -amount END) FROM ledger l WHERE l.user_id = w.user_id), 0),
		       coalesce((SELECT balance_after FROM ledger l WHERE l.user_id = w.user_id ORDER BY seq DESC LIMIT 1), 0)
		FROM wallets w`, func(r pgx.Rows) error {
		var user string
		var balance, entries, n, net, last int64
		if err := r.Scan(&user, &balance, &entries, &n, &net, &last); err != nil {
			return err
		}
		if net != balance || last != balance || n != entries {
			t.Errorf("user %s: balance %d, ledger nets %d, ends at %d, %d entries of %d", user, balance, net, last, n, entries)
		}
		return nil
	})
	// Seats: sold only to paid reservations, exactly their seats.
	var sold, paidSeats, strays, unpaid int
	if err := conn.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM seats WHERE status = 'SOLD'),
		(SELECT coalesce(sum(cardinality(seat_numbers)), 0) FROM reservations WHERE status = 'PAID'),
		(SELECT count(*) FROM seats s WHERE s.status = 'SOLD' AND NOT EXISTS (
			SELECT 1 FROM reservations r WHERE r.id = s.reservation_id AND r.status = 'PAID'
			  AND r.concert_id = s.concert_id AND r.day = s.day AND s.number = ANY (r.seat_numbers))),
		(SELECT count(*) FROM reservations r WHERE r.status = 'PAID' AND
			(SELECT count(*) FROM payments p WHERE p.reservation_id = r.id) <> 1)`).
		Scan(&sold, &paidSeats, &strays, &unpaid); err != nil {
		t.Fatal(err)
	}
	if sold != paidSeats || strays != 0 || unpaid != 0 {
		t.Errorf("%d seats sold, %d seats in paid reservations, %d sold seats not of a paid reservation, %d paid reservations without exactly one payment",
			sold, paidSeats, strays, unpaid)
	}
	// Payments: paid exactly when the fan was told so.
	query(`SELECT id::text, status FROM reservations`, func(r pgx.Rows) error {
		var id, status string
		if err := r.Scan(&id, &status); err != nil {
			return err
		}
		if asked[id] && (status == "PAID") != paid[id] {
			t.Errorf("reservation %s is %s, the fan was told paid=%v", id, status, paid[id])
		}
		return nil
	})
}

// TestSlowBackend holds a row lock on a PostgreSQL of the test's own so that
// every charge of one wallet waits past the request deadline: each answers
// UNAVAILABLE or OUTCOME_UNKNOWN in about the deadline, never INTERNAL, and
// once the lock is gone the instance is back at its baseline of goroutines
// and the server at its baseline of connections, none of them busy.
func TestSlowBackend(t *testing.T) {
	pg := testserver.StartPostgres(t)
	cfg := testConfig()
	cfg.DatabaseURL = pg.URL() + "&pool_max_conns=8"
	cfg.RequestTimeout = 500 * time.Millisecond
	m := startMain(t, cfg, nil)
	tr := nethttp.DefaultTransport.(*nethttp.Transport).Clone()
	tr.DisableKeepAlives = true // no idle connection outlives its request
	c := boxhttp.NewClient(m.URL(), &nethttp.Client{Transport: tr})
	ctx := context.Background()
	u, err := c.CreateUser(ctx, "slow")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Charge(ctx, u.AccessToken, u.UserID, 1000, ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	baseline := runtime.NumGoroutine()

	lock := pg.Lock(t, "SELECT 1 FROM wallets WHERE user_id = $1 FOR UPDATE", u.UserID)
	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			start := time.Now()
			_, errs[i] = c.Charge(ctx, u.AccessToken, u.UserID, 10, fmt.Sprintf("slow-%d", i))
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("charge %d answered after %v, want about the 500ms deadline", i, d)
			}
		})
	}
	wg.Wait()
	lock.Unlock()
	want := int64(1000)
	for i, err := range errs {
		code := boxoffice.ErrorCode(err)
		if code != boxoffice.CodeUnavailable && code != boxoffice.CodeOutcomeUnknown {
			t.Fatalf("charge %d: got %v, want UNAVAILABLE or OUTCOME_UNKNOWN", i, err)
		}
		if code == boxoffice.CodeOutcomeUnknown {
			// Learn it: the same key answers the first result or makes it now.
			if _, err := c.Charge(ctx, u.AccessToken, u.UserID, 10, fmt.Sprintf("slow-%d", i)); err != nil {
				t.Fatalf("retry of charge %d: %v", i, err)
			}
			want += 10
		}
	}
	if b, err := c.Balance(ctx, u.AccessToken, u.UserID); err != nil || b.Balance != want {
		t.Fatalf("got balance %d, %v; want %d: UNAVAILABLE changed nothing", b.Balance, err, want)
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		var total, busy int
		// The pool's connections; the event relay keeps one of its own.
		if err := lock.Conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state <> 'idle')
			FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
			  AND application_name <> $1`, postgres.RelayApplicationName).
			Scan(&total, &busy); err != nil {
			t.Fatal(err)
		}
		g := runtime.NumGoroutine()
		if g <= baseline+5 && busy == 0 && total <= 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the lock: %d goroutines (baseline %d), %d connections to the server (pool of 8), %d busy",
				g, baseline, total, busy)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
