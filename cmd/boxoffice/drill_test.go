package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/internal/testserver"
	"github.com/boxoffice/boxoffice/loadtest"
)

// The fault drill: an on-sale of robust fans against three instances of the
// real binary behind haproxy, on a PostgreSQL and a Redis of the test's
// own, while one instance is killed, Redis is restarted empty and
// PostgreSQL is restarted. See docs/benchmarks.md, "Fault drill".
//
// BOXOFFICE_DRILL=full runs the long drill; BOXOFFICE_DRILL_OUT keeps its
// results (the loadtest's JSON, summary and plots, and drill.json) in a
// directory; BOXOFFICE_DRILL_FAULTS picks some of the faults (a comma list
// of kill, redis and postgres; all by default).

// drillPlan is the size of a drill and its faults' timeline, in time from
// the opening.
type drillPlan struct {
	fans, dates, connections int
	admitPerSecond           float64
	maxActive                int64
	holdSeconds              int
	// prequeue: the fans who join in this part of the 3 s join window
	// join before the opening and are in its draw, the auditor among them.
	// The draw is kept to about 200 fans, fewer than the sale admits
	// before its seats run out, so that the auditor, wherever the draw
	// puts it, is admitted and can read the seat maps afterwards.
	prequeue time.Duration
	// killAt: one instance gets kill -9; a replacement starts killFor later.
	killAt, killFor time.Duration
	// redisAt: Redis is killed and a fresh, empty one starts redisFor later.
	redisAt, redisFor time.Duration
	// postgresAt: PostgreSQL is stopped (fast shutdown) and started again
	// postgresFor later.
	postgresAt, postgresFor time.Duration
	saleTimeout             time.Duration
}

var (
	shortDrill = drillPlan{
		fans: 2000, dates: 10, connections: 300, admitPerSecond: 15, maxActive: 200, holdSeconds: 10,
		prequeue: 300 * time.Millisecond,
		killAt:   4 * time.Second, killFor: 3 * time.Second,
		redisAt: 11 * time.Second, redisFor: time.Second,
		postgresAt: 18 * time.Second, postgresFor: time.Second,
		saleTimeout: 2 * time.Minute,
	}
	fullDrill = drillPlan{
		fans: 20000, dates: 20, connections: 600, admitPerSecond: 25, maxActive: 500, holdSeconds: 10,
		prequeue: 30 * time.Millisecond,
		killAt:   10 * time.Second, killFor: 5 * time.Second,
		redisAt: 25 * time.Second, redisFor: 2 * time.Second,
		postgresAt: 40 * time.Second, postgresFor: 2 * time.Second,
		saleTimeout: 5 * time.Minute,
	}
)

// Limits the drill checks.
const (
	// readyWithin bounds the time from a fault's repair (the service, or
	// the replacement instance, started again) to each instance's
	// /readyz answering 200.
	readyWithin = 10 * time.Second
	// drillGrace is how long after a fault's window (until every instance
	// was ready again) 503s are still allowed: requests in flight, a
	// Retry-After of a second, and haproxy's next health check.
	drillGrace = 2 * time.Second
)

