package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	nethttp "net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/concert"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/queue"
)

// Onsale is the story of one on-sale.
type Onsale struct {
	ConcertID      string    `json:"concertId"`
	Fans           int       `json:"fans"`
	Dates          int       `json:"dates"`
	Seats          int       `json:"seats"`
	OpensAt        time.Time `json:"opensAt"`
	Strategy       string    `json:"strategy"`
	AdmitPerSecond float64   `json:"admitPerSecond"`
	MaxActive      int64     `json:"maxActive"`
	HoldSeconds    int       `json:"holdSeconds"`
	Stream         bool      `json:"stream"`
	// ProofOfWork is the room's proofOfWork; Solved counts the challenges
	// fans solved and SolveMS the time solving took them.
	ProofOfWork int64 `json:"proofOfWork,omitempty"`
	Solved      int64 `json:"solved,omitempty"`
	SolveMS     Wait  `json:"solveMs,omitzero"`
	// Seconds from the opening.
	FirstAdmissionS float64 `json:"firstAdmissionSeconds"`
	SoldOutS        float64 `json:"soldOutSeconds,omitempty"`
	// TimeToSellOutS runs from the first admission to the first stats
	// sample showing every seat sold.
	TimeToSellOutS float64 `json:"timeToSellOutSeconds,omitempty"`
	SoldOut        bool    `json:"soldOut"`
	Sold           int     `json:"sold"`
	Revenue        int64   `json:"revenue"`
	// Outcomes counts fans by how their visit ended.
	Outcomes map[string]int `json:"outcomes"`
	// HoldRetries counts holds refused with SEAT_UNAVAILABLE and tried again.
	HoldRetries int64 `json:"holdRetries"`
	// ConnWait is how long fans' requests waited for one of the
	// Connections before being sent; it is not in the endpoints' latencies.
	ConnWait Wait `json:"connectionWait"`
	// Timeline is the admin stats every 250 ms, from the opening.
	Timeline []Sample `json:"timeline"`
	// Order compares the order of admissions with the order of joins.
	Order OrderCheck `json:"admissionOrder"`

	// Robust fans rode out faults; the rest is theirs.
	Robust bool `json:"robust,omitempty"`
	// Resent counts requests repeated after an answer that the service
	// was unavailable, Moved the fans' moves to another target.
	Resent int64 `json:"resent,omitempty"`
	Moved  int64 `json:"moved,omitempty"`
	// Rejoins counts fans who had to join again (RejoinTimes the times),
	// LostHolds fans who lost a live hold.
	Rejoins     int        `json:"rejoins"`
	RejoinTimes int        `json:"rejoinTimes"`
	LostHolds   int        `json:"lostHolds"`
	Incidents   []Incident `json:"incidents,omitempty"`
	// Faults are the faults injected during the sale; 5xx answers are
	// allowed within them and FaultGraceS seconds after each.
	Faults      []FaultWindow `json:"faults,omitempty"`
	FaultGraceS float64       `json:"faultGraceSeconds,omitempty"`
	// Hoarding is what the scripted hoarders tried (Options.Hoard).
	Hoarding *Hoarding `json:"hoarding,omitempty"`
	// StatusTimeline counts every answer of the sale and its read-back by
	// status, per second from the opening.
	StatusTimeline []StatusSecond `json:"statusTimeline,omitempty"`
}

// Wait summarises waiting times, in milliseconds.
type Wait struct {
	P50MS float64 `json:"p50Ms"`
	P99MS float64 `json:"p99Ms"`
	MaxMS float64 `json:"maxMs"`
}

// waitOf summarises d.
func waitOf(d Distribution) Wait {
	return Wait{P50MS: ms(d.Quantile(0.5)), P99MS: ms(d.Quantile(0.99)), MaxMS: ms(d.Max())}
}

// Sample is the admin stats at T seconds from the opening.
type Sample struct {
	T        float64 `json:"t"`
	Waiting  int64   `json:"waiting"`
	Admitted int64   `json:"admitted"`
	Active   int64   `json:"active"`
	Held     int     `json:"held"`
	Sold     int     `json:"sold"`
}

// Outcomes of a fan's visit.
const (
	outPaid        = "paid"
	outLapsed      = "let the hold lapse"
	outAbandoned   = "abandoned"
	outSoldOut     = "found it sold out"
	outGaveUp      = "gave up after retries"
	outWaiting     = "still waiting at the end"
	outDropped     = "place dropped"
	outSessionEnd  = "session ended"
	outHoldExpired = "hold expired before paying"
	outFailed      = "failed"
	outHoarded     = "hoarded and was refused"
)

