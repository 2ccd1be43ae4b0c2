package loadtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/wallet"
)

// Limits of the concerts the scenarios create.
const (
	seatsPerDate = 50
	maxDates     = 366
	vipPrice     = 150000
	rPrice       = 90000
)

// fastRoom admits everyone waiting at every admission step and keeps
// sessions and places for an hour.
func fastRoom() *boxhttp.WaitingRoom {
	return &boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: 100000, SessionSeconds: 3600, IdleSeconds: 3600, MaxSessionSeconds: 3600}
}

// concertSpec is a concert of dates performances a few months ahead, VIP
// seats 1-10 and R seats 11-50.
func concertSpec(title string, dates, holdSeconds, maxSeats int, open time.Time, room *boxhttp.WaitingRoom) boxhttp.ConcertSpec {
	kst := time.FixedZone("KST", 9*3600)
	first := time.Now().In(kst).AddDate(0, 2, 0)
	first = time.Date(first.Year(), first.Month(), first.Day(), 19, 0, 0, 0, kst)
	spec := boxhttp.ConcertSpec{
		Title: title, Venue: "Load Test Arena",
		Grades: []boxhttp.Grade{
			{Name: "VIP", Seats: "1-10", Price: vipPrice},
			{Name: "R", Seats: "11-50", Price: rPrice},
		},
		SalesOpenAt: open.UTC(), HoldSeconds: holdSeconds, MaxSeatsPerUser: maxSeats, WaitingRoom: room,
	}
	for i := range dates {
		spec.Dates = append(spec.Dates, first.AddDate(0, 0, i))
	}
	return spec
}

// days returns the calendar dates of c's performances.
func days(c boxhttp.Concert) []string {
	out := make([]string, len(c.Dates))
	for i, d := range c.Dates {
		out[i] = d.Date
	}
	return out
}

func (e *engine) createConcert(ctx context.Context, spec boxhttp.ConcertSpec) (boxhttp.Concert, error) {
	var c boxhttp.Concert
	err := e.call(ctx, e.other, 0, routeCreateConcert, func(cl *boxhttp.Client) error {
		var err error
		c, err = cl.CreateConcert(ctx, e.opts.AdminKey, spec)
		return err
	})
	if err != nil {
		if boxoffice.ErrorCode(err) == boxoffice.CodeUnauthenticated {
			return c, errors.New("create concert: the admin key was refused (pass the server's --admin-key or BOXOFFICE_ADMIN_KEY)")
		}
		return c, fmt.Errorf("create concert: %w", err)
	}
	return c, nil
}

// fan is a user of the measured scenarios.
type fan struct {
	userID, access, queueToken string
	target                     int
	charged                    int64
}

// parallel runs f(i) for i in [0, n) on up to Connections goroutines and
// returns the first error. label names the work in the progress line.
func (e *engine) parallel(ctx context.Context, label string, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next, finished atomic.Int64
		wg             sync.WaitGroup
		once           sync.Once
		first          error
	)
	stop := startProgress(e.opts.Progress, e.opts.Terminal, func(el time.Duration) string {
		d := finished.Load()
		return fmt.Sprintf("setup    %s %s %s/%s  %.0fs", bar(float64(d)/float64(max(n, 1)), 20), label, count(d), count(int64(n)), el.Seconds())
	})
	defer stop()
	for range min(n, e.opts.Connections) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
				finished.Add(1)
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// setup runs one request of setup or read-back on target, recorded with
// the other requests outside the measured phases. It is tried up to four
// times (sixteen for robust fans) while it fails transiently (without an
// answer, or with a 5xx or 429); other errors are final.
func (e *engine) setup(ctx context.Context, target int, rt route, f func(c *boxhttp.Client) error) error {
	attempts := 4
	if e.opts.Robust {
		// Long enough to ride out a fault.
		attempts = 16
	}
	var err error
	for attempt := range attempts {
		if err = e.call(ctx, e.other, target, rt, f); err == nil || ctx.Err() != nil || !transient(err) {
			return err
		}
		time.Sleep(min(time.Duration(100<<attempt)*time.Millisecond, robustMaxBackoff))
	}
	return err
}