// TestFaultDrill runs the fault drill. It needs PostgreSQL's and Redis's
// binaries and haproxy; without them it skips, unless CI=true.
func TestFaultDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault drill takes a minute or more")
	}
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("haproxy is not installed: %v", err)
		}
		t.Skipf("haproxy is not installed (%v); the drill fails instead of skipping when CI=true", err)
	}
	plan := shortDrill
	if os.Getenv("BOXOFFICE_DRILL") == "full" {
		plan = fullDrill
	}
	inject := map[string]bool{"kill": true, "redis": true, "postgres": true}
	if v := os.Getenv("BOXOFFICE_DRILL_FAULTS"); v != "" {
		inject = map[string]bool{}
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "kill" && f != "redis" && f != "postgres" {
				t.Fatalf("BOXOFFICE_DRILL_FAULTS: unknown fault %q; want kill, redis or postgres", f)
			}
			inject[f] = true
		}
	}
	out := os.Getenv("BOXOFFICE_DRILL_OUT")
	if out == "" {
		out = t.TempDir()
	} else if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}

	pg := testserver.StartPostgres(t)
	rd := testserver.StartRedis(t)
	work := t.TempDir()
	bin := buildBoxoffice(t, work)

	d := &drill{t: t, bin: bin, work: work, env: []string{
		"BOXOFFICE_DATABASE_URL=" + pg.URL() + "&pool_max_conns=20",
		"BOXOFFICE_REDIS_URL=" + rd.URL(),
		"BOXOFFICE_ADMIN_KEY=drill-admin-key-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		"BOXOFFICE_SECRET=drill-secret-0123456789abcdef",
		"BOXOFFICE_DEMO=false",
		"BOXOFFICE_RATE_LIMIT=0",
		"BOXOFFICE_SIGNUP_LIMIT=1000000",
		"BOXOFFICE_TRUSTED_PROXIES=127.0.0.1/32",
		"BOXOFFICE_LOG_LEVEL=warn",
	}}
	// The first instance migrates alone.
	for i := range 3 {
		d.instances = append(d.instances, &instance{name: fmt.Sprintf("instance %d", i+1), port: freePort(t)})
	}
	for _, in := range d.instances {
		d.start(in)
		if err := waitReady(in.url(), 30*time.Second); err != nil {
			t.Fatalf("%s: %v\n%s", in.name, err, in.logTail())
		}
	}
	lb := d.startHaproxy(haproxy)
	t.Logf("3 instances behind haproxy at %s; PostgreSQL %s, Redis %s; results in %s", lb, pg.URL(), rd.URL(), out)

	ctx, cancel := context.WithTimeout(context.Background(), plan.saleTimeout+5*time.Minute)
	defer cancel()
	faultsFile := filepath.Join(work, "faults.json")
	targets := []string{lb}
	for _, in := range d.instances {
		targets = append(targets, in.url())
	}
	args := []string{"loadtest", "onsale", "--robust", "--no-ceiling",
		"--target", strings.Join(targets, ","), "--admin-key", d.adminKey(),
		"--fans", strconv.Itoa(plan.fans), "--dates", strconv.Itoa(plan.dates),
		"--connections", strconv.Itoa(plan.connections),
		"--strategy", "RATE_AND_MAX_ACTIVE", "--admit-per-second", fmt.Sprint(plan.admitPerSecond),
		"--max-active", strconv.FormatInt(plan.maxActive, 10), "--hold-seconds", strconv.Itoa(plan.holdSeconds),
		"--prequeue", plan.prequeue.String(), "--join-window", "3s", "--request-timeout", "10s",
		"--sale-timeout", plan.saleTimeout.String(),
		"--faults", faultsFile, "--fault-grace", drillGrace.String(),
		"--out", filepath.Join(out, "onsale.json"), "--svg-dir", out,
	}
	lt := exec.CommandContext(ctx, bin, args...)
	summary, err := os.Create(filepath.Join(out, "onsale.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer summary.Close()
	ltLog, err := os.Create(filepath.Join(work, "loadtest.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer ltLog.Close()
	lt.Stdout, lt.Stderr = summary, ltLog
	if err := lt.Start(); err != nil {
		t.Fatalf("loadtest: %v", err)
	}
	ltDone := make(chan error, 1)
	go func() { ltDone <- lt.Wait() }()

	// The loadtest creates the concert; the drill's database has no other.
	api := boxhttp.NewClient(lb, &nethttp.Client{Timeout: 5 * time.Second})
	concert, err := d.findConcert(ctx, api, ltDone)
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(filepath.Join(work, "loadtest.log")))
	}
	opens := concert.SalesOpenAt
	t.Logf("concert %s opens at %s", concert.ConcertID, opens.Format(time.RFC3339Nano))
	before, err := drawnLottery(ctx, api, concert.ConcertID, opens.Add(plan.killAt))
	if err != nil {
		t.Errorf("lottery before the faults: %v", err)
	}

	// The faults, on their timeline from the opening.
	var faults []loadtest.Fault
	var readiness []readyTimes
	record := func(name string, start time.Time, ready readyTimes) {
		t.Helper()
		end := start
		for _, r := range ready.ready {
			if r.after(start).After(end) {
				end = r.after(start)
			}
		}
		faults = append(faults, loadtest.Fault{Name: name, Start: start, End: end})
		readiness = append(readiness, ready)
		if err := loadtest.WriteFaults(faultsFile, faults); err != nil {
			t.Errorf("faults file: %v", err)
		}
		t.Logf("%s: %.1f s to %.1f s from the opening", name, start.Sub(opens).Seconds(), end.Sub(opens).Seconds())
	}
	fault := func(name string, at, down time.Duration, stop, start func()) {
		sleepUntil(ctx, opens.Add(at))
		began := time.Now()
		stop()
		time.Sleep(down)
		start()
		record(name, began, d.measureReady(name, began, time.Now()))
	}
	if victim := d.instances[1]; inject["kill"] {
		// The replacement's readiness counts from its start.
		fault("kill -9 "+victim.name, plan.killAt, plan.killFor, func() { d.kill(victim) }, func() { d.start(victim) })
	}
	if inject["redis"] {
		// Nothing is kept: the new Redis starts empty.
		fault("Redis restarted empty", plan.redisAt, plan.redisFor, rd.Kill, rd.Start)
	}
	if inject["postgres"] {
		fault("PostgreSQL restarted", plan.postgresAt, plan.postgresFor, pg.Stop, pg.Start)
	}

	var ltErr error
	select {
	case ltErr = <-ltDone:
		t.Errorf("the sale and its read-back were over before the last fault was: lengthen the sale or move the faults earlier")
	default:
		ltErr = <-ltDone
	}
	b, err := os.ReadFile(filepath.Join(out, "onsale.json"))
	if err != nil {
		t.Fatalf("loadtest (%v) wrote no result: %v\n%s", ltErr, err, tail(filepath.Join(work, "loadtest.log")))
	}
	var res loadtest.Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("loadtest result: %v", err)
	}
	if res.Onsale == nil {
		t.Fatalf("loadtest result without an on-sale")
	}
	after, err := lotteryNow(ctx, api, concert.ConcertID)
	if err != nil {
		t.Errorf("lottery after the faults: %v", err)
	}

	checks := slices.Clone(res.Checks)
	checks = append(checks, readyCheck(readiness, readyWithin), lotteryCheck(before, after))
	report := drillReport{
		Fans: res.Onsale.Fans, Seats: res.Onsale.Seats, OpensAt: opens, Faults: res.Onsale.Faults,
		Readiness: readiness, Checks: checks,
	}
	writeJSON(t, filepath.Join(out, "drill.json"), report)
	text := report.String() + "\n" + readFile(filepath.Join(out, "onsale.txt"))
	if err := os.WriteFile(filepath.Join(out, "drill.txt"), []byte(text), 0o644); err != nil {
		t.Error(err)
	}
	t.Log("\n" + text)
	for _, c := range checks {
		if !c.OK {
			t.Errorf("check %q failed: %s", c.Name, c.Detail)
		}
	}
	for _, in := range d.instances {
		if t.Failed() {
			t.Logf("%s log:\n%s", in.name, in.logTail())
		}
	}
}

