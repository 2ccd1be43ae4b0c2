package loadtest

import (
	"context"
	"errors"
	"fmt"
	nethttp "net/http"
	"sync"
	"time"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
)

// Robust fans ride out faults the way a careful client does: an answer
// that says the service is unavailable for now (503 UNAVAILABLE or
// OUTCOME_UNKNOWN, 502, 504, 429, or no answer at all) is retried after a
// capped exponential backoff, never sooner than its Retry-After; a fan
// whose target stops answering moves to the next target; a payment is
// retried with its Idempotency-Key. They never rejoin silently: a fan told
// its place or session ended before it finished is counted as having had
// to join again, and a hold answered expired or unknown before its
// expiresAt is counted as a lost live hold.

// codeOutcomeUnknown is the 503 of a change whose outcome the server
// could not learn; the same request with the same Idempotency-Key tells.
const codeOutcomeUnknown = boxoffice.CodeOutcomeUnknown

// Backoff of robust fans.
const (
	robustBackoff    = 100 * time.Millisecond
	robustMaxBackoff = 3 * time.Second
	// maxRejoins bounds how often one fan joins again before it gives up.
	maxRejoins = 5
	// maxIncidents bounds the incidents the report lists one by one.
	maxIncidents = 20
)

// Incident kinds.
const (
	incRejoin   = "had to join again"
	incLostHold = "lost a live hold"
)

// Outcome of a robust fan whose live hold was lost.
const outHoldLost = "lost a live hold"

// Incident is one fan's run-in with a fault that a fan should never see.
type Incident struct {
	// T is seconds from the opening.
	T      float64 `json:"t"`
	UserID string  `json:"userId"`
	Kind   string  `json:"kind"`
	Detail string  `json:"detail"`
}

// incidents counts what robust fans ran into and keeps the first few.
type incidents struct {
	opens time.Time
	mu    sync.Mutex
	fans  map[string]map[string]bool // kind → fans who ran into it
	list  []Incident
	total map[string]int // kind → occurrences
}

func newIncidents(opens time.Time) *incidents {
	return &incidents{opens: opens, fans: map[string]map[string]bool{}, total: map[string]int{}}
}

func (in *incidents) add(userID, kind, format string, a ...any) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.fans[kind] == nil {
		in.fans[kind] = map[string]bool{}
	}
	in.fans[kind][userID] = true
	in.total[kind]++
	if len(in.list) < maxIncidents {
		in.list = append(in.list, Incident{T: time.Since(in.opens).Seconds(), UserID: userID, Kind: kind, Detail: fmt.Sprintf(format, a...)})
	}
}

// fansWith returns how many fans ran into kind, and how many times.
func (in *incidents) fansWith(kind string) (fans, times int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.fans[kind]), in.total[kind]
}

// unavailable reports whether a failed request may succeed when repeated
// later: no answer, a 5xx or a 429.
func unavailable(err error) bool {
	s := boxhttp.StatusCode(err)
	return s == 0 || s >= 500 || s == nethttp.StatusTooManyRequests
}

// lostPlace reports whether err says the fan's place or session in the
// waiting room is gone: QUEUE_TOKEN_EXPIRED, or NOT_ADMITTED for a fan
// that had been admitted.
func lostPlace(err error, admitted bool) bool {
	switch boxoffice.ErrorCode(err) {
	case boxoffice.CodeQueueTokenExpired:
		return true
	case boxoffice.CodeNotAdmitted:
		return admitted
	}
	return false
}

// fanDo is a request of a fan. Robust fans repeat it while the answer says
// the service is unavailable for now, and move to the next target when
// theirs does not answer; it then returns the first other answer, or the
// last one when ctx ends.
func (e *engine) fanDo(ctx context.Context, s *sale, f *saleFan, rt route, fn func(c *boxhttp.Client) error) error {
	if !e.opts.Robust {
		return e.fanCall(ctx, s, f, rt, fn)
	}
	backoff := robustBackoff
	for {
		err := e.fanCall(ctx, s, f, rt, fn)
		if err == nil || ctx.Err() != nil || !unavailable(err) {
			return err
		}
		s.resent.Add(1)
		if boxhttp.StatusCode(err) == 0 && len(e.clients) > 1 {
			f.target = (f.target + 1) % len(e.clients)
			s.moved.Add(1)
		}
		wait := backoff/2 + time.Duration(f.rng.Int64N(int64(backoff/2)+1))
		var re *boxhttp.ResponseError
		if errors.As(err, &re) && re.RetryAfter > wait {
			wait = re.RetryAfter
		}
		if !sleep(ctx, wait) {
			return err
		}
		backoff = min(2*backoff, robustMaxBackoff)
	}
}

