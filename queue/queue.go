// Package queue is the virtual waiting room in front of each concert: fans
// join, wait in order, are admitted at the pace the room's strategy allows,
// and hold an admitted session until it ends by payment, by leaving or by
// lack of use.
package queue

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/boxoffice/boxoffice"
)

// Strategy decides how fast the waiting room admits.
type Strategy string

// Strategies.
const (
	// Rate admits AdmitPerSecond fans per second.
	Rate Strategy = "RATE"
	// MaxActive keeps at most MaxActive admitted sessions alive at once.
	MaxActive Strategy = "MAX_ACTIVE"
	// RateAndMaxActive applies both limits.
	RateAndMaxActive Strategy = "RATE_AND_MAX_ACTIVE"
)

// Limits of Settings values.
const (
	MaxAdmitPerSecond = 100000
	MaxMaxActive      = 10_000_000
	MaxSeconds        = 86400
)

// Settings tune one concert's waiting room.
type Settings struct {
	Strategy       Strategy
	AdmitPerSecond float64 // used by Rate and RateAndMaxActive
	MaxActive      int64   // used by MaxActive and RateAndMaxActive
	SessionSeconds int     // an admitted session ends after this long unused
	IdleSeconds    int     // a waiting place ends after this long without a heartbeat
}

// DefaultSettings are the settings of a room created without any.
func DefaultSettings() Settings {
	return Settings{Strategy: Rate, AdmitPerSecond: 50, SessionSeconds: 600, IdleSeconds: 60}
}

// Validate returns an INVALID_REQUEST error naming the first field out of range.
func (s Settings) Validate() error {
	switch s.Strategy {
	case Rate, MaxActive, RateAndMaxActive:
	default:
		return boxoffice.Errorf(boxoffice.CodeInvalidRequest, "strategy must be RATE, MAX_ACTIVE or RATE_AND_MAX_ACTIVE")
	}
	if s.usesRate() && !(s.AdmitPerSecond > 0 && s.AdmitPerSecond <= MaxAdmitPerSecond) {
		return boxoffice.Errorf(boxoffice.CodeInvalidRequest, "admitPerSecond must be above 0 and at most %d for strategy %s", MaxAdmitPerSecond, s.Strategy)
	}
	if s.AdmitPerSecond < 0 || math.IsNaN(s.AdmitPerSecond) || s.AdmitPerSecond > MaxAdmitPerSecond {
		return boxoffice.Errorf(boxoffice.CodeInvalidRequest, "admitPerSecond must be between 0 and %d", MaxAdmitPerSecond)
	}
	if s.usesMaxActive() && !(s.MaxActive >= 1 && s.MaxActive <= MaxMaxActive) {
		return boxoffice.Errorf(boxoffice.CodeInvalidRequest, "maxActive must be between 1 and %d for strategy %s", MaxMaxActive, s.Strategy)
	}
	if s.MaxActive < 0 || s.MaxActive > MaxMaxActive {
		return boxoffice.Errorf(boxoffice.CodeInvalidRequest, "maxActive must be between 0 and %d", MaxMaxActive)
	}
	if s.SessionSeconds < 1 || s.SessionSeconds > MaxSeconds {
		return boxoffice.Errorf(boxoffice.CodeInvalidRequest, "sessionSeconds must be between 1 and %d", MaxSeconds)
	}
	if s.IdleSeconds < 1 || s.IdleSeconds > MaxSeconds {
		return boxoffice.Errorf(boxoffice.CodeInvalidRequest, "idleSeconds must be between 1 and %d", MaxSeconds)
	}
	return nil
}

func (s Settings) usesRate() bool { return s.Strategy == Rate || s.Strategy == RateAndMaxActive }
func (s Settings) usesMaxActive() bool {
	return s.Strategy == MaxActive || s.Strategy == RateAndMaxActive
}

// Session is how long an admitted session lives unused.
func (s Settings) Session() time.Duration { return time.Duration(s.SessionSeconds) * time.Second }

// Idle is how long a waiting place lives without a heartbeat.
func (s Settings) Idle() time.Duration { return time.Duration(s.IdleSeconds) * time.Second }