// drill is the deployment under drill.
type drill struct {
	t         *testing.T
	bin, work string
	env       []string
	instances []*instance
}

// instance is one Boxoffice process, or its replacement.
type instance struct {
	name string
	port int
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (in *instance) url() string { return fmt.Sprintf("http://127.0.0.1:%d", in.port) }

func (in *instance) logTail() string { return tail(in.log) }

func (d *drill) adminKey() string {
	for _, kv := range d.env {
		if k, v, _ := strings.Cut(kv, "="); k == "BOXOFFICE_ADMIN_KEY" {
			return v
		}
	}
	return ""
}

// start starts in's process (again); it is killed when the test ends.
func (d *drill) start(in *instance) {
	d.t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	in.log = filepath.Join(d.work, strings.ReplaceAll(in.name, " ", "-")+".log")
	logf, err := os.OpenFile(in.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		d.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(d.bin, "serve")
	cmd.Env = append(os.Environ(), d.env...)
	cmd.Env = append(cmd.Env, fmt.Sprintf("BOXOFFICE_ADDR=127.0.0.1:%d", in.port))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("%s: %v", in.name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	in.cmd, in.done = cmd, done
	d.t.Cleanup(func() { d.stop(in, cmd, done) })
}

// stop ends one process of in, gracefully if it can.
func (d *drill) stop(in *instance, cmd *exec.Cmd, done chan struct{}) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// kill sends SIGKILL to in's process and waits until it has gone.
func (d *drill) kill(in *instance) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.cmd.Process.Kill()
	<-in.done
}

// startHaproxy starts haproxy in front of the instances and returns its URL.
func (d *drill) startHaproxy(bin string) string {
	d.t.Helper()
	port := freePort(d.t)
	var servers strings.Builder
	for i, in := range d.instances {
		fmt.Fprintf(&servers, "    server b%d 127.0.0.1:%d check inter 250ms fall 2 rise 1\n", i+1, in.port)
	}
	cfg := fmt.Sprintf(`global
    maxconn 4000

defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 30s
    retries 3
    option redispatch
    option http-keep-alive
    option forwardfor

frontend boxoffice
    bind 127.0.0.1:%d
    default_backend instances

backend instances
    balance roundrobin
    option httpchk GET /readyz
%s`, port, servers.String())
	path := filepath.Join(d.work, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		d.t.Fatal(err)
	}
	lb := &instance{name: "haproxy", port: port}
	logf, err := os.Create(filepath.Join(d.work, "haproxy.log"))
	if err != nil {
		d.t.Fatal(err)
	}
	defer logf.Close()
	lb.log = logf.Name()
	cmd := exec.Command(bin, "-db", "-f", path)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("haproxy: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	d.t.Cleanup(func() { d.stop(lb, cmd, done) })
	if err := waitReady(lb.url(), 10*time.Second); err != nil {
		d.t.Fatalf("haproxy: %v\n%s", err, lb.logTail())
	}
	return lb.url()
}

// findConcert waits for the loadtest's concert.
func (d *drill) findConcert(ctx context.Context, api *boxhttp.Client, ltDone chan error) (boxhttp.ConcertSummary, error) {
	for {
		l, err := api.Concerts(ctx)
		if err == nil && len(l.Concerts) > 0 {
			return l.Concerts[0], nil
		}
		select {
		case err := <-ltDone:
			ltDone <- err
			return boxhttp.ConcertSummary{}, fmt.Errorf("the loadtest ended (%v) before its concert was seen", err)
		case <-ctx.Done():
			return boxhttp.ConcertSummary{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readyTimes is how long each instance took to answer /readyz 200 after a
// fault was repaired.
type readyTimes struct {
	Fault    string       `json:"fault"`
	Repaired time.Time    `json:"repaired"`
	ready    []readyAt    // by instance
	Seconds  []readyEntry `json:"instances"`
}

type readyAt struct {
	name string
	at   time.Time // zero when never ready
}

// after is when the instance was ready, or the end of the wait when it was not.
func (r readyAt) after(start time.Time) time.Time {
	if r.at.IsZero() {
		return start.Add(readyWithin + 20*time.Second)
	}
	return r.at
}

type readyEntry struct {
	Instance string  `json:"instance"`
	Seconds  float64 `json:"secondsToReady"` // -1: not ready in time
}

// measureReady polls every instance's /readyz from repaired until each
// answers 200, for up to readyWithin plus 20 s.
func (d *drill) measureReady(fault string, start, repaired time.Time) readyTimes {
	rt := readyTimes{Fault: fault, Repaired: repaired}
	var wg sync.WaitGroup
	rt.ready = make([]readyAt, len(d.instances))
	for i, in := range d.instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt.ready[i].name = in.name
			deadline := repaired.Add(readyWithin + 20*time.Second)
			for time.Now().Before(deadline) {
				if readyz(in.url()) == nil {
					rt.ready[i].at = time.Now()
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	for _, r := range rt.ready {
		s := -1.0
		if !r.at.IsZero() {
			s = r.at.Sub(repaired).Seconds()
		}
		rt.Seconds = append(rt.Seconds, readyEntry{Instance: r.name, Seconds: s})
	}
	return rt
}

// readyCheck checks that every instance was ready within limit of every
// fault's repair.
func readyCheck(rs []readyTimes, limit time.Duration) loadtest.Check {
	ok := len(rs) > 0
	var parts []string
	for _, r := range rs {
		var worst float64
		for _, e := range r.Seconds {
			if e.Seconds < 0 || e.Seconds > limit.Seconds() {
				ok = false
				worst = -1
			}
			if worst >= 0 {
				worst = max(worst, e.Seconds)
			}
		}
		w := fmt.Sprintf("%.2f s", worst)
		if worst < 0 {
			w = "NOT READY in time"
		}
		parts = append(parts, fmt.Sprintf("%s: slowest %s", r.Fault, w))
	}
	if len(rs) == 0 {
		parts = append(parts, "no fault measured")
	}
	return loadtest.Check{
		Name: fmt.Sprintf("every instance ready within %.0f s of each fault", limit.Seconds()), OK: ok,
		Detail: strings.Join(parts, "; "),
	}
}

// lotteryCheck checks that the draw's publication after the faults is the
// one made at the opening, and that it verifies.
func lotteryCheck(before, after *boxhttp.Lottery) loadtest.Check {
	c := loadtest.Check{Name: "lottery publication unchanged"}
	switch {
	case before == nil:
		c.Detail = "the draw was not published before the faults"
	case after == nil:
		c.Detail = "the publication could not be read after the faults"
	case before.Commitment != after.Commitment:
		c.Detail = fmt.Sprintf("the commitment changed from %s to %s", before.Commitment, after.Commitment)
	case after.Seed == nil || *before.Seed != *after.Seed:
		c.Detail = fmt.Sprintf("the seed changed from %s to %s", *before.Seed, deref(after.Seed))
	case !reflect.DeepEqual(before.Entries, after.Entries):
		c.Detail = fmt.Sprintf("the draw order changed: %d entries before, %d after, %d at a different place",
			len(before.Entries), len(after.Entries), moved(before.Entries, after.Entries))
	default:
		if err := verifyLottery(io.Discard, *after, nil); err != nil {
			c.Detail = fmt.Sprintf("same publication, but it does not verify: %v", err)
			return c
		}
		c.OK = true
		c.Detail = fmt.Sprintf("commitment, seed and the order of %d entries as published at the opening; it verifies", len(after.Entries))
	}
	return c
}

func deref(s *string) string {
	if s == nil {
		return "none"
	}
	return *s
}

// moved counts entries of a whose place in b differs or that b lacks.
func moved(a, b []boxhttp.LotteryEntry) int {
	pos := make(map[string]int64, len(b))
	for _, e := range b {
		pos[e.Entry] = e.Position
	}
	n := 0
	for _, e := range a {
		if p, ok := pos[e.Entry]; !ok || p != e.Position {
			n++
		}
	}
	return n
}

// drawnLottery waits until the concert's draw is published, until by.
func drawnLottery(ctx context.Context, api *boxhttp.Client, concertID string, by time.Time) (*boxhttp.Lottery, error) {
	for {
		l, err := api.Lottery(ctx, concertID)
		if err == nil && l.Seed != nil && l.Entries != nil {
			return &l, nil
		}
		if time.Now().After(by) {
			if err == nil {
				err = errors.New("the draw was not made yet")
			}
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lotteryNow reads the publication, trying for a while.
func lotteryNow(ctx context.Context, api *boxhttp.Client, concertID string) (*boxhttp.Lottery, error) {
	var err error
	for range 20 {
		var l boxhttp.Lottery
		if l, err = api.Lottery(ctx, concertID); err == nil {
			return &l, nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return nil, err
}

// drillReport is what the drill writes to drill.json and drill.txt.
type drillReport struct {
	Fans      int                    `json:"fans"`
	Seats     int                    `json:"seats"`
	OpensAt   time.Time              `json:"opensAt"`
	Faults    []loadtest.FaultWindow `json:"faults"`
	Readiness []readyTimes           `json:"readiness"`
	Checks    []loadtest.Check       `json:"checks"`
}

func (r drillReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fault drill: %d fans, %d seats, 3 instances behind haproxy, opening %s\n", r.Fans, r.Seats, r.OpensAt.UTC().Format(time.RFC3339))
	for i, f := range r.Faults {
		fmt.Fprintf(&b, "  %-28s %6.1f s to %6.1f s from the opening", f.Name, f.StartS, f.EndS)
		if i < len(r.Readiness) {
			var ts []string
			for _, e := range r.Readiness[i].Seconds {
				s := fmt.Sprintf("%.2f s", e.Seconds)
				if e.Seconds < 0 {
					s = "never"
				}
				ts = append(ts, e.Instance+" "+s)
			}
			fmt.Fprintf(&b, "; ready after repair: %s", strings.Join(ts, ", "))
		}
		b.WriteString("\n")
	}
	b.WriteString("checks\n")
	loadtest.WriteChecks(&b, r.Checks)
	return b.String()
}

// buildBoxoffice builds the binary of this package into dir.
func buildBoxoffice(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "boxoffice")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var readyClient = &nethttp.Client{Timeout: time.Second}

func readyz(base string) error {
	resp, err := readyClient.Get(base + "/readyz")
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != nethttp.StatusOK {
		return fmt.Errorf("/readyz answered %d", resp.StatusCode)
	}
	return nil
}

func waitReady(base string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		err := readyz(base)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func sleepUntil(ctx context.Context, at time.Time) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(at)):
	}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// tail is the end of a log file.
func tail(path string) string {
	b := readFile(path)
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return b
}

func writeJSON(t *testing.T, path string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Error(err)
	}
}
