// Package queue is the virtual waiting room in front of each concert: fans
// join, wait in order, are admitted at the pace the room's strategy allows,
// and hold an admitted session until it ends by payment, by leaving or by
// lack of use.
package queue

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
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
	// MinAdmitPerSecond is the slowest rate a room may admit at, one fan
	// every 1000 s (about 17 minutes); 0 is allowed where the strategy
	// does not use the rate.
	MinAdmitPerSecond = 0.001
	MaxMaxActive      = 10_000_000
	MaxSeconds        = 86400
	// A room's ProofOfWork is 0 (off) or within these bounds.
	MinProofOfWork = 1000
	MaxProofOfWork = 10_000_000
)

// Settings tune one concert's waiting room.
type Settings struct {
	Strategy       Strategy
	AdmitPerSecond float64 // used by Rate and RateAndMaxActive
	MaxActive      int64   // used by MaxActive and RateAndMaxActive
	SessionSeconds int     // an admitted session ends after this long unused
	IdleSeconds    int     // a waiting place ends after this long without a heartbeat
	// MaxSessionSeconds is how long after its admission an admitted session
	// ends however much it is used. The end is fixed at admission: a change
	// applies to sessions admitted afterwards. Stores read 0 as no such end
	// (settings older than the rule); Validate refuses it.
	MaxSessionSeconds int
	// ProofOfWork, when not 0, is the largest number of the proof-of-work
	// challenge a fan solves before taking a new place: the work is about
	// half of it in SHA-256 hashes. The server checks it at join; stores
	// neither keep nor use it.
	ProofOfWork int64
}

// DefaultMaxSessionSeconds is MaxSessionSeconds where none is given.
const DefaultMaxSessionSeconds = 900

// DefaultSettings are the settings of a room created without any.
func DefaultSettings() Settings {
	return Settings{Strategy: Rate, AdmitPerSecond: 50, SessionSeconds: 600, IdleSeconds: 60, MaxSessionSeconds: DefaultMaxSessionSeconds}
}

