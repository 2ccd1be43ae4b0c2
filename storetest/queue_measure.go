package storetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice/queue"
)

func testAbandonCounted(t *testing.T, q *queueStore) {
	room := openRoom(maxActiveSettings(1))
	ts := q.joinAll(room, 5, qT0)
	q.admit(qT0)                     // fanID(1) is admitted
	q.leave(ts[0], qAt(time.Second)) // a session ended: not abandonment
	q.leave(ts[1], qAt(time.Second)) // left while waiting
	q.status(ts[2], qAt(30*time.Second))
	q.status(ts[3], qAt(30*time.Second))
	wantAdmission(t, "step dropping one", q.admit(qAt(60*time.Second)), queue.Admission{Leader: true, Admitted: 1, Dropped: 1})
	pre := closedRoom(rateSettings(1))
	pre.ConcertID = qOther
	p, _ := q.join(pre, fanID(1), qT0)
	q.leave(p.Ticket, qAt(time.Second)) // left the prequeue
	want := queue.Stats{Waiting: 1, Active: 1, AdmittedTotal: 2, DroppedTotal: 1, AbandonedTotal: 2}
	if got := counts(q.stats(qAt(60 * time.Second))); got != want {
		t.Errorf("stats: got %+v, want %+v", got, want)
	}
	if st, err := q.s.Stats(t.Context(), qOther, qAt(60*time.Second)); err != nil || st.AbandonedTotal != 1 {
		t.Errorf("prequeue room: got %d abandoned (%v), want 1", st.AbandonedTotal, err)
	}
}

// abandonModel replays the measurement of the abandonment rate.
type abandonModel struct {
	rate      float64
	last      time.Time
	stepped   bool
	abandoned int64 // since the last fold
}

func (m *abandonModel) step(now time.Time, waiting int64) {
	if m.stepped && !now.After(m.last) {
		return
	}
	if m.stepped && (waiting > 0 || m.abandoned > 0) {
		m.rate = queue.MeasureRate(m.rate, m.abandoned, now.Sub(m.last))
	}
	m.last, m.stepped, m.abandoned = now, true, 0
}

func testAbandonRate(t *testing.T, q *queueStore) {
	room := closedRoom(rateSettings(10))
	ts := q.joinAll(room, 10, qT0)
	m := &abandonModel{}
	check := func(what string, now time.Time, waiting int64) {
		t.Helper()
		q.admit(now)
		m.step(now, waiting)
		wantRate(t, what, q.stats(now).AbandonRate, m.rate)
	}
	check("first step", qT0, 10)
	q.leave(ts[0], qAt(500*time.Millisecond))
	q.leave(ts[1], qAt(500*time.Millisecond))
	m.abandoned += 2
	check("two left", qAt(time.Second), 8)
	q.leave(ts[2], qAt(1500*time.Millisecond))
	m.abandoned++
	check("one left", qAt(1500*time.Millisecond), 7)
	check("same instant", qAt(1500*time.Millisecond), 7)
	check("none left", qAt(3*time.Second), 7)
	for _, tk := range ts[3:] {
		q.leave(tk, qAt(4*time.Second))
	}
	m.abandoned += 7
	check("all left", qAt(5*time.Second), 0)
	check("empty room", qAt(6*time.Second), 0)
	q.join(room, fanID(11), qAt(6*time.Second))
	m.abandoned++ // dropped by the next step
	check("idle drop", qAt(66*time.Second), 0)
	wantRate(t, "status", q.status(ts[0], qAt(66*time.Second)).AbandonRate, m.rate)
	if m.rate == 0 {
		t.Fatalf("model: got rate 0, want a measurement")
	}
}

func testWaits(t *testing.T, q *queueStore) {
	room := roomOpeningAt(10*time.Second, maxActiveSettings(100))
	q.joinAll(room, 3, qT0) // wait from the opening
	q.admit(qAt(11500 * time.Millisecond))
	q.join(room, "late-1", qAt(12*time.Second))
	q.join(room, "late-2", qAt(12250*time.Millisecond))
	q.admit(qAt(20 * time.Second))
	var want queue.WaitHistogram
	for _, w := range []time.Duration{1500 * time.Millisecond, 1500 * time.Millisecond, 1500 * time.Millisecond, 8 * time.Second, 7750 * time.Millisecond} {
		want.Add(w)
	}
	if got := q.stats(qAt(20 * time.Second)).Waits; got != want {
		t.Errorf("waits: got %v, want %v", got, want)
	}
}

// estimateRun simulates a steady room on a manual clock: the room admits
// 10 fans per second, stepped every 200ms; fans arrive at a fixed pace
// after an initial backlog, poll every 5s, and abandon after an
// exponentially distributed patience, by leaving or by going silent. It
// returns the mean absolute relative error of the wait estimated at join
// against the wait each admitted fan had, over fans who joined after a
// warm-up, and the same for the naive estimate position/rate.
type estimateRun struct {
	backlog  int
	arrivals float64       // fans per second
	patience time.Duration // mean; 0: nobody abandons
	silent   bool          // abandon by going silent rather than leaving
	idle     int
}

// The pace of an estimateRun: a step of the room every estimateStep, a poll
// of each fan every estimatePoll; fans who join from estimateWarmUp for
// estimateMeasure are measured, and the run ends at estimateEnd.
const (
	estimateStep    = 200 * time.Millisecond
	estimatePoll    = 5 * time.Second
	estimateWarmUp  = 60 * time.Second
	estimateMeasure = 120 * time.Second
	estimateEnd     = 250 * time.Second
)