// Behaviour of on-sale fans.
const (
	maxHoldAttempts = 8
	watchEvery      = 250 * time.Millisecond
	openingLead     = 2 * time.Second
	saleIdleSeconds = 60
	drainGrace      = 30 * time.Second
)

// saleFan is one on-sale fan. Only its own goroutine writes it until the
// sale ends.
type saleFan struct {
	fan
	plan           string // outPaid, outLapsed or outAbandoned
	abandonWaiting bool
	rng            *rand.Rand
	joinAt         time.Time

	joined       bool
	joinSent     time.Time
	joinRecv     time.Time
	joinPosition int64
	drawn        bool      // joined before the opening
	lastWaiting  time.Time // sending of the last request answered still waiting
	admittedAt   time.Time // receipt of the first answer admitted
	outcome      string
	holds        []saleHold
	rejoins      int    // times the fan had to join again
	lostHolds    int    // live holds the fan lost
	proof        string // a solved challenge, until a join spends it
}

// saleHold is a hold a fan got and what became of it.
type saleHold struct {
	boxhttp.Reservation
	payTried bool
	paid     bool      // a payment answer was received
	paidAt   time.Time // receipt of the payment answer
	status   string    // read back after the sale
}

// sale is the shared state of one on-sale.
type sale struct {
	concert  boxhttp.Concert
	days     []string
	rec      *Recorder
	auditor  *fan
	soldOut  chan struct{} // closed when the stats show every seat sold
	ended    chan struct{} // closed when waiting fans should stop
	joined   atomic.Int64
	finished atomic.Int64
	retries  atomic.Int64
	maxSeats int
	connWait Histogram
	// Of robust fans: requests repeated, moves to another target, and
	// rejoins and lost holds.
	resent, moved atomic.Int64
	incidents     *incidents
	hoard         hoarding
	// Challenges solved by fans, and how long each took.
	solved    atomic.Int64
	solveTime Histogram

	// The fans, and the opening.
	fans  []*saleFan
	opens time.Time

	mu       sync.Mutex
	timeline []Sample
	last     boxhttp.ConcertStats
}

// onsale runs the on-sale scenario in four steps: prepare the fans and the
// concert, run the sale, check what the service did, and report.
func (e *engine) onsale(ctx context.Context, res *Result) error {
	s, round, err := e.prepareSale(ctx)
	if err != nil {
		return err
	}
	end, timedOut, err := e.runSale(ctx, s)
	if err != nil {
		return err
	}
	round.Phases = append(round.Phases, s.phase(end, timedOut, e.opts.Timeout))
	res.Rounds = append(res.Rounds, round)
	report := s.story(e.opts)
	checks, err := e.checkSale(ctx, s, report)
	if err != nil {
		return err
	}
	res.Checks = append(res.Checks, checks...)
	res.Onsale = report
	return nil
}

// onsaleMaxSeats is the seats per fan and date of the on-sale's concert.
const onsaleMaxSeats = 4

// prepareSale signs the fans and the auditor up, measures the ceiling
// (unless Options.NoCeiling) into the round it returns, creates the
// concert, opening openingLead+Prequeue from now, and lets the auditor
// join before the opening.
func (e *engine) prepareSale(ctx context.Context) (*sale, Round, error) {
	o := e.opts
	fans, auditor, err := e.saleFans(ctx)
	if err != nil {
		return nil, Round{}, err
	}
	var round Round
	if !o.NoCeiling {
		c, err := e.ceiling(ctx, o.Warmup, o.Duration)
		if err != nil {
			return nil, Round{}, err
		}
		round.Phases = append(round.Phases, c)
	}
	opens := time.Now().Add(openingLead + o.Prequeue)
	room := &boxhttp.WaitingRoom{
		Strategy: o.Strategy, AdmitPerSecond: o.AdmitPerSecond, MaxActive: o.MaxActive,
		SessionSeconds: o.SessionSeconds, IdleSeconds: saleIdleSeconds, ProofOfWork: o.ProofOfWork,
	}
	c, err := e.createConcert(ctx, concertSpec("On-sale", o.Dates, o.HoldSeconds, onsaleMaxSeats, opens, room))
	if err != nil {
		return nil, Round{}, err
	}
	s := &sale{
		concert: c, days: days(c), rec: e.track(newRecorder()), auditor: auditor, fans: fans, opens: opens,
		soldOut: make(chan struct{}), ended: make(chan struct{}), maxSeats: onsaleMaxSeats,
		incidents: newIncidents(opens),
	}
	// Every answer from here on is counted per second for the status
	// timeline, the read-back's included.
	e.series = newStatusSeries(opens)
	s.rec.series, e.other.series = e.series, e.series
	if err := e.joinAuditor(ctx, s); err != nil {
		return nil, Round{}, err
	}
	if o.Stream {
		if err := e.streamSupported(ctx, auditor); err != nil {
			return nil, Round{}, err
		}
	}
	for i, f := range fans {
		f.joinAt = opens.Add(-o.Prequeue + time.Duration(float64(o.JoinWindow)*float64(i)/float64(len(fans))))
	}
	return s, round, nil
}