// Validate returns an INVALID_REQUEST error naming the first field out of range.
func (s Settings) Validate() error {
	switch s.Strategy {
	case Rate, MaxActive, RateAndMaxActive:
	default:
		return boxoffice.Errorf(boxoffice.CodeInvalidRequest, "strategy must be RATE, MAX_ACTIVE or RATE_AND_MAX_ACTIVE")
	}
	if s.usesRate() && !(s.AdmitPerSecond >= MinAdmitPerSecond && s.AdmitPerSecond <= MaxAdmitPerSecond) {
		return boxoffice.Errorf(boxoffice.CodeInvalidRequest, "admitPerSecond must be between %g and %d for strategy %s", MinAdmitPerSecond, MaxAdmitPerSecond, s.Strategy)
	}
	if s.AdmitPerSecond != 0 && !(s.AdmitPerSecond >= MinAdmitPerSecond && s.AdmitPerSecond <= MaxAdmitPerSecond) {
		return boxoffice.Errorf(boxoffice.CodeInvalidRequest, "admitPerSecond must be 0 or between %g and %d", MinAdmitPerSecond, MaxAdmitPerSecond)
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
	if s.MaxSessionSeconds < 1 || s.MaxSessionSeconds > MaxSeconds {
		return boxoffice.Errorf(boxoffice.CodeInvalidRequest, "maxSessionSeconds must be between 1 and %d", MaxSeconds)
	}
	if s.ProofOfWork != 0 && (s.ProofOfWork < MinProofOfWork || s.ProofOfWork > MaxProofOfWork) {
		return boxoffice.Errorf(boxoffice.CodeInvalidRequest, "proofOfWork must be 0 (off) or between %d and %d", MinProofOfWork, MaxProofOfWork)
	}
	return nil
}

func (s Settings) usesRate() bool { return s.Strategy == Rate || s.Strategy == RateAndMaxActive }
func (s Settings) usesMaxActive() bool {
	return s.Strategy == MaxActive || s.Strategy == RateAndMaxActive
}

// Session is how long an admitted session lives unused.
func (s Settings) Session() time.Duration { return time.Duration(s.SessionSeconds) * time.Second }

// SessionEnd returns the absolute end of a session admitted at: at plus
// MaxSessionSeconds, or the zero time when the settings have no such end.
func (s Settings) SessionEnd(at time.Time) time.Time {
	if s.MaxSessionSeconds <= 0 {
		return time.Time{}
	}
	return at.Add(time.Duration(s.MaxSessionSeconds) * time.Second)
}

// Idle is how long a waiting place lives without a heartbeat.
func (s Settings) Idle() time.Duration { return time.Duration(s.IdleSeconds) * time.Second }

// Room is one concert's waiting room: its settings and the instant its sale
// opens. Before OpensAt fans may join but nobody is admitted.
type Room struct {
	ConcertID string
	OpensAt   time.Time
	Settings  Settings
	// Seed is the secret of the room's draw (see DrawKey). A Store uses it
	// only to key the places of fans who join before the opening; it never
	// keeps or returns it.
	Seed []byte
	// Version orders changes of the settings: a Store ignores a Configure
	// whose Version is below the one it has.
	Version int64
}

// State is where a ticket stands.
type State string

// States of a ticket.
const (
	Prequeue State = "PREQUEUE" // waiting for the draw at the opening
	Waiting  State = "WAITING"
	Admitted State = "ADMITTED"
	Expired  State = "EXPIRED"  // left, timed out, idle too long, replaced, or finished by payment
	SoldOut  State = "SOLD_OUT" // waiting in a room with no seat left to sell
)

// Ticket identifies one place in one room: the n-th join of the room, taken
// by UserID. A later join by the same user after this one ended gets a new
// Seq, so a ticket never comes back to life.
type Ticket struct {
	ConcertID string
	UserID    string
	Seq       int64
}

// Joined is the answer of Store.Join for one user.
type Joined struct {
	Status
	Created bool
	Err     error // SOLD_OUT
}

// Status is a ticket's standing.
type Status struct {
	Ticket
	State State
	// Position is 1-based among the room's waiting places from the opening
	// on; 0 unless Waiting. Before the opening there is no order yet.
	Position int64
	// Waiting is the room's number of waiting places; set for Prequeue and
	// Waiting tickets only.
	Waiting int64
	// Prequeued is how many places wait for the draw; set for Prequeue
	// tickets only.
	Prequeued int64
	// SessionExpiresAt is when an admitted session ends if unused: the
	// earlier of SessionSeconds after its last use and SessionEndsAt.
	SessionExpiresAt time.Time
	// SessionEndsAt is when an admitted session ends however much it is
	// used: its admission plus MaxSessionSeconds. Zero unless admitted, or
	// for a session admitted under settings without such an end.
	SessionEndsAt time.Time
	// Rate is the room's admission rate in fans per second, measured while
	// fans were waiting; 0 before any measurement.
	Rate float64
	// AbandonRate is the rate, in fans per second, at which waiting fans
	// leave or are dropped for idleness, measured like Rate.
	AbandonRate float64
	// Room is the room's current settings and opening, without its Seed.
	Room Room
	// Key is the place's order key (see Store); set by Join for a waiting
	// place.
	Key int64
}

// Admission reports one admission step.
type Admission struct {
	// Leader is false when another owner holds the room's lease; the step
	// then did nothing.
	Leader   bool
	Admitted int64 // places turned into sessions
	Dropped  int64 // waiting places dropped for idleness
	Ended    int64 // sessions ended for lack of use
	Waiting  int64 // places waiting at the step (not idle), before it admitted any
	// Took is how long the step took in the store, as Service.Step timed
	// it: the store leaves it zero.
	Took time.Duration

	// At is the step's instant. Seqs are the admitted tickets in order of
	// admission, the first numbered First in the admission log; Gone are
	// the tickets the step dropped or ended. Drew is set when the step made
	// the draw.
	At    time.Time
	Seqs  []int64
	First int64
	Gone  []int64
	Drew  bool
}

// Stats describe one room at an instant.
type Stats struct {
	Waiting        int64 // places waiting now
	Active         int64 // admitted sessions alive now
	AdmittedTotal  int64 // sessions ever admitted
	DroppedTotal   int64 // waiting places ever dropped for idleness
	AbandonedTotal int64 // waiting places ever left or dropped for idleness
	Rate           float64
	AbandonRate    float64
	// Waits counts the time each admitted fan waited: from joining, or from
	// the opening for fans who joined before it, to admission.
	Waits WaitHistogram
	// Paused is set while no seat is available: admission waits for seats
	// to come back. SoldOut is set when no seat is available or held.
	Paused, SoldOut bool
	// Drawn is set once the room's draw is made: at its first admission
	// step from the opening, on the store's clock.
	Drawn bool
}

// Supply is what a concert has left to sell: whether any seat is available
// now, and whether any is held by an unexpired hold, which comes back if
// the hold lapses.
type Supply struct {
	Available, Held bool
}

// AdmissionRecord is one entry of a room's admission log.
type AdmissionRecord struct {
	N        int64 // 1-based order of admission in the room
	UserID   string
	Seq      int64
	At       time.Time
	Prequeue bool // the place was in the draw at the opening
}

// Bounds that keep every store call short and a room's memory finite.
const (
	// MaxAdmitPerStep is the most fans one admission step admits; credit
	// it could not use is kept for the next step.
	MaxAdmitPerStep = 10000
	// SweepPerStep is the most idle places, and separately lapsed sessions,
	// one admission step removes. What is left goes in later steps.
	SweepPerStep = 1000
	// StatusBatch is how many tickets Statuses answers in one round trip.
	StatusBatch = 1000
	// AdmissionLogLen is how many of the latest admissions a room's log
	// keeps.
	AdmissionLogLen = 1_000_000
	// MaxAdmissionsPage is the most entries one Admissions call returns.
	MaxAdmissionsPage = 10000
)

// Store keeps waiting rooms. There are two: in Redis, shared by every
// instance, and in memory, for one process. Every method is atomic: two
// calls racing from any number of instances behave as if one ran first.
// Times are passed in so that expiry follows the caller's clock.
//
// Order. A place taken before the room's opening, while its draw is not
// made yet, is a prequeue place keyed DrawKey(Seed, EntryID(concert,
// user)); a place taken later is keyed DrawSpan + seq. Waiting places are
// ordered by key, so from the opening on the drawn places come first, in
// draw order, and later ones follow in order of arrival at the store. Two
// places with one draw key (about 4e-8 likely among 20,000 fans) are
// ordered by the store: Redis by user ID bytes, memory by seq.
//
// Supply. While the last reported Supply has no seat available the room is
// paused: admission steps admit nobody. While it has none available or held
// the room is sold out: waiting places read SoldOut and joins fail. Sessions
// are not touched. A report with seats available resumes the room.
type Store interface {
	// Configure sets a room's settings and opening, replacing earlier ones and
	// keeping its places, sessions and draw, unless room.Version is below
	// the room's. A room the store does not have is left alone.
	Configure(ctx context.Context, room Room) error

	// Restore builds the room of room.ConcertID from the Snapshot load
	// returns, if the store does not have it: room's settings, opening and
	// version; a heartbeat at now for every waiting place; every session
	// ending SessionSeconds after now or, if earlier, at Settings.SessionEnd
	// of its Place.AdmittedAt (of now when that is zero), so that a session
	// whose end has passed has ended; the draw and the admission log as
	// recorded; new joins numbered after snap.Seq; admission credit empty
	// at now. A room the store has is left alone and load is not called.
	// One owner restores a room at a time: meanwhile another gets
	// UNAVAILABLE, until the restore ends or its claim lapses, lease after
	// the restore's last write.
	Restore(ctx context.Context, room Room, load func(context.Context) (Snapshot, error), owner string, lease time.Duration, now time.Time) error

	// Join gives each of userIDs, in order, a place at the back of the room
	// (see Order), or returns the live place or session the user already
	// has (Created is then false): one answer per user. A room keeps its
	// own settings. Errors: NOT_FOUND for a room the store does not have
	// (see Restore); per user, SOLD_OUT when the room is sold out and the
	// user has no admitted session.
	Join(ctx context.Context, room Room, userIDs []string, now time.Time) ([]Joined, error)

	// Status returns t's standing and, for a waiting place, records a
	// heartbeat at now. A ticket whose place or session has ended, or that a
	// later join replaced, is Expired. Errors: NOT_FOUND for an unknown room.
	Status(ctx context.Context, t Ticket, now time.Time) (Status, error)

	// Statuses is Status for each of tickets, all of concertID (a ticket of
	// another concert reads Expired), in one round trip per StatusBatch
	// tickets; each batch is atomic. Errors: NOT_FOUND for an unknown room.
	Statuses(ctx context.Context, concertID string, tickets []Ticket, now time.Time) ([]Status, error)

	// Use checks that t is an admitted session alive at now and extends it to
	// now+SessionSeconds, never past its SessionEndsAt. Errors:
	// QUEUE_TOKEN_EXPIRED when it has ended; NOT_ADMITTED, with Position,
	// while it waits; SOLD_OUT while it waits in a sold-out room; NOT_FOUND
	// for an unknown room.
	Use(ctx context.Context, t Ticket, now time.Time) (Status, error)

	// Leave ends the places or sessions of tickets, all of concertID's room,
	// at once, in one atomic step (one round trip). Leaving an ended ticket,
	// or one of another room, does nothing.
	Leave(ctx context.Context, concertID string, tickets []Ticket, now time.Time) error

	// Admit runs one admission step for the room if owner holds its
	// admission lease or can take it (the lease then lasts until
	// now+lease); otherwise it does nothing and Leader is false. The step:
	//   - drops waiting places idle since now-IdleSeconds and sessions
	//     unused since their expiry, at most SweepPerStep of each;
	//   - folds the abandonments since the previous step into the
	//     abandonment rate with MeasureRate, if fans waited or abandoned;
	//   - from the opening on: makes the draw, once, at the first step that
	//     leaves no idle place; admits from the head as many as Allowance
	//     allows at now, at most MaxAdmitPerStep, counting every session not
	//     yet removed as active (a Use with an earlier clock may still extend
	//     it) and no fan as waiting while the room is paused; folds the step
	//     into the admission rate if fans waited and it was not paused; and
	//     logs each admission and the wait it ended.
	// It reports the tickets it admitted, dropped and ended. Errors:
	// NOT_FOUND for an unknown room.
	Admit(ctx context.Context, concertID, owner string, lease time.Duration, now time.Time) (Admission, error)

	// SetSupply reports what the concert has left to sell, as of now. A
	// report older than the room's latest is ignored. Errors: NOT_FOUND for
	// an unknown room.
	SetSupply(ctx context.Context, concertID string, s Supply, now time.Time) error

	// Stats describes the room at now. Errors: NOT_FOUND for an unknown room.
	Stats(ctx context.Context, concertID string, now time.Time) (Stats, error)

	// Draw returns the user IDs of the places the room's draw ordered, in
	// draw order: the prequeue places alive at the step that made it, and
	// the instant of that step. Users is nil until the draw is made, then
	// never changes (an empty draw is an empty, non-nil slice). Errors:
	// NOT_FOUND for an unknown room.
	Draw(ctx context.Context, concertID string) (users []string, at time.Time, err error)

	// Admissions returns up to limit entries (at most MaxAdmissionsPage) of
	// the room's admission log in order, from the one numbered from, or
	// from the oldest kept if that is gone: the log keeps the latest
	// AdmissionLogLen admissions. Errors: NOT_FOUND for an unknown room.
	Admissions(ctx context.Context, concertID string, from int64, limit int) ([]AdmissionRecord, error)

	// Rooms lists the rooms that have places or sessions.
	Rooms(ctx context.Context) ([]string, error)

	// Kept lists every room the store has, with or without places.
	Kept(ctx context.Context) ([]string, error)

	// End removes everything the store keeps of the room at once, in one
	// atomic step: afterwards the room is unknown (NOT_FOUND) until a
	// Restore builds it again. Ending an unknown room does nothing. Spent
	// proofs of work are left to expire with their challenges.
	End(ctx context.Context, concertID string) error

	// Place returns the live place or session userID holds in the room,
	// as Join answers it for a user who has one (a waiting place gets a
	// heartbeat at now), without ever taking a new one: Expired, with Seq
	// 0, when the user holds none. Errors: NOT_FOUND for an unknown room.
	Place(ctx context.Context, concertID, userID string, now time.Time) (Status, error)

	// Time returns the instant the store decides the room of concertID at
	// when its caller's clock reads now: now itself, or the store's own
	// clock when instances share one. The room need not exist.
	Time(ctx context.Context, concertID string, now time.Time) (time.Time, error)

	// Spend records that proof, a proof of work for concertID's room, is
	// used, until expires, unless it is used already: one atomic
	// set-if-absent for every instance sharing the store. The room need
	// not exist. Expiry is decided at now on the store's clock (see Time).
	// The store forgets a proof once it has expired, and keeps at most
	// MaxSpentProofs unexpired ones if it is in memory. Errors:
	// PROOF_INVALID when proof is used already or expires is not after
	// now; UNAVAILABLE when an in-memory store is full.
	Spend(ctx context.Context, concertID, proof string, expires, now time.Time) error

	// Unspend forgets that proof was used, so that it may be spent again.
	Unspend(ctx context.Context, concertID, proof string) error
}

// MaxSpentProofs bounds the unexpired proofs of work an in-memory Store
// remembers, about 100 bytes each.
const MaxSpentProofs = 1 << 20

// ProofUsedError is the PROOF_INVALID error of Spend for a proof used
// already.
func ProofUsedError() error {
	return boxoffice.Errorf(boxoffice.CodeProofInvalid, "the proof was used already: fetch a new challenge")
}

// ProofExpiredError is the PROOF_INVALID error of Spend for a proof whose
// challenge has expired.
func ProofExpiredError() error {
	return boxoffice.Errorf(boxoffice.CodeProofInvalid, "the proof's challenge has expired: fetch a new one")
}

// Bucket is the state of the Rate strategy: admission credit that grows at
// AdmitPerSecond, capped at one second's worth, and the admissions of the
// last RatePeriod, which may not exceed RateLimit whatever the credit.
type Bucket struct {
	Credit float64
	Last   time.Time // zero before the first step
	// Recent are the steps of the last RatePeriod that admitted someone,
	// oldest first.
	Recent []Step
}

// Step is how many fans one admission step admitted, and when.
type Step struct {
	At time.Time
	N  int64
}

// RatePeriod is the window in which the Rate strategy admits at most
// RateLimit fans: any window of this length, not only whole seconds.
const RatePeriod = time.Second

// RateLimit is the most fans admitted in any RatePeriod at AdmitPerSecond:
// AdmitPerSecond rounded up, at least 1.
func (s Settings) RateLimit() int64 {
	return max(1, int64(math.Ceil(s.AdmitPerSecond-1e-9)))
}

// Allowance returns how many of waiting fans may be admitted at now, given
// active sessions, and the bucket after admitting them. It is the rule
// every Store applies inside its atomic admission step; a paused room
// passes no fans waiting, so that its credit grows and caps as usual.
// Credit lets a room admit at AdmitPerSecond on average; the window keeps
// any RatePeriod, even one after an idle stretch that filled the credit,
// at RateLimit.
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
		b.Recent = recent(b.Recent, now)
		used := int64(0)
		for _, st := range b.Recent {
			used += st.N
		}
		n = min(n, s.RateLimit()-used)
	}
	if s.usesMaxActive() {
		n = min(n, max(0, s.MaxActive-active))
	}
	n = max(n, 0)
	if s.usesRate() {
		b.Credit -= float64(n)
		if n > 0 {
			b.Recent = append(b.Recent, Step{At: now, N: n})
		}
	}
	return n, b
}