// Room is one concert's waiting room: its settings and the instant its sale
// opens. Before OpensAt fans may join but nobody is admitted.
type Room struct {
	ConcertID string
	OpensAt   time.Time
	Settings  Settings
}

// State is where a ticket stands.
type State string

// States of a ticket.
const (
	Prequeue State = "PREQUEUE" // joined before the sale opened
	Waiting  State = "WAITING"
	Admitted State = "ADMITTED"
	Expired  State = "EXPIRED" // left, timed out, idle too long, replaced, or finished by payment
	SoldOut  State = "SOLD_OUT"
)

// Ticket identifies one place in one room: the n-th join of the room, taken
// by UserID. A later join by the same user after this one ended gets a new
// Seq, so a ticket never comes back to life.
type Ticket struct {
	ConcertID string
	UserID    string
	Seq       int64
}

// Status is a ticket's standing.
type Status struct {
	Ticket
	State State
	// Position is 1-based among the room's waiting places; 0 unless waiting.
	Position int64
	// SessionExpiresAt is when an admitted session ends if unused.
	SessionExpiresAt time.Time
	// Rate is the room's admission rate in fans per second, measured while
	// fans were waiting; 0 before any measurement.
	Rate float64
	// Room is the room's current settings and opening.
	Room Room
}

// Admission reports one admission step.
type Admission struct {
	// Leader is false when another owner holds the room's lease; the step
	// then did nothing.
	Leader   bool
	Admitted int64 // places turned into sessions
	Dropped  int64 // waiting places dropped for idleness
	Ended    int64 // sessions ended for lack of use
}

// Stats describe one room at an instant.
type Stats struct {
	Waiting       int64 // places waiting now
	Active        int64 // admitted sessions alive now
	AdmittedTotal int64 // sessions ever admitted
	DroppedTotal  int64 // waiting places ever dropped for idleness or left
	Rate          float64
}

// Store keeps waiting rooms. There are two: in Redis, shared by every
// instance, and in memory, for one process. Every method is atomic: two
// calls racing from any number of instances behave as if one ran first.
// Times are passed in so that expiry follows the caller's clock.
type Store interface {
	// Configure sets a room's settings and opening, replacing earlier ones and
	// keeping its places and sessions.
	Configure(ctx context.Context, room Room) error

	// Join gives userID a place at the back of the room, ordered by arrival
	// at the store, or returns the live place or session the user already
	// has (created is then false). A room the store does not know is
	// configured with room; a known room keeps its own settings.
	Join(ctx context.Context, room Room, userID string, now time.Time) (st Status, created bool, err error)

	// Status returns t's standing and, for a waiting place, records a
	// heartbeat at now. A ticket whose place or session has ended, or that a
	// later join replaced, is Expired. Errors: NOT_FOUND for an unknown room.
	Status(ctx context.Context, t Ticket, now time.Time) (Status, error)

	// Use checks that t is an admitted session alive at now and extends it to
	// now+SessionSeconds. Errors: QUEUE_TOKEN_EXPIRED when it has ended;
	// NOT_ADMITTED, with Position, while it waits.
	Use(ctx context.Context, t Ticket, now time.Time) (Status, error)

	// Leave ends t's place or session at once. Leaving an ended ticket does
	// nothing.
	Leave(ctx context.Context, t Ticket, now time.Time) error

	// Admit runs one admission step for the room if owner holds its
	// admission lease or can take it (the lease then lasts until now+lease):
	// it drops waiting places idle since now-IdleSeconds and sessions unused
	// since their expiry, then admits from the head of the queue as many as
	// the strategy allows at now. Nothing is admitted before the room opens.
	Admit(ctx context.Context, concertID, owner string, lease time.Duration, now time.Time) (Admission, error)

	// Stats describes the room at now. Errors: NOT_FOUND for an unknown room.
	Stats(ctx context.Context, concertID string, now time.Time) (Stats, error)

	// Rooms lists the rooms that have places or sessions.
	Rooms(ctx context.Context) ([]string, error)
}

// Bucket is the state of the Rate strategy: admission credit that grows at
// AdmitPerSecond, capped at one second's worth.
type Bucket struct {
	Credit float64
	Last   time.Time // zero before the first step
}

