package loadtest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// loop is one closed-loop worker of a measured phase: it sends a request,
// waits for the answer, and sends the next.
type loop interface {
	// next returns the next request and its route, or nil when the work
	// has run out.
	next() (route, *rawRequest)
	// done sees the answer; status is 0 when none came. body is only valid
	// during the call.
	done(status int, body []byte, err error)
}

// stretch runs loops for settle without recording, then records their
// requests on rec for up to length. It returns the time recorded, which is
// shorter when the work ran out.
func (e *engine) stretch(ctx context.Context, rec *Recorder, loops []loop, settle, length time.Duration) (time.Duration, bool) {
	var (
		stop        atomic.Bool
		exhaustedAt atomic.Int64
		wg          sync.WaitGroup
	)
	t0 := time.Now().Add(settle)
	t1 := t0.Add(length)
	for w, l := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.conn(w)
			buf := make([]byte, 0, 8<<10)
			for !stop.Load() && ctx.Err() == nil {
				rt, req := l.next()
				if req == nil {
					exhaustedAt.CompareAndSwap(0, time.Now().UnixNano())
					stop.Store(true)
					return
				}
				s := time.Now()
				if !s.Before(t1) {
					return
				}
				status, body, err := c.send(req, buf)
				d := time.Since(s)
				if !s.Before(t0) {
					var code []byte
					switch {
					case err != nil:
						code = failureCode(err)
					case status >= 300:
						code = problemCode(body)
					}
					rec.observe(rt, d, status, code)
				}
				l.done(status, body, err)
				buf = body[:0]
			}
		}()
	}
	wg.Wait()
	end := t1
	ns := exhaustedAt.Load()
	if ns != 0 && ns < t1.UnixNano() {
		end = time.Unix(0, ns)
	}
	if now := time.Now(); ctx.Err() != nil && now.Before(end) {
		end = now
	}
	return max(end.Sub(t0), 0), ns != 0
}

// Stretches of a phase and its bare handler alternate about this often.
const (
	stretchLength = 2 * time.Second
	settle        = 250 * time.Millisecond
)

// stretches is the number of stretches a phase measured alongside the bare
// handler is cut into.
func (e *engine) stretches() int {
	return max(1, int((e.opts.Duration+stretchLength/2)/stretchLength))
}

// measure runs the phase name on Connections closed loops: Warmup, then
// Duration recorded. With ceiling, the bare handler is measured too, in
// stretches alternating with the phase's every two seconds or so, so that
// both see the same machine; its Phase is returned first. A phase whose work
// runs out ends early and is measured up to that instant.
func (e *engine) measure(ctx context.Context, name string, withCeiling bool, newLoop func(w int) loop) ([]Phase, error) {
	loops := make([]loop, e.opts.Connections)
	for w := range loops {
		loops[w] = newLoop(w)
	}
	p := &stretched{name: name, rec: e.track(newRecorder()), loops: loops}
	parts := []*stretched{p}
	k := 1
	if withCeiling {
		c, err := e.ceilingLoops()
		if err != nil {
			return nil, err
		}
		parts = []*stretched{{name: "ceiling", rec: e.track(newRecorder()), loops: c}, p}
		k = e.stretches()
	}
	length := e.opts.Duration / time.Duration(k)
	total := time.Duration(len(parts)) * (e.opts.Warmup + e.opts.Duration)
	stopProgress := startProgress(e.opts.Progress, e.opts.Terminal, func(el time.Duration) string {
		line := fmt.Sprintf("%-8s %s %5.1fs/%.0fs  %s req", name, bar(el.Seconds()/total.Seconds(), 20),
			min(el, total).Seconds(), total.Seconds(), count(p.rec.requests()))
		if r := p.rate(); r > 0 {
			line += fmt.Sprintf("  %s req/s", count(int64(r)))
		}
		if withCeiling {
			line += fmt.Sprintf("  (bare handler %s req/s)", count(int64(parts[0].rate())))
		}
		return line + fmt.Sprintf("  non-2xx %s  5xx %s", count(p.rec.countStatus(0, 199)+p.rec.countStatus(300, 599)), count(p.rec.countStatus(500, 599)))
	})
	defer stopProgress()
	for i := 0; i < k && !p.exhausted && ctx.Err() == nil; i++ {
		for _, part := range parts {
			warm := settle
			if i == 0 {
				warm = max(e.opts.Warmup, settle)
			}
			d, exhausted := e.stretch(ctx, part.rec, part.loops, warm, length)
			part.add(d, exhausted && part == p)
			if p.exhausted || ctx.Err() != nil {
				break
			}
		}
	}
	out := make([]Phase, len(parts))
	for i, part := range parts {
		out[i] = part.phase(e.opts.Duration, ctx.Err() != nil)
	}
	return out, nil
}