// saleFans signs up the fans, each with enough money for the most seats
// at the dearest price and a plan drawn from Options' shares, and the
// auditor, without money.
func (e *engine) saleFans(ctx context.Context) ([]*saleFan, *fan, error) {
	o := e.opts
	n := o.Fans
	if n == 0 {
		n = OnsaleFans
	}
	base, err := e.users(ctx, n, int64(onsaleMaxSeats*vipPrice))
	if err != nil {
		return nil, nil, err
	}
	auditor := &fan{target: 0}
	if err := e.newUser(ctx, auditor, "auditor", 0); err != nil {
		return nil, nil, err
	}
	fans := make([]*saleFan, n)
	for i := range fans {
		rng := rand.New(rand.NewPCG(o.Seed, uint64(i)+1))
		f := &saleFan{fan: base[i], rng: rng}
		switch u := rng.Float64(); {
		case u < o.Abandon:
			f.plan, f.abandonWaiting = outAbandoned, rng.IntN(2) == 0
		case u < o.Abandon+o.Lapse:
			f.plan = outLapsed
		case u < o.Abandon+o.Lapse+o.Hoard:
			f.plan = outHoarded
		default:
			f.plan = outPaid
		}
		fans[i] = f
	}
	return fans, auditor, nil
}

// joinAuditor joins the auditor before the opening, so that it is
// admitted first and can read the seat maps after the sale.
func (e *engine) joinAuditor(ctx context.Context, s *sale) error {
	a := s.auditor
	err := e.call(ctx, e.other, 0, routeJoin, func(cl *boxhttp.Client) error {
		join := cl.Join
		if e.opts.ProofOfWork > 0 {
			join = cl.JoinSolving
		}
		st, _, err := join(ctx, a.access, s.concert.ConcertID)
		a.queueToken = st.Token
		return err
	})
	if err != nil {
		return fmt.Errorf("auditor join: %w", err)
	}
	return nil
}

// runSale lets every fan visit while the stats are watched, until all are
// done; or, once every seat is sold, until those still choosing, holding
// or paying are; or until the sale's timeout. It returns when the sale
// ended and whether the timeout ended it.
func (e *engine) runSale(ctx context.Context, s *sale) (end time.Time, timedOut bool, err error) {
	o := e.opts
	saleCtx, cancel := context.WithTimeout(ctx, time.Until(s.opens)+o.Timeout)
	defer cancel()
	watchCtx, stopWatch := context.WithCancel(saleCtx)
	defer stopWatch()
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		e.watch(watchCtx, s, s.opens)
	}()
	fansDone := e.startFans(saleCtx, s)
	stopProgress := startProgress(o.Progress, o.Terminal, s.progress)
	select {
	case <-fansDone:
	case <-s.soldOut:
		// Waiting fans stop; those choosing, holding or paying finish.
		close(s.ended)
		select {
		case <-fansDone:
		case <-time.After(drainGrace + time.Duration(o.HoldSeconds)*time.Second):
			cancel()
			<-fansDone
		case <-saleCtx.Done():
			<-fansDone
		}
	case <-saleCtx.Done():
		<-fansDone
	}
	end = time.Now()
	stopWatch()
	<-watchDone
	stopProgress()
	return end, saleCtx.Err() != nil && !isClosed(s.soldOut), ctx.Err()
}

// startFans starts every fan's visit (or hoarding) and returns a channel
// closed when all are done.
func (e *engine) startFans(ctx context.Context, s *sale) <-chan struct{} {
	var wg sync.WaitGroup
	for _, f := range s.fans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.finished.Add(1)
			if f.plan == outHoarded {
				e.hoard(ctx, s, f)
				return
			}
			e.visit(ctx, s, f)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return done
}

// progress is the sale's progress line.
func (s *sale) progress(time.Duration) string {
	s.mu.Lock()
	st := s.last
	s.mu.Unlock()
	return fmt.Sprintf("onsale   %6.1fs  joined %s/%s  waiting %s  admitted %s  active %s  held %s  sold %s/%s  done %s  5xx %s",
		time.Since(s.opens).Seconds(), count(s.joined.Load()), count(int64(len(s.fans))), count(st.Waiting), count(st.Admitted), count(st.Active),
		count(int64(st.Held)), count(int64(st.Sold)), count(int64(st.Total)), count(s.finished.Load()), count(s.rec.countStatus(500, 599)))
}