// joinAgain counts a fan who has to join again, for why, and joins. It
// returns false, with the outcome set, when the visit ends there.
func (e *engine) joinAgain(ctx context.Context, s *sale, f *saleFan, why string) (boxhttp.QueueStatus, bool) {
	f.rejoins++
	s.incidents.add(f.userID, incRejoin, "%s", why)
	if f.rejoins > maxRejoins {
		f.outcome = outFailed
		return boxhttp.QueueStatus{}, false
	}
	return e.join(ctx, s, f)
}

// readmit has a fan whose session was lost join again and wait to be
// admitted. It returns false, with the outcome set, when the visit ends
// there.
func (e *engine) readmit(ctx context.Context, s *sale, f *saleFan, why string) bool {
	st, ok := e.joinAgain(ctx, s, f, why)
	if !ok {
		return false
	}
	return e.waitAdmitted(ctx, s, f, st)
}

// lostHold counts a live hold of f that the server no longer has.
func (e *engine) lostHold(s *sale, f *saleFan, r boxhttp.Reservation, format string, a ...any) {
	f.lostHolds++
	s.incidents.add(f.userID, incLostHold, "reservation %s (expires %s): %s", r.ReservationID, r.ExpiresAt.UTC().Format("15:04:05.000"), fmt.Sprintf(format, a...))
}

// watchHold is what a robust fan who lets its hold lapse does: it reads
// the hold back shortly before its expiresAt, and counts it lost when the
// server no longer has it held.
func (e *engine) watchHold(ctx context.Context, s *sale, f *saleFan, r boxhttp.Reservation) {
	before := min(time.Second, time.Duration(e.opts.HoldSeconds)*time.Second/4)
	if !sleep(ctx, time.Until(r.ExpiresAt.Add(-before))) {
		return
	}
	var got boxhttp.Reservation
	err := e.fanDo(ctx, s, f, routeReservation, func(c *boxhttp.Client) error {
		var err error
		got, err = c.Reservation(ctx, f.access, r.ReservationID)
		return err
	})
	switch received := time.Now(); {
	case !received.Before(r.ExpiresAt), ctx.Err() != nil:
	case boxoffice.ErrorCode(err) == boxoffice.CodeNotFound:
		e.lostHold(s, f, r, "read back NOT_FOUND before it expired")
	case err == nil && got.Status != "HELD":
		e.lostHold(s, f, r, "read back %s before it expired", got.Status)
	}
}

// payRobust pays the fan's hold, repeating the payment with the same
// Idempotency-Key until it is answered, and joining again when the
// session was lost.
func (e *engine) payRobust(ctx context.Context, s *sale, f *saleFan, r boxhttp.Reservation) {
	h := &f.holds[len(f.holds)-1]
	h.payTried = true
	key := "loadtest-" + r.ReservationID
	for {
		err := e.fanDo(ctx, s, f, routePay, func(c *boxhttp.Client) error {
			_, err := c.Pay(ctx, f.access, f.queueToken, r.ReservationID, key)
			return err
		})
		received := time.Now()
		if err == nil {
			h.paid, h.paidAt = true, received
			f.outcome = outPaid
			return
		}
		code := boxoffice.ErrorCode(err)
		switch {
		case ctx.Err() != nil:
			f.outcome = outWaiting
			return
		case (code == boxoffice.CodeHoldExpired || code == boxoffice.CodeNotFound) && received.Before(r.ExpiresAt):
			e.lostHold(s, f, r, "payment answered %s before it expired", code)
			f.outcome = outHoldLost
			return
		case code == boxoffice.CodeHoldExpired:
			f.outcome = outHoldExpired
			return
		case lostPlace(err, true):
			if !e.readmit(ctx, s, f, fmt.Sprintf("paying: %s", code)) {
				return
			}
		default:
			f.outcome = outFailed
			return
		}
	}
}