// recent drops the steps that are no longer within RatePeriod of now.
func recent(steps []Step, now time.Time) []Step {
	i := 0
	for i < len(steps) && !steps[i].At.After(now.Add(-RatePeriod)) {
		i++
	}
	return append(steps[:0:0], steps[i:]...)
}

// Return gives back to b the credit of n fans that Allowance allowed but
// the step could not admit, so that the next step may admit them.
func (b Bucket) Return(s Settings, n int64) Bucket {
	if s.usesRate() && n > 0 {
		b.Credit += float64(n)
		if k := len(b.Recent) - 1; k >= 0 && b.Recent[k].At.Equal(b.Last) {
			b.Recent = slices.Clone(b.Recent)
			b.Recent[k].N -= n
			if b.Recent[k].N <= 0 {
				b.Recent = b.Recent[:k]
			}
		}
	}
	return b
}

// RateHalfLife is how fast the measured admission and abandonment rates
// forget the past.
const RateHalfLife = 10 * time.Second

// MeasureRate folds count events over elapsed into the measured rate. It
// is called only for steps during which fans were waiting, so that an
// empty queue does not read as a slow one.
func MeasureRate(rate float64, count int64, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return rate
	}
	sample := float64(count) / elapsed.Seconds()
	if rate == 0 {
		return sample
	}
	w := 1 - math.Exp2(-elapsed.Seconds()/RateHalfLife.Seconds())
	return rate + w*(sample-rate)
}