// phase is the sale's phase of the round, from the opening to end.
func (s *sale) phase(end time.Time, timedOut bool, timeout time.Duration) Phase {
	elapsed := end.Sub(s.opens)
	p := Phase{Name: "onsale", Seconds: elapsed.Seconds(), Endpoints: s.rec.summary(elapsed)}
	for _, ep := range p.Endpoints {
		p.Requests += ep.Requests
	}
	p.RPS = float64(p.Requests) / elapsed.Seconds()
	if timedOut {
		p.Note = fmt.Sprintf("stopped by the %s timeout", timeout)
	}
	return p
}

// story is the report of the sale as the fans saw it, before the checks.
func (s *sale) story(o Options) *Onsale {
	report := &Onsale{
		ConcertID: s.concert.ConcertID, Fans: len(s.fans), Dates: o.Dates, Seats: o.Dates * seatsPerDate, OpensAt: s.opens.UTC(),
		Strategy: o.Strategy, AdmitPerSecond: o.AdmitPerSecond, MaxActive: o.MaxActive, HoldSeconds: o.HoldSeconds,
		Stream: o.Stream, Outcomes: map[string]int{}, HoldRetries: s.retries.Load(),
		Robust: o.Robust, Resent: s.resent.Load(), Moved: s.moved.Load(),
	}
	report.ConnWait = waitOf(s.connWait.Snapshot())
	if o.ProofOfWork > 0 {
		report.ProofOfWork, report.Solved = o.ProofOfWork, s.solved.Load()
		report.SolveMS = waitOf(s.solveTime.Snapshot())
	}
	s.mu.Lock()
	report.Timeline = s.timeline
	s.mu.Unlock()
	for _, f := range s.fans {
		report.Outcomes[f.outcome]++
	}
	report.Rejoins, report.RejoinTimes = s.incidents.fansWith(incRejoin)
	report.LostHolds, _ = s.incidents.fansWith(incLostHold)
	s.incidents.mu.Lock()
	report.Incidents = slices.Clone(s.incidents.list)
	s.incidents.mu.Unlock()
	return report
}