// estimateFan is one fan of an estimateRun: the wait estimated at join, by
// the model and naively, and how the wait ended.
type estimateFan struct {
	tk                queue.Ticket
	joined, patience  time.Time
	estimate, naive   int64
	admitted, stopped bool
	at                time.Time
}

func (r estimateRun) run(t *testing.T, q *queueStore) (model, naive float64, measured int) {
	s := rateSettings(10)
	s.IdleSeconds = r.idle
	room := openRoom(s)
	rng := rand.New(rand.NewPCG(1, 2))
	var fans []*estimateFan
	byUser := map[string]*estimateFan{}
	join := func(now time.Time) {
		f := &estimateFan{joined: now}
		if r.patience > 0 {
			f.patience = now.Add(time.Duration(rng.ExpFloat64() * float64(r.patience)))
		}
		st, _ := q.join(room, fmt.Sprintf("fan-%06d", len(fans)), now)
		f.tk = st.Ticket
		f.estimate, _ = queue.Estimate(st, now)
		rate := st.Rate
		if rate == 0 {
			rate = s.AdmitPerSecond
		}
		f.naive = int64(math.Ceil(float64(st.Position) / rate))
		fans = append(fans, f)
		byUser[f.tk.UserID] = f
	}
	for range r.backlog {
		join(qT0)
	}
	var logged int64
	credit := 0.0
	for now := qT0; now.Before(qT0.Add(estimateEnd)); now = now.Add(estimateStep) {
		if now.After(qT0) {
			for credit += r.arrivals * estimateStep.Seconds(); credit >= 1; credit-- {
				join(now)
			}
		}
		if due := r.poll(q, fans, now); len(due) > 0 {
			if _, err := q.s.Statuses(t.Context(), qRoomID, due, now); err != nil {
				t.Fatalf("Statuses: %v", err)
			}
		}
		q.admit(now)
		page, err := q.s.Admissions(t.Context(), qRoomID, logged+1, queue.MaxAdmissionsPage)
		if err != nil {
			t.Fatalf("Admissions: %v", err)
		}
		for _, a := range page {
			f := byUser[a.UserID]
			f.admitted, f.at = true, a.At
			logged = a.N
		}
	}
	return estimateErrors(t, fans)
}

// poll makes the waiting fans whose patience ends at now abandon, and
// returns the tickets of those whose poll is due at now.
func (r estimateRun) poll(q *queueStore, fans []*estimateFan, now time.Time) []queue.Ticket {
	var due []queue.Ticket
	for _, f := range fans {
		if f.admitted || f.stopped {
			continue
		}
		if r.patience > 0 && !now.Before(f.patience) {
			f.stopped = true
			if !r.silent {
				q.leave(f.tk, now)
			}
			continue
		}
		if since := now.Sub(f.joined); since > 0 && since%estimatePoll == 0 {
			due = append(due, f.tk)
		}
	}
	return due
}

// estimateErrors returns the mean absolute relative errors of the model's
// and the naive estimates against the waits of the fans who joined in the
// measured window and stayed to the door, and how many they were.
func estimateErrors(t *testing.T, fans []*estimateFan) (model, naive float64, measured int) {
	t.Helper()
	for _, f := range fans {
		since := f.joined.Sub(qT0)
		inWindow := since >= estimateWarmUp && since < estimateWarmUp+estimateMeasure
		if inWindow && !f.admitted && !f.stopped {
			t.Fatalf("%s: neither admitted nor gone by the end", f.tk.UserID)
		}
		if !inWindow || !f.admitted || f.stopped {
			continue // only fans who stayed to the door
		}
		actual := f.at.Sub(f.joined).Seconds()
		model += math.Abs(float64(f.estimate)-actual) / actual
		naive += math.Abs(float64(f.naive)-actual) / actual
		measured++
	}
	if measured < 500 {
		t.Fatalf("measured fans: got %d, want at least 500", measured)
	}
	return model / float64(measured), naive / float64(measured), measured
}

func testEstimateSteady(t *testing.T, q *queueStore) {
	// 600 waiting, 10 arriving and 10 admitted per second: a minute's wait.
	model, _, n := estimateRun{backlog: 600, arrivals: 10, idle: 60}.run(t, q)
	t.Logf("mean absolute relative error over %d fans: %.1f%%", n, 100*model)
	if model > 0.03 {
		t.Errorf("estimate: got mean absolute relative error %.1f%%, want at most 3%%", 100*model)
	}
}

func testEstimateLeaves(t *testing.T, q *queueStore) {
	// 15 arriving, 10 admitted, each waiting fan leaving at 1/60 per
	// second: about 300 waiting, each about 24s from the door, where
	// position/rate says 30s.
	model, naive, n := estimateRun{backlog: 300, arrivals: 15, patience: time.Minute, idle: 60}.run(t, q)
	t.Logf("mean absolute relative error over %d fans: %.1f%% (position/rate: %.1f%%)", n, 100*model, 100*naive)
	if model > 0.15 {
		t.Errorf("estimate: got mean absolute relative error %.1f%%, want at most 15%%", 100*model)
	}
}

func testEstimateIdle(t *testing.T, q *queueStore) {
	// As with leaves, but fans who give up go silent and are dropped
	// after the idle limit, holding their place until then.
	model, naive, n := estimateRun{backlog: 300, arrivals: 15, patience: time.Minute, silent: true, idle: 10}.run(t, q)
	t.Logf("mean absolute relative error over %d fans: %.1f%% (position/rate: %.1f%%)", n, 100*model, 100*naive)
	if model > 0.15 {
		t.Errorf("estimate: got mean absolute relative error %.1f%%, want at most 15%%", 100*model)
	}
}