// EstimateWait returns the expected seconds until the fan at position is
// admitted, when the room admits admitRate fans per second and its waiting
// fans abandon at abandonRate fans per second in all: the fans ahead leave
// by admission at rate μ and by abandonment at rate a·ahead/waiting, so P
// ahead reach the door in ln(1 + (a/W)·P/μ)/(a/W), which tends to P/μ as a
// tends to 0. Before admission is measured μ is the configured pace. At
// most MaxSeconds.
func EstimateWait(position, waiting int64, admitRate, abandonRate float64, s Settings) int64 {
	if position <= 0 {
		return 0
	}
	mu := admitRate
	if mu <= 0 {
		mu = s.nominalRate()
	}
	if mu <= 0 {
		return MaxSeconds
	}
	p := float64(position)
	t := p / mu
	if abandonRate > 0 && waiting > 0 {
		k := abandonRate / float64(waiting)
		t = math.Log1p(k*p/mu) / k
	}
	if !(t < MaxSeconds) {
		return MaxSeconds
	}
	return int64(math.Ceil(t - 1e-9))
}

// nominalRate is the pace the settings promise: the configured rate, or for
// MaxActive alone, one full set of sessions per length of an unused session.
func (s Settings) nominalRate() float64 {
	r := math.Inf(1)
	if s.usesRate() {
		r = s.AdmitPerSecond
	}
	if secs := s.sessionBound(); s.usesMaxActive() && secs > 0 {
		r = math.Min(r, float64(s.MaxActive)/float64(secs))
	}
	if math.IsInf(r, 1) {
		return 0
	}
	return r
}

