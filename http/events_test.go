package http_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
)

// queueStores runs test with the waiting room in memory and in Redis.
func queueStores(t *testing.T, test func(t *testing.T, opts ...envOption)) {
	t.Run("Memory", func(t *testing.T) { test(t) })
	t.Run("Redis", func(t *testing.T) { test(t, withQueueStore(freshRedisQueue(t))) })
}

// fastStreams refreshes streams every 5 ms of real time.
func fastStreams(o *boxhttp.Options) { o.StreamTick = 5 * time.Millisecond }

// stream opens f's event stream; it is closed when t ends, and gives up
// (failing t) if an event takes more than 30 s.
func (e *env) stream(t *testing.T, f *fan, lastEventID uint64) *boxhttp.EventStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	es, err := e.client.QueueEvents(ctx, f.access, f.queue, lastEventID)
	if err != nil {
		cancel()
		t.Fatalf("open event stream: %v", err)
	}
	t.Cleanup(func() { es.Close(); cancel() })
	return es
}

func nextEvent(t *testing.T, es *boxhttp.EventStream) boxhttp.QueueEvent {
	t.Helper()
	ev, err := es.Next()
	if err != nil {
		t.Fatalf("next event: %v", err)
	}
	return ev
}

// ended fails unless the server ends es with no more events.
func ended(t *testing.T, es *boxhttp.EventStream) {
	t.Helper()
	if ev, err := es.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("got %+v, %v; want the stream ended (EOF)", ev.Status, err)
	}
}

func wantEvent(t *testing.T, ev boxhttp.QueueEvent, id uint64, status string, position int64) {
	t.Helper()
	if ev.ID != id || ev.Status.Status != status || ev.Status.Position != position {
		t.Fatalf("got event %d %s at %d, want %d %s at %d", ev.ID, ev.Status.Status, ev.Status.Position, id, status, position)
	}
}

// rawStream opens an event stream with a raw request and returns the answer
// with a line reader.
func (e *env) rawStream(t *testing.T, path string, headers ...string) (*nethttp.Response, *bufio.Reader) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	req, err := nethttp.NewRequestWithContext(ctx, "GET", e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close(); cancel() })
	return resp, bufio.NewReader(resp.Body)
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read stream line: %v", err)
	}
	return strings.TrimSuffix(line, "\n")
}