// Allowance returns how many of waiting fans may be admitted at now, given
// active live sessions, and the bucket after admitting them. It is the rule
// every Store applies inside its atomic admission step.
func Allowance(s Settings, b Bucket, waiting, active int64, now time.Time) (int64, Bucket) {
	n := waiting
	if s.usesRate() {
		capacity := math.Max(1, s.AdmitPerSecond)
		if b.Last.IsZero() {
			b.Credit = 1
		} else if now.After(b.Last) {
			b.Credit += now.Sub(b.Last).Seconds() * s.AdmitPerSecond
		}
		b.Credit = math.Min(b.Credit, capacity)
		b.Last = now
		n = min(n, int64(math.Floor(b.Credit+1e-9)))
	}
	if s.usesMaxActive() {
		n = min(n, max(0, s.MaxActive-active))
	}
	n = max(n, 0)
	if s.usesRate() {
		b.Credit -= float64(n)
	}
	return n, b
}

// RateHalfLife is how fast the measured admission rate forgets the past.
const RateHalfLife = 10 * time.Second

// MeasureRate folds admitted admissions over elapsed into the measured rate.
// It is called only for steps during which fans were waiting, so that an
// empty queue does not read as a slow one.
func MeasureRate(rate float64, admitted int64, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return rate
	}
	sample := float64(admitted) / elapsed.Seconds()
	if rate == 0 {
		return sample
	}
	w := 1 - math.Exp2(-elapsed.Seconds()/RateHalfLife.Seconds())
	return rate + w*(sample-rate)
}

// EstimateWait returns the expected seconds until the fan at position is
// admitted: from the measured rate, or the configured pace before any
// measurement.
func EstimateWait(position int64, rate float64, s Settings) int64 {
	if position <= 0 {
		return 0
	}
	if rate <= 0 {
		rate = s.nominalRate()
	}
	if rate <= 0 {
		return MaxSeconds
	}
	return min(int64(math.Ceil(float64(position)/rate)), MaxSeconds)
}

// nominalRate is the pace the settings promise: the configured rate, or for
// MaxActive alone, one full set of sessions per session length.
func (s Settings) nominalRate() float64 {
	r := math.Inf(1)
	if s.usesRate() {
		r = s.AdmitPerSecond
	}
	if s.usesMaxActive() && s.SessionSeconds > 0 {
		r = math.Min(r, float64(s.MaxActive)/float64(s.SessionSeconds))
	}
	if math.IsInf(r, 1) {
		return 0
	}
	return r
}

// PollAfter returns how many seconds a waiting fan should wait before asking
// again: often near the front, rarely far back, spread by the ticket's
// sequence number so that fans who joined together do not poll together.
// Heartbeats must still arrive within the idle limit.
func PollAfter(st Status, wait int64) int64 {
	switch st.State {
	case Waiting, Prequeue:
	default:
		return 0
	}
	p := min(max(wait/4, 1), 30)
	if p >= 4 {
		// Spread by up to ±25%.
		spread := p / 2
		p = p - spread/2 + st.Seq%(spread+1)
	}
	if limit := int64(st.Room.Settings.IdleSeconds) / 2; limit >= 1 && p > limit {
		p = limit
	}
	return max(p, 1)
}

// Estimate returns the wait estimate at now and the poll interval for st.
// Before the opening the wait includes the time left until it.
func Estimate(st Status, now time.Time) (waitSeconds, pollAfter int64) {
	switch st.State {
	case Waiting:
		waitSeconds = EstimateWait(st.Position, st.Rate, st.Room.Settings)
	case Prequeue:
		waitSeconds = EstimateWait(st.Position, st.Rate, st.Room.Settings)
		if now.Before(st.Room.OpensAt) {
			waitSeconds += int64(math.Ceil(st.Room.OpensAt.Sub(now).Seconds()))
		}
	}
	return waitSeconds, PollAfter(st, waitSeconds)
}

// String is for logs.
func (t Ticket) String() string { return fmt.Sprintf("%s/%s#%d", t.ConcertID, t.UserID, t.Seq) }