// checkSale reads back what the service did and checks it against what the
// fans saw, completing report.
func (e *engine) checkSale(ctx context.Context, s *sale, report *Onsale) ([]Check, error) {
	checks, err := e.audit(ctx, s, s.fans, report, s.opens)
	if err != nil {
		return nil, err
	}
	if e.opts.Hoard > 0 {
		report.Hoarding = s.hoard.report()
		checks = append(checks, report.Hoarding.checks()...)
	}
	return checks, nil
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// watch samples the admin stats until ctx ends, closes s.soldOut when every
// seat is sold, and keeps the auditor's session alive.
func (e *engine) watch(ctx context.Context, s *sale, opens time.Time) {
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	keepAlive := time.Duration(max(e.opts.SessionSeconds/4, 1)) * time.Second
	lastUse := time.Now()
	sample := func(ctx context.Context) {
		var st boxhttp.ConcertStats
		err := e.observe(ctx, s.rec, routeStats, func(c *boxhttp.Client) error {
			var err error
			st, err = c.Stats(ctx, e.opts.AdminKey, s.concert.ConcertID)
			return err
		})
		if err != nil {
			return
		}
		now := time.Now()
		s.mu.Lock()
		s.last = st
		s.timeline = append(s.timeline, Sample{
			T: now.Sub(opens).Seconds(), Waiting: st.Waiting, Admitted: st.Admitted, Active: st.Active, Held: st.Held, Sold: st.Sold,
		})
		s.mu.Unlock()
		if st.Total > 0 && st.Sold == st.Total && !isClosed(s.soldOut) {
			close(s.soldOut)
		}
	}
	for {
		select {
		case <-ctx.Done():
			// One last look, for the end of the timeline.
			final, cancel := context.WithTimeout(context.Background(), e.opts.RequestTimeout)
			sample(final)
			cancel()
			return
		case <-t.C:
			sample(ctx)
			if time.Since(lastUse) >= keepAlive && time.Now().After(opens) {
				lastUse = time.Now()
				a := s.auditor
				// A waiting place is kept by polling, a session by use.
				_ = e.observe(ctx, e.other, routeQueueStatus, func(c *boxhttp.Client) error {
					_, err := c.QueueStatus(ctx, a.access, a.queueToken)
					return err
				})
				_ = e.observe(ctx, e.other, routeDates, func(c *boxhttp.Client) error {
					_, err := c.Dates(ctx, a.access, a.queueToken, s.concert.ConcertID)
					return err
				})
			}
		}
	}
}

// streamSupported checks that the server has the queue's event stream.
func (e *engine) streamSupported(ctx context.Context, a *fan) error {
	es, err := e.watcher.QueueEvents(ctx, a.access, a.queueToken, 0)
	switch status := boxhttp.StatusCode(err); {
	case err == nil:
		es.Close()
		return nil
	case status == nethttp.StatusNotFound:
		return errors.New("--stream: the queue event stream (GET /v1/queue/events) is not supported by this server; run without --stream to poll")
	case status != 0:
		return fmt.Errorf("--stream: GET /v1/queue/events answered %d", status)
	default:
		return fmt.Errorf("--stream: %w", err)
	}
}

// fanCall is a call of the sale's fans; the time it waits for a
// connection is recorded apart.
func (e *engine) fanCall(ctx context.Context, s *sale, f *saleFan, rt route, fn func(c *boxhttp.Client) error) error {
	asked := time.Now()
	return e.call(ctx, s.rec, f.target, rt, func(c *boxhttp.Client) error {
		s.connWait.Record(time.Since(asked))
		return fn(c)
	})
}

// transient reports whether a failed request may succeed when repeated.
func transient(err error) bool {
	s := boxhttp.StatusCode(err)
	return s == 0 || s >= 500 || s == nethttp.StatusTooManyRequests
}

// pause waits up to Think, or returns false when ctx ends.
func (e *engine) pause(ctx context.Context, f *saleFan) bool {
	if e.opts.Think <= 0 {
		return ctx.Err() == nil
	}
	return sleep(ctx, time.Duration(f.rng.Int64N(int64(e.opts.Think))))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// visit is one fan's whole visit: join, wait, choose, hold, pay.
func (e *engine) visit(ctx context.Context, s *sale, f *saleFan) {
	if !sleep(ctx, time.Until(f.joinAt)) {
		f.outcome = outWaiting
		return
	}
	st, ok := e.join(ctx, s, f)
	if !ok {
		return
	}
	if !e.waitAdmitted(ctx, s, f, st) {
		return
	}
	if f.plan == outAbandoned {
		e.pause(ctx, f)
		e.leave(ctx, s, f)
		f.outcome = outAbandoned
		return
	}
	r, ok := e.choose(ctx, s, f)
	if !ok {
		return
	}
	if f.plan == outLapsed {
		f.outcome = outLapsed
		if e.opts.Robust {
			e.watchHold(ctx, s, f, r)
		}
		return
	}
	e.pause(ctx, f)
	if e.opts.Robust {
		e.payRobust(ctx, s, f, r)
		return
	}
	e.pay(ctx, s, f, r)
}

// solve fetches a challenge for f and solves it as the altcha widget does.
func (e *engine) solve(ctx context.Context, s *sale, f *saleFan) error {
	var ch boxhttp.Challenge
	err := e.fanDo(ctx, s, f, routeChallenge, func(c *boxhttp.Client) error {
		var err error
		ch, err = c.Challenge(ctx, f.access, s.concert.ConcertID)
		return err
	})
	if err != nil {
		return err
	}
	start := time.Now()
	if f.proof, err = boxhttp.Solve(ctx, ch); err != nil {
		return err
	}
	s.solveTime.Record(time.Since(start))
	s.solved.Add(1)
	return nil
}

// stillWaiting reports whether st is a place still waiting for admission.
func stillWaiting(st boxhttp.QueueStatus) bool {
	state := queue.State(st.Status)
	return state == queue.Waiting || state == queue.Prequeue
}

func waitingOrAdmitted(f *saleFan) string {
	if f.admittedAt.IsZero() {
		return "waiting"
	}
	return "admitted"
}

func (e *engine) join(ctx context.Context, s *sale, f *saleFan) (boxhttp.QueueStatus, bool) {
	var st boxhttp.QueueStatus
	var err error
	for attempt := range 4 {
		if e.opts.ProofOfWork > 0 && f.proof == "" {
			if err = e.solve(ctx, s, f); err != nil {
				if ctx.Err() != nil {
					f.outcome = outWaiting
					return st, false
				}
				break
			}
		}
		sent := time.Now()
		err = e.fanDo(ctx, s, f, routeJoin, func(c *boxhttp.Client) error {
			var err error
			if e.opts.ProofOfWork > 0 {
				st, _, err = c.JoinWithProof(ctx, f.access, s.concert.ConcertID, f.proof)
			} else {
				st, _, err = c.Join(ctx, f.access, s.concert.ConcertID)
			}
			return err
		})
		if err == nil || boxoffice.ErrorCode(err) == boxoffice.CodeProofInvalid {
			// Spent, or refused (expired while waiting for a connection):
			// the next join solves a new challenge.
			f.proof = ""
		}
		if boxoffice.ErrorCode(err) == boxoffice.CodeProofInvalid {
			continue
		}
		if err == nil {
			if !f.joined {
				f.joined, f.joinSent, f.joinRecv, f.joinPosition = true, sent, time.Now(), st.Position
				f.drawn = queue.State(st.Status) == queue.Prequeue
				s.joined.Add(1)
			}
			f.queueToken = st.Token
			if stillWaiting(st) {
				f.lastWaiting = sent
			}
			return st, true
		}
		if ctx.Err() != nil {
			f.outcome = outWaiting
			return st, false
		}
		if boxoffice.ErrorCode(err) == boxoffice.CodeSoldOut {
			f.outcome = outSoldOut
			return st, false
		}
		if !transient(err) {
			break
		}
		if !sleep(ctx, time.Duration(200<<attempt)*time.Millisecond) {
			f.outcome = outWaiting
			return st, false
		}
	}
	f.outcome = outFailed
	return st, false
}

// waitAdmitted follows the fan's place until it is admitted. It returns
// false, with the outcome set, when the visit ends there.
func (e *engine) waitAdmitted(ctx context.Context, s *sale, f *saleFan, st boxhttp.QueueStatus) bool {
	// Fans who will give up while waiting poll once and leave, as they
	// do without streams.
	if e.opts.Stream && !f.abandonWaiting {
		admitted, last, poll := e.followStream(ctx, s, f, st)
		if !poll {
			return admitted
		}
		st = last
	}
	polls := 0
	for {
		switch queue.State(st.Status) {
		case queue.Admitted:
			if f.admittedAt.IsZero() {
				f.admittedAt = time.Now()
			}
			return true
		case queue.SoldOut:
			f.outcome = outSoldOut
			return false
		case queue.Expired:
			if !e.opts.Robust {
				f.outcome = outDropped
				return false
			}
			var ok bool
			if st, ok = e.joinAgain(ctx, s, f, "queue status EXPIRED while "+waitingOrAdmitted(f)); !ok {
				return false
			}
			continue
		}
		if f.abandonWaiting && polls > 0 {
			e.leave(ctx, s, f)
			f.outcome = outAbandoned
			return false
		}
		wait := time.Duration(max(st.PollAfterSeconds, 1)) * time.Second
		select {
		case <-ctx.Done():
			f.outcome = outWaiting
			return false
		case <-s.ended:
			f.outcome = outWaiting
			return false
		case <-time.After(wait):
		}
		polls++
		sent := time.Now()
		next := st
		err := e.fanDo(ctx, s, f, routeQueueStatus, func(c *boxhttp.Client) error {
			var err error
			next, err = c.QueueStatus(ctx, f.access, f.queueToken)
			return err
		})
		switch {
		case err == nil:
			st = next
			if stillWaiting(st) {
				f.lastWaiting = sent
			}
		case ctx.Err() != nil:
			f.outcome = outWaiting
			return false
		case e.opts.Robust && lostPlace(err, false):
			var ok bool
			if st, ok = e.joinAgain(ctx, s, f, fmt.Sprintf("queue status answered %s while %s", boxoffice.ErrorCode(err), waitingOrAdmitted(f))); !ok {
				return false
			}
		case !transient(err):
			f.outcome = outFailed
			return false
		}
	}
}

// followStream waits for admission on the queue's event stream. Each
// open stream holds a connection of its own. A stream that fails is opened
// again after a pause, as EventSource does; when the server has no room
// for another stream (503) the fan polls instead: poll is true and last is
// the latest status.
func (e *engine) followStream(ctx context.Context, s *sale, f *saleFan, st boxhttp.QueueStatus) (admitted bool, last boxhttp.QueueStatus, poll bool) {
	for stillWaiting(st) {
		sctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-s.ended:
				cancel()
			case <-sctx.Done():
			}
		}()
		opened := time.Now()
		next, err := e.stream(sctx, s, f)
		cancel()
		switch {
		case err == nil:
			st = next
			if stillWaiting(st) && (isClosed(s.ended) || !sleep(ctx, streamRetry)) {
				// The server ended the stream (a restart, say) before
				// the wait was over.
				f.outcome = outWaiting
				return false, st, false
			}
		case ctx.Err() != nil || isClosed(s.ended):
			f.outcome = outWaiting
			return false, st, false
		case boxhttp.StatusCode(err) == nethttp.StatusServiceUnavailable:
			return false, st, true
		case !transient(err):
			f.outcome = outFailed
			return false, st, false
		default:
			if !sleep(ctx, streamRetry+time.Duration(f.rng.Int64N(int64(streamRetry)))) {
				f.outcome = outWaiting
				return false, st, false
			}
		}
		if stillWaiting(st) {
			f.lastWaiting = opened
		}
	}
	switch queue.State(st.Status) {
	case queue.Admitted:
		f.admittedAt = time.Now()
		return true, st, false
	case queue.SoldOut:
		f.outcome = outSoldOut
	default:
		if e.opts.Robust {
			// The polling loop joins again.
			return false, st, true
		}
		f.outcome = outDropped
	}
	return false, st, false
}