func TestQueueEvents(t *testing.T) {
	queueStores(t, func(t *testing.T, opts ...envOption) {
		e := newEnv(t, append(opts, fastStreams)...)
		ctx := context.Background()
		c := e.concert(t, spec())

		t.Run("FirstEventAtOnce", func(t *testing.T) {
			kim := e.fan(t, "Kim", 0)
			e.join(t, kim, c.ConcertID)
			resp, r := e.rawStream(t, "/v1/queue/events", "Authorization", bearer(kim.access), "Queue-Token", kim.queue)
			if resp.StatusCode != 200 {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			for name, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"} {
				if got := resp.Header.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			polled := e.do(t, "GET", "/v1/queue", "", "Authorization", bearer(kim.access), "Queue-Token", kim.queue)
			want := []string{"retry: 2000", "id: 1", "event: status", "data: " + strings.TrimSuffix(string(polled.body), "\n"), ""}
			for i, w := range want {
				if got := readLine(t, r); got != w {
					t.Errorf("line %d: got %q, want %q", i+1, got, w)
				}
			}
		})
		t.Run("QueryCredentials", func(t *testing.T) {
			lee := e.fan(t, "Lee", 0)
			e.join(t, lee, c.ConcertID)
			q := url.Values{"access_token": {lee.access}, "token": {lee.queue}}
			resp, r := e.rawStream(t, "/v1/queue/events?"+q.Encode())
			if resp.StatusCode != 200 {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			if got := readLine(t, r); got != "retry: 2000" {
				t.Errorf("first line: got %q, want retry: 2000", got)
			}
		})
		t.Run("ChangesArePushed", func(t *testing.T) {
			c := e.concert(t, spec())
			ahead, park := e.fan(t, "Ahead", 0), e.fan(t, "Park", 0)
			e.join(t, ahead, c.ConcertID)
			e.join(t, park, c.ConcertID)
			es := e.stream(t, park, 0)
			wantEvent(t, nextEvent(t, es), 1, "WAITING", 2)
			if es.Retry != 2*time.Second {
				t.Errorf("retry: got %v, want 2s", es.Retry)
			}
			if err := e.client.Leave(ctx, ahead.access, ahead.queue); err != nil {
				t.Fatal(err)
			}
			wantEvent(t, nextEvent(t, es), 2, "WAITING", 1)
			e.admit()
			ev := nextEvent(t, es)
			wantEvent(t, ev, 3, "ADMITTED", 0)
			if ev.Status.SessionExpiresAt == nil || ev.Status.Token != park.queue {
				t.Errorf("got %+v, want a session expiry and the caller's token", ev.Status)
			}
			ended(t, es)
		})
		t.Run("LastEventIDResumes", func(t *testing.T) {
			choi := e.fan(t, "Choi", 0)
			e.join(t, choi, c.ConcertID)
			es := e.stream(t, choi, 41)
			ev := nextEvent(t, es)
			if ev.ID != 42 || ev.Status.Status != "WAITING" {
				t.Fatalf("got event %d %s, want 42 WAITING", ev.ID, ev.Status.Status)
			}
		})
		t.Run("LeftEndsTheStreamExpired", func(t *testing.T) {
			han := e.fan(t, "Han", 0)
			e.join(t, han, c.ConcertID)
			es := e.stream(t, han, 0)
			nextEvent(t, es)
			if err := e.client.Leave(ctx, han.access, han.queue); err != nil {
				t.Fatal(err)
			}
			wantEvent(t, nextEvent(t, es), 2, "EXPIRED", 0)
			ended(t, es)
		})
		t.Run("EndedPlaceOneEvent", func(t *testing.T) {
			yoon := e.fan(t, "Yoon", 0)
			e.join(t, yoon, c.ConcertID)
			if err := e.client.Leave(ctx, yoon.access, yoon.queue); err != nil {
				t.Fatal(err)
			}
			es := e.stream(t, yoon, 0)
			wantEvent(t, nextEvent(t, es), 1, "EXPIRED", 0)
			ended(t, es)
		})
		t.Run("Prequeue", func(t *testing.T) {
			s := spec()
			s.SalesOpenAt = base.Add(time.Hour)
			later := e.concert(t, s)
			early := e.fan(t, "Early", 0)
			e.join(t, early, later.ConcertID)
			e.join(t, e.fan(t, "Early2", 0), later.ConcertID)
			ev := nextEvent(t, e.stream(t, early, 0))
			if ev.Status.Status != "PREQUEUE" || ev.Status.Position != 0 || ev.Status.Prequeued != 2 || ev.Status.EstimatedWaitSeconds < 3600 {
				t.Errorf("got %+v, want PREQUEUE at 0 with 2 prequeued, waiting at least the hour", ev.Status)
			}
		})
		t.Run("SoldOutEndsTheStream", func(t *testing.T) {
			small := e.smallConcert(t)
			buyer := e.admitted(t, "Buyer", 0, small.ConcertID)
			waiter := e.fan(t, "Waiter", 0)
			e.join(t, waiter, small.ConcertID)
			es := e.stream(t, waiter, 0)
			wantEvent(t, nextEvent(t, es), 1, "WAITING", 1)
			e.buyAll(t, buyer, small.ConcertID)
			e.clock.Advance(time.Second)
			e.admit() // the leader reports that nothing is left
			ev := nextEvent(t, es)
			if ev.Status.Status != "SOLD_OUT" || ev.Status.PollAfterSeconds != 0 {
				t.Fatalf("got %+v, want SOLD_OUT", ev.Status)
			}
			ended(t, es)
		})
		t.Run("ErrQueueTokenInvalid", func(t *testing.T) {
			kim, lee := e.fan(t, "Kim", 0), e.fan(t, "Lee", 0)
			e.join(t, lee, c.ConcertID)
			for name, tok := range map[string]string{"Missing": "", "Garbage": "garbage", "OtherUser": lee.queue} {
				t.Run(name, func(t *testing.T) {
					a := e.do(t, "GET", "/v1/queue/events", "", "Authorization", bearer(kim.access), "Queue-Token", tok)
					wantProblem(t, a, 401, boxoffice.CodeQueueTokenInvalid)
					_, err := e.client.QueueEvents(ctx, kim.access, tok, 0)
					wantCode(t, err, 401, boxoffice.CodeQueueTokenInvalid)
				})
			}
		})
		t.Run("ErrUnauthenticated", func(t *testing.T) {
			lee := e.fan(t, "Lee", 0)
			e.join(t, lee, c.ConcertID)
			for name, h := range map[string][]string{
				"Missing":   {"Queue-Token", lee.queue},
				"Malformed": {"Authorization", "Basic abc", "Queue-Token", lee.queue},
				"Forged":    {"Authorization", bearer(lee.access + "x"), "Queue-Token", lee.queue},
			} {
				t.Run(name, func(t *testing.T) {
					wantProblem(t, e.do(t, "GET", "/v1/queue/events", "", h...), 401, boxoffice.CodeUnauthenticated)
				})
			}
		})
	})
}

func TestQueueEventsHeartbeat(t *testing.T) {
	e := newEnv(t, func(o *boxhttp.Options) { o.StreamHeartbeat = 30 * time.Millisecond })
	c := e.concert(t, spec())
	kim := e.fan(t, "Kim", 0)
	e.join(t, kim, c.ConcertID)
	_, r := e.rawStream(t, "/v1/queue/events", "Authorization", bearer(kim.access), "Queue-Token", kim.queue)
	for i := 0; ; i++ {
		line := readLine(t, r)
		if line == ": keep-alive" {
			break
		}
		if i > 10 {
			t.Fatalf("got %q, want a heartbeat comment after the first event", line)
		}
	}
}

func TestQueueEventsLimit(t *testing.T) {
	e := newEnv(t, func(o *boxhttp.Options) { o.MaxStreams = 1 })
	c := e.concert(t, spec())
	kim, lee := e.fan(t, "Kim", 0), e.fan(t, "Lee", 0)
	e.join(t, kim, c.ConcertID)
	e.join(t, lee, c.ConcertID)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	es, err := e.client.QueueEvents(ctx, kim.access, kim.queue, 0)
	if err != nil {
		t.Fatal(err)
	}
	nextEvent(t, es)
	if n := e.server.Streams(); n != 1 {
		t.Errorf("open streams: got %d, want 1", n)
	}
	if v := gaugeValue(t, e, "boxoffice_queue_streams"); v != 1 {
		t.Errorf("boxoffice_queue_streams: got %v, want 1", v)
	}
	t.Run("ErrUnavailable", func(t *testing.T) {
		a := e.do(t, "GET", "/v1/queue/events", "", "Authorization", bearer(lee.access), "Queue-Token", lee.queue)
		wantProblem(t, a, 503, boxoffice.CodeUnavailable)
		if got := a.header.Get("Retry-After"); got != "5" {
			t.Errorf("Retry-After = %q, want 5", got)
		}
	})
	t.Run("FreedWhenTheClientLeaves", func(t *testing.T) {
		es.Close()
		cancel()
		for e.server.Streams() != 0 {
			time.Sleep(time.Millisecond) // the handler notices the closed connection
		}
		nextEvent(t, e.stream(t, lee, 0))
	})
}

func TestCloseStreams(t *testing.T) {
	e := newEnv(t)
	c := e.concert(t, spec())
	kim, lee := e.fan(t, "Kim", 0), e.fan(t, "Lee", 0)
	e.join(t, kim, c.ConcertID)
	e.join(t, lee, c.ConcertID)
	es := e.stream(t, kim, 0)
	nextEvent(t, es)
	e.server.CloseStreams()
	ended(t, es)
	a := e.do(t, "GET", "/v1/queue/events", "", "Authorization", bearer(lee.access), "Queue-Token", lee.queue)
	wantProblem(t, a, 503, boxoffice.CodeUnavailable)
}

// TestQueueEventsOutliveReadTimeout checks that a stream outlives the
// server's ReadTimeout, which would otherwise end the request's context.
// The wait is real time: the timeout is the network connection's.
func TestQueueEventsOutliveReadTimeout(t *testing.T) {
	e := newEnv(t, fastStreams)
	ts := httptest.NewUnstartedServer(e.server)
	ts.Config.ReadTimeout = 50 * time.Millisecond
	ts.Start()
	t.Cleanup(ts.Close)
	client := boxhttp.NewClient(ts.URL, ts.Client())
	c := e.concert(t, spec())
	ahead, kim := e.fan(t, "Ahead", 0), e.fan(t, "Kim", 0)
	e.join(t, ahead, c.ConcertID)
	e.join(t, kim, c.ConcertID)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	es, err := client.QueueEvents(ctx, kim.access, kim.queue, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	wantEvent(t, nextEvent(t, es), 1, "WAITING", 2)
	time.Sleep(200 * time.Millisecond)
	if err := e.client.Leave(ctx, ahead.access, ahead.queue); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, nextEvent(t, es), 2, "WAITING", 1)
}

func TestQueueEventsRateLimited(t *testing.T) {
	e := newEnv(t, withRateLimit(1))
	c := e.concert(t, spec())
	kim := e.fan(t, "Kim", 0)
	e.join(t, kim, c.ConcertID) // one request of the burst of 2
	e.clock.Advance(time.Minute)
	h := []string{"Authorization", bearer(kim.access), "Queue-Token", kim.queue}
	e.rawStream(t, "/v1/queue/events", h...)
	e.rawStream(t, "/v1/queue/events", h...)
	wantProblem(t, e.do(t, "GET", "/v1/queue/events", "", h...), 429, boxoffice.CodeRateLimited)
}

// gaugeValue is the value of the unlabelled gauge name.
func gaugeValue(t *testing.T, e *env, name string) float64 {
	t.Helper()
	mfs, err := e.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}
