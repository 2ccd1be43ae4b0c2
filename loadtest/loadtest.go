// Package loadtest measures a running Boxoffice deployment from outside, the
// way fans use it: the throughput and latency of each endpoint, as a ratio
// to a bare handler of the same server measured in stretches alternating
// with it by the same client, and a whole on-sale simulation whose
// invariants (no seat sold twice, every sold seat paid once, money
// conserved, admission in join order, no 5xx) are checked through the API
// afterwards. It is the engine of `boxoffice loadtest`.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	nethttp "net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	boxhttp "github.com/boxoffice/boxoffice/http"
)

// Scenarios that Run knows.
var Scenarios = []string{"join", "browse", "hold", "pay", "onsale"}

// Options configure a run; start from DefaultOptions.
type Options struct {
	Scenario string
	// Targets are base URLs of one deployment's instances; fans are spread
	// over them, setup and checks use the first.
	Targets  []string
	AdminKey string

	// Connections is the number of concurrent connections (and, in the
	// measured phases, of closed-loop workers) over all targets.
	Connections int
	// Duration is the length of each measured phase, after Warmup.
	Duration time.Duration
	Warmup   time.Duration
	// Pause is waited before each measured phase (and its bare handler),
	// after the set-up: time for the server's work in the background on
	// what the set-up did (the outbox's relay numbering its events) to
	// end before anything is measured.
	Pause time.Duration
	// Runs repeats a measured scenario; targets are judged on the median.
	Runs int
	// NoCeiling skips measuring the bare handler; no ratios are then given.
	NoCeiling bool
	// MetricsURLs are the servers' /metrics, read before and after each
	// measured phase to report their batches of gathered writes (nil:
	// each target's /metrics).
	MetricsURLs []string
	// RequestTimeout bounds each request.
	RequestTimeout time.Duration

	// Fans is the number of on-sale fans (0: OnsaleFans), or of joins and
	// payments prepared for the join and pay phases (0: sized from a
	// one-second probe of the bare handler).
	Fans int
	// HotSeats is the number of seats every fan of the hold scenario's
	// hot-seat phase wants; 0 leaves the phase out.
	HotSeats int
	// Dates of the concert of browse and onsale; each has 50 seats.
	Dates       int
	HoldSeconds int
	// Waiting room of the on-sale.
	Strategy       string
	AdmitPerSecond float64
	MaxActive      int64
	SessionSeconds int
	// Fractions of on-sale fans who abandon, let their hold lapse, hoard
	// (scripted abuse: a second event stream, a hold let go and tried
	// again at once), or pay; they add up to 1.
	Abandon, Lapse, Hoard, Pay float64
	// JoinWindow is how long after the opening every fan has joined.
	JoinWindow time.Duration
	// Think is the longest pause of a fan between two steps.
	Think time.Duration
	// Stream makes waiting fans follow the queue's event stream instead of
	// polling.
	Stream bool
	// ProofOfWork, when not 0, is the on-sale room's proofOfWork: every
	// fan fetches a challenge and solves it, as the altcha widget does,
	// before taking a place (about ProofOfWork/2 SHA-256 hashes each, on
	// the load generator's cores).
	ProofOfWork int64
	// Timeout bounds the on-sale from its opening.
	Timeout time.Duration
	Seed    uint64
	// Prequeue makes the on-sale's fans start joining this long before
	// the opening, so that those joining before it are in its draw.
	Prequeue time.Duration

	// Robust makes the on-sale's fans ride out faults: they repeat what
	// was answered unavailable (503, 502, 504, 429, no answer) after a
	// capped backoff honouring Retry-After, move to another target when
	// theirs stops answering, repeat payments with their Idempotency-Key,
	// and join again only when told their place ended, which is counted.
	// The checks then allow 503s within the faults' windows (and
	// FaultGrace after each) instead of failing on any 5xx.
	Robust bool
	// Faults are windows of faults injected during the on-sale;
	// FaultsFile, when set, names a file (see ReadFaults) read for more
	// once the sale has been read back, so that whoever injects them can
	// write it during the sale.
	Faults     []Fault
	FaultsFile string
	FaultGrace time.Duration

	// RoomSizes, when set, make the join scenario measure, Runs times for
	// each size in turn, one room that that many fans joined through the
	// API before the phases.
	RoomSizes []int
	// RoomBytes, when set, returns the bytes a room takes in the
	// deployment's store: the join scenario then reports them per waiting
	// fan.
	RoomBytes func(ctx context.Context, concertID string) (int64, error)

	// Progress receives the progress line; Terminal redraws it in place.
	Progress io.Writer
	Terminal bool
}