// streamRetry is the least pause before a failed stream is opened again:
// the reconnection delay the server sends to EventSource.
const streamRetry = 2 * time.Second

// stream reads the fan's queue events until one that ends the wait, and
// returns it.
func (e *engine) stream(ctx context.Context, s *sale, f *saleFan) (boxhttp.QueueStatus, error) {
	var last boxhttp.QueueStatus
	start := time.Now()
	es, err := e.streamers[f.target].QueueEvents(ctx, f.access, f.queueToken, 0)
	status, code := outcome(err)
	s.rec.observe(routeQueueEvents, time.Since(start), status, code)
	if err != nil {
		return last, err
	}
	defer es.Close()
	for {
		ev, err := es.Next()
		if err == io.EOF {
			return last, nil
		}
		if err != nil {
			return last, err
		}
		if last = ev.Status; !stillWaiting(last) {
			return last, nil
		}
	}
}

func (e *engine) leave(ctx context.Context, s *sale, f *saleFan) {
	_ = e.fanCall(ctx, s, f, routeLeave, func(c *boxhttp.Client) error {
		return c.Leave(ctx, f.access, f.queueToken)
	})
}

// choose reads the dates and a seat map and holds seats, most fans going
// for the first date with seats left and the front rows, until a hold
// succeeds. It returns false, with the outcome set, when the visit ends
// there.
func (e *engine) choose(ctx context.Context, s *sale, f *saleFan) (boxhttp.Reservation, bool) {
	for range maxHoldAttempts {
		if !e.pause(ctx, f) {
			f.outcome = outWaiting
			return boxhttp.Reservation{}, false
		}
		day, next := e.chooseDate(ctx, s, f)
		if next == stepAgain {
			continue
		}
		if next == stepEnd {
			return boxhttp.Reservation{}, false
		}
		seats, next := e.chooseSeats(ctx, s, f, day)
		if next == stepAgain {
			continue
		}
		if next == stepEnd {
			return boxhttp.Reservation{}, false
		}
		r, next := e.holdSeats(ctx, s, f, day, seats)
		if next == stepDone {
			return r, true
		}
		if next == stepEnd {
			return r, false
		}
	}
	e.leave(ctx, s, f)
	f.outcome = outGaveUp
	return boxhttp.Reservation{}, false
}

