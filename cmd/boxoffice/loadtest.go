package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/boxoffice/boxoffice/loadtest"
	"github.com/boxoffice/boxoffice/redis"
)

const loadtestUsage = `Usage: boxoffice loadtest <scenario> --target URL[,URL...] [flags]

Measures a running deployment. Right before each measured phase the
server's bare handler (GET /healthz) is measured with the same client, and
every endpoint's 2xx throughput is reported as a ratio to it.

Scenarios:
  join     fans join a waiting room that barely admits, then poll it
  browse   admitted fans list dates, then read seat maps
  hold     admitted fans hold seats nobody else wants; then (hot-seat
           phase, --hot-seats) all of them want the same few seats
  pay      admitted fans pay their holds
  onsale   a whole sale: fans join in the first second, wait, choose, hold,
           retry, abandon, let holds lapse or pay; the invariants are then
           checked through the API; with --robust the fans ride out faults
           (see docs/benchmarks.md, "Fault drill")

The server must run with BOXOFFICE_RATE_LIMIT=0 and BOXOFFICE_SIGNUP_LIMIT=0 (or trust the load
generator's proxy). Exit status is 1 when a check fails or any request was
answered 5xx.

Flags:
`

// loadtestCommand runs `boxoffice loadtest`: it parses args, runs the
// scenario, prints the table on stdout and writes the JSON result and plots.
func loadtestCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := loadtest.DefaultOptions()
	fs := newLoadtestFlags(&o, stderr)
	if err := fs.parse(&o, args); err != nil {
		return err
	}
	o.Progress, o.Terminal = stderr, isTerminal(stderr)
	if *fs.redisURL != "" {
		c, err := redis.Open(ctx, *fs.redisURL)
		if err != nil {
			return fmt.Errorf("loadtest: %w", err)
		}
		defer c.Close()
		o.RoomBytes = func(ctx context.Context, concertID string) (int64, error) {
			return redis.RoomBytes(ctx, c, concertID)
		}
	}

	res, err := loadtest.Run(ctx, o)
	if err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	if err := res.WriteTable(stdout); err != nil {
		return err
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, "WARNING:", w)
	}
	if err := fs.write(res, o, stderr); err != nil {
		return err
	}
	if !res.Passed {
		var failed []string
		for _, c := range res.Checks {
			if !c.OK {
				failed = append(failed, c.Name)
			}
		}
		return fmt.Errorf("loadtest %s failed: %s", o.Scenario, strings.Join(failed, "; "))
	}
	return nil
}

// loadtestFlags are the flags of `boxoffice loadtest`: those of the options
// are set on them, the rest are here.
type loadtestFlags struct {
	*flag.FlagSet
	targets, out, svgDir, redisURL *string
}