// sessionBound is how long an admitted session lasts unused: SessionSeconds,
// or MaxSessionSeconds if shorter.
func (s Settings) sessionBound() int {
	if s.MaxSessionSeconds > 0 {
		return min(s.SessionSeconds, s.MaxSessionSeconds)
	}
	return s.SessionSeconds
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
// A waiting fan's wait is EstimateWait of its position. A prequeue fan's is
// the time left until the opening plus the wait of the middle place of the
// prequeue (of Prequeued places or, if larger, Position: a caller may
// describe a newcomer by the position it would take).
func Estimate(st Status, now time.Time) (waitSeconds, pollAfter int64) {
	switch st.State {
	case Waiting:
		waitSeconds = EstimateWait(st.Position, st.Waiting, st.Rate, st.AbandonRate, st.Room.Settings)
	case Prequeue:
		n := max(st.Prequeued, st.Position)
		waitSeconds = EstimateWait((n+1)/2, st.Waiting, st.Rate, st.AbandonRate, st.Room.Settings)
		if now.Before(st.Room.OpensAt) {
			waitSeconds += int64(math.Ceil(st.Room.OpensAt.Sub(now).Seconds()))
		}
	}
	return waitSeconds, PollAfter(st, waitSeconds)
}

// The errors of a Store, alike in every store.

// NoRoomError is the NOT_FOUND error of a concert without a waiting room.
func NoRoomError(concertID string) error {
	return boxoffice.Errorf(boxoffice.CodeNotFound, "concert %s has no waiting room", concertID)
}

// SessionEndedError is the QUEUE_TOKEN_EXPIRED error of Use.
func SessionEndedError() error {
	return boxoffice.Errorf(boxoffice.CodeQueueTokenExpired, "the queue session has ended")
}

// NotAdmittedError is the NOT_ADMITTED error of Use for a place waiting at
// position.
func NotAdmittedError(position int64) error {
	return &boxoffice.Error{Code: boxoffice.CodeNotAdmitted, Message: "still waiting in the queue", Position: position}
}

// ErrRebuilding is the cause of the UNAVAILABLE error of Restore while
// another owner restores the room.
var ErrRebuilding = errors.New("another instance is rebuilding the waiting room")

// RebuildingError is the UNAVAILABLE error of Restore while another owner
// restores the room.
func RebuildingError() error {
	return &boxoffice.Error{Code: boxoffice.CodeUnavailable, Message: "the waiting room is being rebuilt", Cause: ErrRebuilding}
}

// SoldOutError is the SOLD_OUT error of Join and Use.
func SoldOutError() error {
	return boxoffice.Errorf(boxoffice.CodeSoldOut, "every seat of this concert is sold")
}

// String is for logs.
func (t Ticket) String() string { return fmt.Sprintf("%s/%s#%d", t.ConcertID, t.UserID, t.Seq) }