// step is what follows a step of choosing: the next step, the same choice
// again, or the end of the visit (with the fan's outcome set).
type step int

const (
	stepDone step = iota
	stepAgain
	stepEnd
)

// chooseDate reads the dates and picks one with a seat available: the
// first, or any at random.
func (e *engine) chooseDate(ctx context.Context, s *sale, f *saleFan) (string, step) {
	var dates boxhttp.DateList
	err := e.fanDo(ctx, s, f, routeDates, func(c *boxhttp.Client) error {
		var err error
		dates, err = c.Dates(ctx, f.access, f.queueToken, s.concert.ConcertID)
		return err
	})
	if err != nil {
		return "", e.failedStep(ctx, s, f, routeDates, err)
	}
	if len(dates.Dates) == 0 {
		e.leave(ctx, s, f)
		f.outcome = outSoldOut
		return "", stepEnd
	}
	// Dates whose seats are all held are shown but cannot be chosen.
	var open []boxhttp.DateAvailability
	for _, d := range dates.Dates {
		if d.AvailableSeats > 0 {
			open = append(open, d)
		}
	}
	if len(open) == 0 {
		// Every seat left is held: look again in a second or two.
		if !sleep(ctx, time.Second+time.Duration(f.rng.Int64N(int64(time.Second)))) {
			f.outcome = outWaiting
			return "", stepEnd
		}
		return "", stepAgain
	}
	day := open[0].Date
	if f.rng.IntN(2) == 0 {
		day = open[f.rng.IntN(len(open))].Date
	}
	return day, stepDone
}