// users creates n users, each charged charge won when it is positive.
func (e *engine) users(ctx context.Context, n int, charge int64) ([]fan, error) {
	fans := make([]fan, n)
	err := e.parallel(ctx, "users", n, func(ctx context.Context, i int) error {
		f := &fans[i]
		f.target = i % len(e.clients)
		return e.newUser(ctx, f, fmt.Sprintf("fan %d", i), charge)
	})
	return fans, err
}

// newUser creates f's user and charges it.
func (e *engine) newUser(ctx context.Context, f *fan, name string, charge int64) error {
	err := e.setup(ctx, f.target, routeCreateUser, func(c *boxhttp.Client) error {
		u, err := c.CreateUser(ctx, name)
		f.userID, f.access = u.UserID, u.AccessToken
		return err
	})
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	// A charge above the contract's largest charge is made in parts.
	for part := 0; f.charged < charge; part++ {
		amount := min(charge-f.charged, int64(wallet.DefaultLimits().MaxCharge))
		key := "loadtest-charge-" + f.userID
		if part > 0 {
			key += "-" + strconv.Itoa(part)
		}
		err = e.setup(ctx, f.target, routeCharge, func(c *boxhttp.Client) error {
			_, err := c.Charge(ctx, f.access, f.userID, amount, key)
			return err
		})
		if err != nil {
			return fmt.Errorf("charge: %w", err)
		}
		f.charged += amount
	}
	return nil
}

// admitted creates n users charged charge won, has them join concertID's
// waiting room, which must admit quickly, and waits until each is admitted.
func (e *engine) admitted(ctx context.Context, concertID string, n int, charge int64) ([]fan, error) {
	fans := make([]fan, n)
	err := e.parallel(ctx, "admitted fans", n, func(ctx context.Context, i int) error {
		f := &fans[i]
		f.target = i % len(e.clients)
		if err := e.newUser(ctx, f, fmt.Sprintf("fan %d", i), charge); err != nil {
			return err
		}
		return e.admit(ctx, f, concertID)
	})
	return fans, err
}

// admittedTo creates n users charged charge won and has each admitted to
// every one of concerts, whose waiting rooms must admit quickly;
// tokens[j][i] is fan i's queue token for concerts[j].
func (e *engine) admittedTo(ctx context.Context, concerts []boxhttp.Concert, n int, charge int64) (fans []fan, tokens [][]string, err error) {
	if fans, err = e.admitted(ctx, concerts[0].ConcertID, n, charge); err != nil {
		return nil, nil, err
	}
	tokens = make([][]string, len(concerts))
	tokens[0] = make([]string, n)
	for i, f := range fans {
		tokens[0][i] = f.queueToken
	}
	for j := 1; j < len(concerts); j++ {
		if tokens[j], err = e.admitAll(ctx, concerts[j].ConcertID, fans); err != nil {
			return nil, nil, err
		}
	}
	return fans, tokens, nil
}

// admitAll has fans join concertID's waiting room, which must admit
// quickly, and returns their queue tokens once each is admitted.
func (e *engine) admitAll(ctx context.Context, concertID string, fans []fan) ([]string, error) {
	tokens := make([]string, len(fans))
	err := e.parallel(ctx, "admitted fans", len(fans), func(ctx context.Context, i int) error {
		f := fans[i]
		if err := e.admit(ctx, &f, concertID); err != nil {
			return err
		}
		tokens[i] = f.queueToken
		return nil
	})
	return tokens, err
}

// admit has f join concertID's waiting room and waits until it is
// admitted; f.queueToken is its pass.
func (e *engine) admit(ctx context.Context, f *fan, concertID string) error {
	var st boxhttp.QueueStatus
	err := e.setup(ctx, f.target, routeJoin, func(c *boxhttp.Client) error {
		var err error
		st, _, err = c.Join(ctx, f.access, concertID)
		return err
	})
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	f.queueToken = st.Token
	deadline := time.Now().Add(time.Minute)
	for st.Status != "ADMITTED" {
		if st.Status != "WAITING" && st.Status != "PREQUEUE" {
			return fmt.Errorf("waiting to be admitted: status %s", st.Status)
		}
		if time.Now().After(deadline) {
			return errors.New("not admitted within a minute; is the server's admission loop running?")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		err := e.setup(ctx, f.target, routeQueueStatus, func(c *boxhttp.Client) error {
			var err error
			st, err = c.QueueStatus(ctx, f.access, f.queueToken)
			return err
		})
		if err != nil {
			return fmt.Errorf("queue status: %w", err)
		}
	}
	return nil
}