// stretched is a phase measured in stretches.
type stretched struct {
	name      string
	rec       *Recorder
	loops     []loop
	mu        sync.Mutex
	elapsed   time.Duration // recorded so far
	requests  int64         // recorded by the end of the last stretch
	exhausted bool
}

func (s *stretched) add(d time.Duration, exhausted bool) {
	n := s.rec.requests()
	s.mu.Lock()
	s.elapsed += d
	s.requests = n
	s.exhausted = s.exhausted || exhausted
	s.mu.Unlock()
}

// rate is the requests per second of the stretches done so far.
func (s *stretched) rate() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.requests) / s.elapsed.Seconds()
}

func (s *stretched) phase(duration time.Duration, interrupted bool) Phase {
	p := Phase{Name: s.name, Seconds: s.elapsed.Seconds(), Endpoints: s.rec.summary(s.elapsed)}
	switch {
	case interrupted:
		p.Note = "interrupted"
	case s.elapsed <= 0 && s.exhausted:
		p.Note = "work ran out during the warmup: nothing was measured; give more fans or a shorter warmup"
	case s.exhausted && s.elapsed < duration*99/100:
		p.Note = fmt.Sprintf("work ran out after %.1fs of %.0fs measured; figures cover that time", s.elapsed.Seconds(), duration.Seconds())
	}
	for _, ep := range p.Endpoints {
		p.Requests += ep.Requests
	}
	if s.elapsed > 0 {
		p.RPS = float64(p.Requests) / s.elapsed.Seconds()
	}
	return p
}

// ceilingLoop asks for /healthz, the bare handler.
type ceilingLoop struct{ req *rawRequest }

func (l ceilingLoop) next() (route, *rawRequest) { return routeHealthz, l.req }
func (ceilingLoop) done(int, []byte, error)      {}

// ceilingLoops are one /healthz loop per connection, spread over the
// targets.
func (e *engine) ceilingLoops() ([]loop, error) {
	reqs := make([]*rawRequest, len(e.opts.Targets))
	for i, t := range e.opts.Targets {
		r, err := newRawRequest("GET", t, "/healthz", nil, nil)
		if err != nil {
			return nil, err
		}
		reqs[i] = r
	}
	loops := make([]loop, e.opts.Connections)
	for w := range loops {
		loops[w] = ceilingLoop{req: reqs[w%len(reqs)]}
	}
	return loops, nil
}

// ceiling measures the bare handler alone for warmup and then duration.
func (e *engine) ceiling(ctx context.Context, warmup, duration time.Duration) (Phase, error) {
	loops, err := e.ceilingLoops()
	if err != nil {
		return Phase{}, err
	}
	s := &stretched{name: "ceiling", rec: e.track(newRecorder()), loops: loops}
	stop := startProgress(e.opts.Progress, e.opts.Terminal, func(el time.Duration) string {
		total := warmup + duration
		return fmt.Sprintf("%-8s %s %5.1fs/%.0fs  %s req", "ceiling", bar(el.Seconds()/total.Seconds(), 20),
			min(el, total).Seconds(), total.Seconds(), count(s.rec.requests()))
	})
	d, _ := e.stretch(ctx, s.rec, loops, warmup, duration)
	stop()
	s.add(d, false)
	return s.phase(duration, ctx.Err() != nil), nil
}

// probe estimates the bare handler's requests per second in a second, to
// size the work of a phase.
func (e *engine) probe(ctx context.Context) (float64, error) {
	loops, err := e.ceilingLoops()
	if err != nil {
		return 0, err
	}
	rec := e.track(newRecorder())
	d, _ := e.stretch(ctx, rec, loops, 200*time.Millisecond, time.Second)
	if d <= 0 {
		return 0, ctx.Err()
	}
	return float64(rec.requests()) / d.Seconds(), nil
}