// DefaultOptions are the options of a run with nothing set.
func DefaultOptions() Options {
	return Options{
		Connections:    600,
		Duration:       10 * time.Second,
		Warmup:         2 * time.Second,
		Runs:           1,
		RequestTimeout: 30 * time.Second,
		Fans:           0,
		Dates:          20,
		HoldSeconds:    10,
		HotSeats:       20,
		Strategy:       "RATE_AND_MAX_ACTIVE",
		AdmitPerSecond: 200,
		MaxActive:      500,
		SessionSeconds: 120,
		Abandon:        0.10,
		Lapse:          0.10,
		Pay:            0.80,
		JoinWindow:     time.Second,
		Think:          200 * time.Millisecond,
		Timeout:        5 * time.Minute,
		FaultGrace:     2 * time.Second,
	}
}

// OnsaleFans is the number of on-sale fans when Fans is 0.
const OnsaleFans = 20000

func (o Options) validate() error {
	if !slices.Contains(Scenarios, o.Scenario) {
		return fmt.Errorf("unknown scenario %q; want one of %s", o.Scenario, strings.Join(Scenarios, ", "))
	}
	if len(o.Targets) == 0 {
		return errors.New("no target: pass --target URL[,URL…]")
	}
	for _, t := range o.Targets {
		u, err := url.Parse(t)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("target %q: want a URL like http://127.0.0.1:8080", t)
		}
	}
	if o.AdminKey == "" {
		return errors.New("no admin key: pass --admin-key or set BOXOFFICE_ADMIN_KEY")
	}
	switch {
	case o.Connections < 1:
		return errors.New("connections must be at least 1")
	case o.Duration <= 0:
		return errors.New("duration must be positive")
	case o.Warmup < 0:
		return errors.New("warmup must not be negative")
	case o.Runs < 1:
		return errors.New("runs must be at least 1")
	case o.Fans < 0:
		return errors.New("fans must not be negative")
	case o.Dates < 1 || o.Dates > maxDates:
		return fmt.Errorf("dates must be between 1 and %d", maxDates)
	case o.HotSeats < 0 || o.HotSeats > seatsPerDate:
		return fmt.Errorf("hot-seats must be between 0 and %d", seatsPerDate)
	case o.HoldSeconds < 1:
		return errors.New("hold-seconds must be at least 1")
	case o.Abandon < 0 || o.Lapse < 0 || o.Hoard < 0 || o.Pay < 0 || math.Abs(o.Abandon+o.Lapse+o.Hoard+o.Pay-1) > 1e-6:
		return fmt.Errorf("abandon, lapse, hoard and pay must be fractions adding up to 1, got %.3g + %.3g + %.3g + %.3g", o.Abandon, o.Lapse, o.Hoard, o.Pay)
	case o.SessionSeconds < 1:
		return errors.New("session-seconds must be at least 1")
	case o.RequestTimeout <= 0:
		return errors.New("request timeout must be positive")
	case o.Prequeue < 0:
		return errors.New("prequeue must not be negative")
	case o.FaultGrace < 0:
		return errors.New("fault grace must not be negative")
	case (len(o.Faults) > 0 || o.FaultsFile != "") && o.Scenario != "onsale":
		return errors.New("faults are reported by the onsale scenario only")
	}
	return nil
}