// newLoadtestFlags defines the flags of `boxoffice loadtest` over o.
func newLoadtestFlags(o *loadtest.Options, stderr io.Writer) *loadtestFlags {
	fs := newFlagSet("boxoffice loadtest", loadtestUsage, stderr)
	f := &loadtestFlags{FlagSet: fs}
	f.targets = fs.String("target", "http://127.0.0.1:8080", "base URLs of the deployment's instances, comma-separated")
	f.out = fs.String("out", "", "JSON result file (default loadtest-<scenario>-<time>.json)")
	f.svgDir = fs.String("svg-dir", "", "directory for timeline.svg and latency.svg (none when empty)")
	fs.StringVar(&o.AdminKey, "admin-key", os.Getenv("BOXOFFICE_ADMIN_KEY"), "the server's admin key ($BOXOFFICE_ADMIN_KEY)")
	fs.IntVar(&o.Connections, "connections", o.Connections, "concurrent connections over all targets (closed-loop workers of the measured phases)")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "length of each measured phase")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "unrecorded warmup before each measured phase")
	fs.DurationVar(&o.Pause, "pause", 0, "wait after the set-up before each measured phase, for the server's background work on the set-up (its events) to end")
	fs.IntVar(&o.Runs, "runs", o.Runs, "rounds of a measured scenario; targets are judged on the median")
	fs.BoolVar(&o.NoCeiling, "no-ceiling", false, "do not measure the bare handler")
	fs.Func("metrics", "the servers' /metrics URLs, comma-separated, read around each measured phase to report their batches of "+
		"gathered writes (default: each target's /metrics)", func(v string) error {
		for u := range strings.SplitSeq(v, ",") {
			if u = strings.TrimSpace(u); u != "" {
				o.MetricsURLs = append(o.MetricsURLs, u)
			}
		}
		return nil
	})
	fs.DurationVar(&o.RequestTimeout, "request-timeout", o.RequestTimeout, "bound of each request")
	fs.IntVar(&o.Fans, "fans", 0, fmt.Sprintf("fans of the onsale (default %d); fans prepared for join and pay (default: sized from a short probe)", loadtest.OnsaleFans))
	fs.IntVar(&o.Dates, "dates", o.Dates, "dates of the browse and onsale concerts, 50 seats each")
	fs.IntVar(&o.HotSeats, "hot-seats", o.HotSeats, "hold: seats every fan of the hot-seat phase wants (0 = no such phase)")
	fs.IntVar(&o.HoldSeconds, "hold-seconds", o.HoldSeconds, "how long an onsale hold lasts")
	fs.StringVar(&o.Strategy, "strategy", o.Strategy, "onsale waiting room: RATE, MAX_ACTIVE or RATE_AND_MAX_ACTIVE")
	fs.Float64Var(&o.AdmitPerSecond, "admit-per-second", o.AdmitPerSecond, "onsale admissions per second (RATE strategies)")
	fs.Int64Var(&o.MaxActive, "max-active", o.MaxActive, "onsale admitted sessions alive at once (MAX_ACTIVE strategies)")
	fs.IntVar(&o.SessionSeconds, "session-seconds", o.SessionSeconds, "onsale: an admitted session ends after this long unused")
	fs.Float64Var(&o.Abandon, "abandon", o.Abandon, "fraction of onsale fans who leave, waiting or admitted")
	fs.Float64Var(&o.Lapse, "lapse", o.Lapse, "fraction of onsale fans who hold seats and let the hold lapse")
	fs.Float64Var(&o.Hoard, "hoard", 0, "fraction of onsale fans who are scripted hoarders: a second event stream while waiting, "+
		"then a hold let go (lapsed or cancelled) and tried again at once; each must be refused")
	fs.Float64Var(&o.Pay, "pay", o.Pay, "fraction of onsale fans who pay (default: the rest)")
	fs.DurationVar(&o.JoinWindow, "join-window", o.JoinWindow, "onsale fans all join within this long of the opening")
	fs.DurationVar(&o.Think, "think", o.Think, "longest pause of an onsale fan between steps")
	fs.BoolVar(&o.Stream, "stream", false, "onsale fans wait on the queue's event stream instead of polling")
	fs.Int64Var(&o.ProofOfWork, "proof-of-work", 0, "onsale room's proofOfWork (0 = off, else 1000..10000000): each fan solves a challenge "+
		"of this maxnumber before joining, about half of it in SHA-256 hashes on this machine's cores")
	fs.DurationVar(&o.Timeout, "sale-timeout", o.Timeout, "longest onsale, from the opening")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the fans' choices")
	fs.Func("room-size", "join: fill one room with this many fans through the API before measuring joins and polls in it; "+
		"several sizes, comma-separated, are measured in turn (--runs rounds each) and plotted in room-size.svg (--svg-dir)", func(v string) error {
		for f := range strings.SplitSeq(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				return fmt.Errorf("room size %q: want a positive number", f)
			}
			o.RoomSizes = append(o.RoomSizes, n)
		}
		return nil
	})
	f.redisURL = fs.String("redis-url", "", "join: the deployment's Redis, to report its room's bytes per waiting fan (MEMORY USAGE over the room's keys)")
	fs.DurationVar(&o.Prequeue, "prequeue", 0, "onsale fans start joining this long before the opening (those joining before it are in its draw)")
	fs.BoolVar(&o.Robust, "robust", false, "onsale fans retry 503s and unanswered requests with backoff, move to another target, "+
		"and count rejoins and lost holds; 5xx are then allowed inside fault windows only")
	fs.Func("fault", "a fault window NAME=START,END (RFC 3339 times) in the onsale report (repeatable)", func(v string) error {
		f, err := loadtest.ParseFault(v)
		if err == nil {
			o.Faults = append(o.Faults, f)
		}
		return err
	})
	fs.StringVar(&o.FaultsFile, "faults", "", "JSON file of fault windows [{\"name\",\"start\",\"end\"}], read when the onsale has been read back")
	fs.DurationVar(&o.FaultGrace, "fault-grace", o.FaultGrace, "5xx answers allowed this long after each fault window")
	return f
}

// parse parses args into o: the scenario, the flags, and the targets.
func (fs *loadtestFlags) parse(o *loadtest.Options, args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		o.Scenario, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	payGiven := false
	fs.Visit(func(f *flag.Flag) { payGiven = payGiven || f.Name == "pay" })
	if !payGiven {
		o.Pay = 1 - o.Abandon - o.Lapse - o.Hoard
	}
	if o.Scenario == "" && fs.NArg() > 0 {
		o.Scenario = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return fmt.Errorf("loadtest: unexpected argument %q", fs.Arg(0))
	}
	if o.Scenario == "" {
		fs.Usage()
		return fmt.Errorf("loadtest: name a scenario: %s", strings.Join(loadtest.Scenarios, ", "))
	}
	for _, t := range strings.Split(*fs.targets, ",") {
		if t = strings.TrimRight(strings.TrimSpace(t), "/"); t != "" {
			o.Targets = append(o.Targets, t)
		}
	}
	return nil
}

// write writes the JSON result of res, and its plots when --svg-dir is set.
func (fs *loadtestFlags) write(res *loadtest.Result, o loadtest.Options, stderr io.Writer) error {
	path := *fs.out
	if path == "" {
		path = fmt.Sprintf("loadtest-%s-%s.json", o.Scenario, res.StartedAt.Local().Format("20060102-150405"))
	}
	if err := writeFile(path, res.WriteJSON); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "result written to", path)
	if *fs.svgDir != "" {
		if err := os.MkdirAll(*fs.svgDir, 0o755); err != nil {
			return err
		}
		plots := map[string]func(io.Writer) error{"latency.svg": res.WriteLatencySVG}
		if len(o.RoomSizes) > 1 {
			plots["room-size.svg"] = res.WriteRoomSizeSVG
		}
		if res.Onsale != nil {
			plots["timeline.svg"] = res.WriteTimelineSVG
		}
		if res.Onsale != nil && len(res.Onsale.StatusTimeline) > 0 {
			plots["status.svg"] = res.WriteStatusSVG
		}
		for name, write := range plots {
			p := filepath.Join(*fs.svgDir, name)
			if err := writeFile(p, write); err != nil {
				return err
			}
			fmt.Fprintln(stderr, "plot written to", p)
		}
	}
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