// chooseSeats reads day's seat map and picks the seats to hold.
func (e *engine) chooseSeats(ctx context.Context, s *sale, f *saleFan, day string) ([]int, step) {
	var m boxhttp.SeatMap
	err := e.fanDo(ctx, s, f, routeSeats, func(c *boxhttp.Client) error {
		var err error
		m, err = c.Seats(ctx, f.access, f.queueToken, s.concert.ConcertID, day)
		return err
	})
	if err != nil {
		return nil, e.failedStep(ctx, s, f, routeSeats, err)
	}
	want := pickSeats(m.Seats, wantSeats(f.rng, s.maxSeats), f.rng)
	if len(want) == 0 {
		return nil, stepAgain
	}
	return want, stepDone
}

// holdSeats holds seats of day; seats taken meanwhile are chosen again.
func (e *engine) holdSeats(ctx context.Context, s *sale, f *saleFan, day string, seats []int) (boxhttp.Reservation, step) {
	var r boxhttp.Reservation
	req := boxhttp.HoldRequest{ConcertID: s.concert.ConcertID, Date: day, SeatNumbers: seats}
	err := e.fanDo(ctx, s, f, routeHold, func(c *boxhttp.Client) error {
		var err error
		r, err = c.Hold(ctx, f.access, f.queueToken, req)
		return err
	})
	if err == nil {
		f.holds = append(f.holds, saleHold{Reservation: r})
		return r, stepDone
	}
	if boxoffice.ErrorCode(err) == boxoffice.CodeSeatUnavailable {
		s.retries.Add(1)
		return r, stepAgain
	}
	return r, e.failedStep(ctx, s, f, routeHold, err)
}

// failedStep is stepAgain when the failed step may be tried again, and
// stepEnd (the outcome set) when not; see stepFailed.
func (e *engine) failedStep(ctx context.Context, s *sale, f *saleFan, rt route, err error) step {
	if e.stepFailed(ctx, s, f, rt, err) {
		return stepAgain
	}
	return stepEnd
}

// stepFailed decides whether a failed step may be tried again, setting the
// outcome when not. A robust fan whose session was lost joins again first.
func (e *engine) stepFailed(ctx context.Context, s *sale, f *saleFan, rt route, err error) bool {
	switch {
	case ctx.Err() != nil:
		f.outcome = outWaiting
	case e.opts.Robust && lostPlace(err, true):
		return e.readmit(ctx, s, f, fmt.Sprintf("%s answered %s while admitted", rt, boxoffice.ErrorCode(err)))
	case boxoffice.ErrorCode(err) == boxoffice.CodeQueueTokenExpired:
		f.outcome = outSessionEnd
	case transient(err), boxoffice.ErrorCode(err) == boxoffice.CodeSeatLimitExceeded:
		return true
	default:
		f.outcome = outFailed
	}
	return false
}

// wantSeats is how many seats a fan asks for: mostly two.
func wantSeats(rng *rand.Rand, limit int) int {
	n := 2
	switch u := rng.Float64(); {
	case u < 0.2:
		n = 1
	case u < 0.7:
		n = 2
	case u < 0.85:
		n = 3
	default:
		n = 4
	}
	return min(n, limit)
}

// pickSeats chooses up to n available seats: usually the front-most, the
// way most fans want the same front rows, otherwise at random.
func pickSeats(seats []boxhttp.Seat, n int, rng *rand.Rand) []int {
	var free []int
	for _, s := range seats {
		if concert.SeatStatus(s.Status) == concert.Available {
			free = append(free, s.Number)
		}
	}
	slices.Sort(free)
	n = min(n, len(free))
	if n == 0 {
		return nil
	}
	if rng.Float64() < 0.7 {
		return free[:n]
	}
	rng.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
	out := free[:n]
	slices.Sort(out)
	return out
}

// pay pays the fan's hold, retrying with the same idempotency key while
// the outcome is unknown.
func (e *engine) pay(ctx context.Context, s *sale, f *saleFan, r boxhttp.Reservation) {
	h := &f.holds[len(f.holds)-1]
	h.payTried = true
	key := "loadtest-" + r.ReservationID
	for attempt := range 4 {
		err := e.fanCall(ctx, s, f, routePay, func(c *boxhttp.Client) error {
			_, err := c.Pay(ctx, f.access, f.queueToken, r.ReservationID, key)
			return err
		})
		if err == nil {
			h.paid, h.paidAt = true, time.Now()
			f.outcome = outPaid
			return
		}
		switch {
		case ctx.Err() != nil:
			f.outcome = outWaiting
			return
		case boxoffice.ErrorCode(err) == boxoffice.CodeHoldExpired:
			f.outcome = outHoldExpired
			return
		case !transient(err):
			f.outcome = outFailed
			return
		}
		if !sleep(ctx, time.Duration(200<<attempt)*time.Millisecond) {
			f.outcome = outWaiting
			return
		}
	}
	f.outcome = outFailed
}