// Result is everything a run measured and checked.
type Result struct {
	Scenario    string    `json:"scenario"`
	Targets     []string  `json:"urls"`
	StartedAt   time.Time `json:"startedAt"`
	Connections int       `json:"connections"`
	DurationS   float64   `json:"phaseSeconds"`
	WarmupS     float64   `json:"warmupSeconds"`
	// Rounds holds each repetition of a measured scenario; the on-sale has one.
	Rounds []Round `json:"rounds"`
	// Goals compares the measurements with the project's targets.
	Goals []Goal `json:"goals"`
	// Checks are the invariants and other pass/fail checks of every run.
	Checks []Check `json:"checks"`
	// Onsale is the on-sale's own report.
	Onsale   *Onsale  `json:"onsale,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// Passed is true when every check passed; targets not met do not fail
	// a run.
	Passed bool `json:"passed"`
	// Requests made outside the measured phases: setup and checks.
	Other []Endpoint `json:"otherRequests"`
}

// Round is one repetition of a scenario: its phases, each measured phase
// preceded by a phase named "ceiling": the bare handler, measured in
// stretches alternating with the phase's.
type Round struct {
	Phases []Phase `json:"phases"`
	// Room is the filled room the join scenario measured (RoomSizes).
	Room *FilledRoom `json:"room,omitempty"`
}

// FilledRoom describes the room of a join scenario filled before measuring.
type FilledRoom struct {
	ConcertID string `json:"concertId"`
	// Filled is how many fans joined before the phases, FillSeconds how
	// long that took.
	Filled      int     `json:"filled"`
	FillSeconds float64 `json:"fillSeconds"`
	// Waiting is the room's waiting fans after the phases; Bytes the sum
	// of MEMORY USAGE over its Redis keys then (0 without RoomBytes).
	Waiting     int64   `json:"waiting"`
	Bytes       int64   `json:"bytes,omitempty"`
	BytesPerFan float64 `json:"bytesPerFan,omitempty"`
}

// Phase is one measured phase.
type Phase struct {
	Name      string     `json:"name"`
	Seconds   float64    `json:"seconds"`
	Requests  int64      `json:"requests"`
	RPS       float64    `json:"rps"`
	Endpoints []Endpoint `json:"endpoints"`
	// CeilingRPS is the bare handler's rate measured alongside this phase;
	// 0 when it was not measured.
	CeilingRPS float64 `json:"ceilingRps,omitempty"`
	// Note explains a phase that ended early.
	Note string `json:"note,omitempty"`
	// Batches are the servers' batches of gathered writes while the phase
	// ran, when their metrics could be read.
	Batches []ServerBatches `json:"serverBatches,omitempty"`
}

// Check is one pass/fail check.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Run runs opts.Scenario against opts.Targets. The error is for a run that
// could not be carried out (bad options, setup failed); a run whose checks
// failed returns a Result with Passed false.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	e := newEngine(opts)
	defer e.tr.CloseIdleConnections()
	defer e.watchTr.CloseIdleConnections()
	defer e.closeConns()
	res := &Result{
		Scenario: opts.Scenario, Targets: opts.Targets, StartedAt: time.Now().UTC(),
		Connections: opts.Connections, DurationS: opts.Duration.Seconds(), WarmupS: opts.Warmup.Seconds(),
	}
	if err := e.healthy(ctx); err != nil {
		return nil, err
	}
	var err error
	switch opts.Scenario {
	case "onsale":
		err = e.onsale(ctx, res)
	default:
		sizes := opts.RoomSizes
		if len(sizes) == 0 {
			sizes = []int{0}
		}
		for i := range opts.Runs * len(sizes) {
			if n := opts.Runs * len(sizes); n > 1 {
				e.printf("round %d of %d\n", i+1, n)
			}
			e.roomSize = sizes[i/opts.Runs]
			var round Round
			if err = e.measured(ctx, &round, res); err != nil {
				break
			}
			res.Rounds = append(res.Rounds, round)
		}
	}
	if err != nil {
		return nil, err
	}
	if opts.Robust && res.Onsale != nil {
		checks, err := e.faultChecks(res.Onsale)
		if err != nil {
			return nil, err
		}
		res.Checks = append(res.Checks, checks...)
	} else {
		res.Checks = append(res.Checks, e.no5xx())
	}
	res.Other = e.other.summary(0)
	res.Warnings = append(res.Warnings, e.warnings()...)
	res.Goals = goals(res)
	res.Passed = true
	for _, c := range res.Checks {
		res.Passed = res.Passed && c.OK
	}
	return res, nil
}

// engine is the state of one run.
type engine struct {
	opts Options
	// roomSize is the size of the join scenario's filled room this round.
	roomSize int
	tr       *nethttp.Transport
	clients  []*boxhttp.Client
	sems     []chan struct{}
	// watcher is the on-sale's observer's own client, outside the fans'
	// connection limit, on the first target.
	watcher *boxhttp.Client
	watchTr *nethttp.Transport
	// streamers open the on-sale fans' event streams, by target, each on a
	// connection of its own outside the fans' connection limit.
	streamers []*boxhttp.Client
	// conns are the measured loops' connections, one per worker, kept
	// from one stretch to the next (stretches never run at once).
	conns []*conn
	// other records requests outside the measured phases.
	other *Recorder
	// recorders of every phase, for the 5xx and 429 checks.
	mu        sync.Mutex
	recorders []*Recorder
	// noBatches says why the servers' batches were not read, once.
	noBatches string
	// series counts the on-sale's answers by status per second.
	series *statusSeries
}

func newEngine(opts Options) *engine {
	perTarget := (opts.Connections + len(opts.Targets) - 1) / len(opts.Targets)
	e := &engine{
		opts:  opts,
		tr:    newTransport(perTarget, opts.RequestTimeout),
		other: newRecorder(),
	}
	hc := &nethttp.Client{Transport: e.tr, Timeout: opts.RequestTimeout}
	for _, t := range opts.Targets {
		e.clients = append(e.clients, boxhttp.NewClient(t, hc))
		e.streamers = append(e.streamers, boxhttp.NewClient(t, nil))
		e.sems = append(e.sems, make(chan struct{}, perTarget))
	}
	e.watchTr = newTransport(2, opts.RequestTimeout)
	e.watcher = boxhttp.NewClient(opts.Targets[0], &nethttp.Client{Transport: e.watchTr, Timeout: opts.RequestTimeout})
	e.recorders = append(e.recorders, e.other)
	return e
}

// conn returns worker w's connection.
func (e *engine) conn(w int) *conn {
	e.mu.Lock()
	defer e.mu.Unlock()
	for len(e.conns) <= w {
		e.conns = append(e.conns, newConn(e.opts.RequestTimeout))
	}
	return e.conns[w]
}

// closeConns closes the measured loops' connections.
func (e *engine) closeConns() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.conns {
		c.close()
	}
	e.conns = nil
}

func (e *engine) printf(format string, args ...any) {
	if e.opts.Progress != nil {
		fmt.Fprintf(e.opts.Progress, format, args...)
	}
}

// track keeps rec for the checks over every request of the run.
func (e *engine) track(rec *Recorder) *Recorder {
	e.mu.Lock()
	e.recorders = append(e.recorders, rec)
	e.mu.Unlock()
	return rec
}

// healthy checks that every target answers.
func (e *engine) healthy(ctx context.Context) error {
	for i, t := range e.opts.Targets {
		err := e.call(ctx, e.other, i, routeHealthz, func(c *boxhttp.Client) error { return c.Healthz(ctx) })
		if err != nil {
			return fmt.Errorf("target %s is not answering: %w", t, err)
		}
	}
	return nil
}

// call runs one request of the project's client against target and
// records it on rec under rt. At most Connections requests are in flight.
func (e *engine) call(ctx context.Context, rec *Recorder, target int, rt route, f func(c *boxhttp.Client) error) error {
	select {
	case e.sems[target] <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	start := time.Now()
	err := f(e.clients[target])
	d := time.Since(start)
	<-e.sems[target]
	if err != nil && ctx.Err() != nil {
		return err
	}
	status, code := outcome(err)
	rec.observe(rt, d, status, code)
	return err
}

// observe runs one request of the on-sale's observer, outside the fans'
// connection limit, and records it on rec under rt.
func (e *engine) observe(ctx context.Context, rec *Recorder, rt route, f func(c *boxhttp.Client) error) error {
	start := time.Now()
	err := f(e.watcher)
	if err != nil && ctx.Err() != nil {
		return err
	}
	status, code := outcome(err)
	rec.observe(rt, time.Since(start), status, code)
	return err
}

// outcome is the status and code of a call of the project's client.
func outcome(err error) (int, []byte) {
	if err == nil {
		return 200, nil
	}
	var re *boxhttp.ResponseError
	if !errors.As(err, &re) {
		return 0, failureCode(err)
	}
	if re.Err != nil {
		return re.StatusCode, []byte(re.Err.Code)
	}
	return re.StatusCode, nil
}

// no5xx checks every request of the run.
func (e *engine) no5xx() Check {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n, total, refused int64
	for _, r := range e.recorders {
		n += r.countStatus(500, 599)
		total += r.requests()
		refused += r.endpoints[routeQueueEvents].status[503].Load()
	}
	detail := fmt.Sprintf("%s of %s requests answered 5xx", count(n), count(total))
	if refused > 0 {
		detail += fmt.Sprintf("; %s of them were event streams refused for want of room (those fans polled instead): "+
			"raise BOXOFFICE_MAX_STREAMS or add instances", count(refused))
	}
	return Check{Name: "no 5xx answers", OK: n == 0, Detail: detail}
}

// faultChecks completes o with the faults and the status timeline, and
// returns the checks of a robust on-sale.
func (e *engine) faultChecks(o *Onsale) ([]Check, error) {
	faults := slices.Clone(e.opts.Faults)
	if e.opts.FaultsFile != "" {
		more, err := ReadFaults(e.opts.FaultsFile)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("faults: %w", err)
		}
		faults = append(faults, more...)
	}
	o.Faults = windowsFrom(faults, o.OpensAt)
	o.FaultGraceS = e.opts.FaultGrace.Seconds()
	if e.series != nil {
		o.StatusTimeline = e.series.seconds()
	}
	e.mu.Lock()
	var total500, unavailable int64
	for _, r := range e.recorders {
		total500 += r.countStatus(500, 500)
		unavailable += r.countStatus(501, 599) + r.countStatus(0, 0)
	}
	e.mu.Unlock()
	return faultChecks(o, total500, unavailable), nil
}

// warnings are things the operator should know about the run.
func (e *engine) warnings() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var limited, unanswered int64
	for _, r := range e.recorders {
		limited += r.countStatus(429, 429)
		unanswered += r.countStatus(0, 0)
	}
	var out []string
	if limited > 0 {
		out = append(out, fmt.Sprintf("%s requests were answered 429 RATE_LIMITED: the server's rate limit is on, so these figures measure the limiter. "+
			"Start the server with BOXOFFICE_RATE_LIMIT=0, or put the load generator's address behind a trusted proxy (BOXOFFICE_TRUSTED_PROXIES).", count(limited)))
	}
	if unanswered > 0 {
		out = append(out, fmt.Sprintf("%s requests got no answer (connection failed or timed out); see NETWORK and TIMEOUT in the table.", count(unanswered)))
	}
	if e.noBatches != "" {
		out = append(out, "the servers' batches of gathered writes are not reported: "+e.noBatches+
			" (with BOXOFFICE_METRICS_ADDR set, give --metrics the servers' /metrics)")
	}
	return out
}
