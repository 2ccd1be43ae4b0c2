package queue_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func TestSettingsValidate(t *testing.T) {
	ok := queue.DefaultSettings()
	tests := []struct {
		name   string
		modify func(*queue.Settings)
		ok     bool
	}{
		{"OK", func(*queue.Settings) {}, true},
		{"OKMaxActive", func(s *queue.Settings) { s.Strategy, s.AdmitPerSecond, s.MaxActive = queue.MaxActive, 0, 100 }, true},
		{"OKBoth", func(s *queue.Settings) { s.Strategy, s.MaxActive = queue.RateAndMaxActive, 5 }, true},
		{"ErrStrategy", func(s *queue.Settings) { s.Strategy = "FIFO" }, false},
		{"ErrRateZero", func(s *queue.Settings) { s.AdmitPerSecond = 0 }, false},
		{"ErrRateNaN", func(s *queue.Settings) { s.AdmitPerSecond = math.NaN() }, false},
		{"ErrRateHuge", func(s *queue.Settings) { s.AdmitPerSecond = queue.MaxAdmitPerSecond + 1 }, false},
		{"OKRateSlowest", func(s *queue.Settings) { s.AdmitPerSecond = queue.MinAdmitPerSecond }, true},
		{"ErrRateTiny", func(s *queue.Settings) { s.AdmitPerSecond = 1e-300 }, false},
		{"ErrRateTinyUnused", func(s *queue.Settings) { s.Strategy, s.AdmitPerSecond, s.MaxActive = queue.MaxActive, 1e-300, 100 }, false},
		{"ErrMaxActiveMissing", func(s *queue.Settings) { s.Strategy = queue.MaxActive }, false},
		{"ErrMaxActiveNegative", func(s *queue.Settings) { s.MaxActive = -1 }, false},
		{"ErrBothMissingMax", func(s *queue.Settings) { s.Strategy = queue.RateAndMaxActive }, false},
		{"ErrSessionZero", func(s *queue.Settings) { s.SessionSeconds = 0 }, false},
		{"ErrSessionHuge", func(s *queue.Settings) { s.SessionSeconds = queue.MaxSeconds + 1 }, false},
		{"ErrIdleZero", func(s *queue.Settings) { s.IdleSeconds = 0 }, false},
		{"OKMaxSessionShorterThanSession", func(s *queue.Settings) { s.MaxSessionSeconds = 1 }, true},
		{"OKMaxSessionLongest", func(s *queue.Settings) { s.MaxSessionSeconds = queue.MaxSeconds }, true},
		{"ErrMaxSessionZero", func(s *queue.Settings) { s.MaxSessionSeconds = 0 }, false},
		{"ErrMaxSessionNegative", func(s *queue.Settings) { s.MaxSessionSeconds = -1 }, false},
		{"ErrMaxSessionHuge", func(s *queue.Settings) { s.MaxSessionSeconds = queue.MaxSeconds + 1 }, false},
		{"OKProofOfWork", func(s *queue.Settings) { s.ProofOfWork = queue.MinProofOfWork }, true},
		{"OKProofOfWorkMax", func(s *queue.Settings) { s.ProofOfWork = queue.MaxProofOfWork }, true},
		{"ErrProofOfWorkSmall", func(s *queue.Settings) { s.ProofOfWork = queue.MinProofOfWork - 1 }, false},
		{"ErrProofOfWorkHuge", func(s *queue.Settings) { s.ProofOfWork = queue.MaxProofOfWork + 1 }, false},
		{"ErrProofOfWorkNegative", func(s *queue.Settings) { s.ProofOfWork = -1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.modify(&s)
			err := s.Validate()
			if got := err == nil; got != tt.ok {
				t.Fatalf("Validate(%+v) = %v, want ok=%v", s, err, tt.ok)
			}
			if err != nil && !errors.Is(err, boxoffice.ErrInvalidRequest) {
				t.Errorf("got %v, want INVALID_REQUEST", err)
			}
		})
	}
}

func TestAllowance(t *testing.T) {
	rate := queue.Settings{Strategy: queue.Rate, AdmitPerSecond: 10, SessionSeconds: 60, IdleSeconds: 60}
	maxActive := queue.Settings{Strategy: queue.MaxActive, MaxActive: 3, SessionSeconds: 60, IdleSeconds: 60}
	both := queue.Settings{Strategy: queue.RateAndMaxActive, AdmitPerSecond: 10, MaxActive: 3, SessionSeconds: 60, IdleSeconds: 60}
	tests := []struct {
		name            string
		s               queue.Settings
		b               queue.Bucket
		waiting, active int64
		now             time.Time
		want            int64
		wantCredit      float64
	}{
		{"FirstStepAdmitsOne", rate, queue.Bucket{}, 100, 0, t0, 1, 0},
		{"RateTenthOfSecond", rate, queue.Bucket{Last: t0}, 100, 0, t0.Add(100 * time.Millisecond), 1, 0},
		{"RateKeepsFraction", rate, queue.Bucket{Last: t0}, 100, 0, t0.Add(250 * time.Millisecond), 2, 0.5},
		{"RateCappedAtOneSecond", rate, queue.Bucket{Last: t0}, 100, 0, t0.Add(time.Hour), 10, 0},
		{"RateFewWaiting", rate, queue.Bucket{Last: t0}, 3, 0, t0.Add(time.Second), 3, 7},
		{"RateNoneWaiting", rate, queue.Bucket{Last: t0}, 0, 0, t0.Add(time.Second), 0, 10},
		{"RateClockBackwards", rate, queue.Bucket{Last: t0, Credit: 0.5}, 10, 0, t0.Add(-time.Second), 0, 0.5},
		{"MaxActiveFills", maxActive, queue.Bucket{}, 100, 1, t0, 2, 0},
		{"MaxActiveFull", maxActive, queue.Bucket{}, 100, 3, t0, 0, 0},
		{"MaxActiveOverfull", maxActive, queue.Bucket{}, 100, 5, t0, 0, 0},
		{"BothRateBinds", both, queue.Bucket{Last: t0}, 100, 0, t0.Add(200 * time.Millisecond), 2, 0},
		{"BothActiveBinds", both, queue.Bucket{Last: t0}, 100, 2, t0.Add(time.Second), 1, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, b := queue.Allowance(tt.s, tt.b, tt.waiting, tt.active, tt.now)
			if got != tt.want {
				t.Errorf("admitted %d, want %d", got, tt.want)
			}
			if math.Abs(b.Credit-tt.wantCredit) > 1e-9 {
				t.Errorf("credit %v, want %v", b.Credit, tt.wantCredit)
			}
		})
	}
}

// TestAllowanceSteady checks that stepping the rule at an interval that
// divides the period admits the configured rate over time, and that at any
// interval no window of one period admits more than the rate: with 37 ms
// steps 28 steps fall in some windows, so they can carry at most 1000/28
// fans each on average.
func TestAllowanceSteady(t *testing.T) {
	for _, tc := range []struct {
		rate  float64
		step  time.Duration
		share float64 // of the rate that the windows allow at this step
	}{{10, 100 * time.Millisecond, 1}, {2.5, 100 * time.Millisecond, 1}, {1000, 40 * time.Millisecond, 1},
		{1000, 37 * time.Millisecond, 1000.0 / 28 / 37}, {0.5, time.Second, 1}} {
		s := queue.Settings{Strategy: queue.Rate, AdmitPerSecond: tc.rate, SessionSeconds: 60, IdleSeconds: 60}
		var b queue.Bucket
		var total int64
		now := t0
		_, b = queue.Allowance(s, b, 0, 0, now) // start the bucket with an empty queue
		b.Credit = 0
		var steps []queue.Step
		for now.Before(t0.Add(60 * time.Second)) {
			now = now.Add(tc.step)
			var n int64
			n, b = queue.Allowance(s, b, 1<<40, 0, now)
			total += n
			steps = append(steps, queue.Step{At: now, N: n})
			var window int64
			for _, st := range steps {
				if st.At.After(now.Add(-queue.RatePeriod)) {
					window += st.N
				}
			}
			if window > s.RateLimit() {
				t.Fatalf("rate %v step %v: %d admitted in the period ending at %v, want at most %d", tc.rate, tc.step, window, now.Sub(t0), s.RateLimit())
			}
		}
		elapsed := now.Sub(t0).Seconds()
		want := tc.rate * elapsed * tc.share
		if math.Abs(float64(total)-want) > tc.rate*tc.share*0.05+1 {
			t.Errorf("rate %v step %v: admitted %d in %.2fs, want %.1f±1", tc.rate, tc.step, total, elapsed, want)
		}
	}
}

func TestMeasureRate(t *testing.T) {
	t.Run("FirstSample", func(t *testing.T) {
		if got := queue.MeasureRate(0, 5, 500*time.Millisecond); got != 10 {
			t.Errorf("got %v, want 10", got)
		}
	})
	t.Run("ConvergesToSteadyRate", func(t *testing.T) {
		r := 100.0
		for range 1200 { // 120 s of 100 ms steps admitting 2 each: 20/s
			r = queue.MeasureRate(r, 2, 100*time.Millisecond)
		}
		if math.Abs(r-20) > 0.1 {
			t.Errorf("got %v, want 20±0.1", r)
		}
	})
	t.Run("HalfLife", func(t *testing.T) {
		got := queue.MeasureRate(100, 0, queue.RateHalfLife)
		if math.Abs(got-50) > 1e-9 {
			t.Errorf("after one half-life of nothing got %v, want 50", got)
		}
	})
	t.Run("ZeroElapsed", func(t *testing.T) {
		if got := queue.MeasureRate(7, 3, 0); got != 7 {
			t.Errorf("got %v, want 7", got)
		}
	})
}

func TestEstimateWait(t *testing.T) {
	rate := queue.Settings{Strategy: queue.Rate, AdmitPerSecond: 10, SessionSeconds: 60, IdleSeconds: 60}
	maxActive := queue.Settings{Strategy: queue.MaxActive, MaxActive: 100, SessionSeconds: 50, IdleSeconds: 60}
	// An unused session lasts 20 s, not 50: 100 per 20 s.
	capped := maxActive
	capped.MaxSessionSeconds = 20
	tests := []struct {
		name              string
		position, waiting int64
		admit, abandon    float64
		s                 queue.Settings
		want              int64
	}{
		{"Admitted", 0, 10, 10, 0, rate, 0},
		{"Measured", 25, 100, 5, 0, rate, 5},
		{"ConfiguredBeforeMeasure", 25, 100, 0, 0, rate, 3},
		{"MaxActiveNominal", 100, 100, 0, 0, maxActive, 50},
		{"MaxActiveNominalMaxSession", 100, 100, 0, 0, capped, 20},
		{"Capped", 1 << 40, 1 << 40, 0.001, 0, rate, queue.MaxSeconds},
		// 300 waiting, 5/s abandoning: each leaves at 1/60 per second.
		// ln(1 + 300/60/10)·60 = 24.33
		{"Abandonment", 300, 300, 10, 5, rate, 25},
		// ln(1 + 30/60/10)·60 = 2.93
		{"AbandonmentNearFront", 30, 300, 10, 5, rate, 3},
		{"AbandonmentWithNominalPace", 300, 300, 0, 5, rate, 25},
		{"AbandonmentWithoutWaitingCount", 300, 0, 10, 5, rate, 30},
		{"AbandonmentCapped", 1 << 40, 1, 1e-6, 1e-9, rate, queue.MaxSeconds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := queue.EstimateWait(tt.position, tt.waiting, tt.admit, tt.abandon, tt.s); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// TestEstimateWaitModel checks the closed form against a step-by-step
// simulation of the fans ahead leaving by admission and abandonment.
func TestEstimateWaitModel(t *testing.T) {
	s := queue.Settings{Strategy: queue.Rate, AdmitPerSecond: 20, SessionSeconds: 60, IdleSeconds: 60}
	for _, tc := range []struct {
		position, waiting int64
		admit, abandon    float64
	}{{500, 1000, 20, 10}, {1000, 1000, 20, 10}, {200, 400, 5, 1}, {50, 50, 2, 0.5}, {100, 100, 10, 0}} {
		ahead, elapsed, dt := float64(tc.position), 0.0, 1e-4
		for ahead > 0 {
			ahead -= (tc.admit + tc.abandon*ahead/float64(tc.waiting)) * dt
			elapsed += dt
		}
		got := queue.EstimateWait(tc.position, tc.waiting, tc.admit, tc.abandon, s)
		if math.Abs(float64(got)-elapsed) > 1 {
			t.Errorf("%+v: got %ds, want %.2fs (simulated) within 1s", tc, got, elapsed)
		}
	}
}

func TestEstimate(t *testing.T) {
	room := queue.Room{ConcertID: "c", OpensAt: t0, Settings: queue.Settings{Strategy: queue.Rate, AdmitPerSecond: 10, SessionSeconds: 60, IdleSeconds: 60}}
	tests := []struct {
		name       string
		st         queue.Status
		now        time.Time
		wait       int64
		pollAtMost int64
	}{
		// 30s to the opening, then the middle of 100: 50 at 10/s.
		{"PrequeueMiddlePlace", queue.Status{State: queue.Prequeue, Prequeued: 100, Waiting: 100, Room: room}, t0.Add(-30 * time.Second), 35, 30},
		{"PrequeueOddCount", queue.Status{State: queue.Prequeue, Prequeued: 101, Waiting: 101, Room: room}, t0.Add(-30 * time.Second), 36, 30},
		// A newcomer described by the position it would take.
		{"PrequeueNewcomerPosition", queue.Status{State: queue.Prequeue, Position: 100, Room: room}, t0.Add(-30 * time.Second), 35, 30},
		{"PrequeueAfterOpeningInstant", queue.Status{State: queue.Prequeue, Prequeued: 100, Room: room}, t0, 5, 30},
		{"WaitingMeasured", queue.Status{State: queue.Waiting, Position: 300, Waiting: 300, Rate: 10, AbandonRate: 5, Room: room}, t0, 25, 30},
		{"AdmittedNoPoll", queue.Status{State: queue.Admitted, Room: room}, t0, 0, 0},
		{"SoldOutNoPoll", queue.Status{State: queue.SoldOut, Room: room}, t0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, poll := queue.Estimate(tt.st, tt.now)
			if wait != tt.wait {
				t.Errorf("wait: got %d, want %d", wait, tt.wait)
			}
			if poll > tt.pollAtMost || (tt.pollAtMost > 0 && poll < 1) {
				t.Errorf("poll: got %d, want 1..%d (0 when not waiting)", poll, tt.pollAtMost)
			}
		})
	}
}

func TestPollAfter(t *testing.T) {
	room := queue.Room{Settings: queue.Settings{Strategy: queue.Rate, AdmitPerSecond: 10, SessionSeconds: 60, IdleSeconds: 20}}
	t.Run("NearFrontPollsOften", func(t *testing.T) {
		if got := queue.PollAfter(queue.Status{State: queue.Waiting, Room: room}, 2); got != 1 {
			t.Errorf("got %d, want 1", got)
		}
	})
	t.Run("WithinIdleLimit", func(t *testing.T) {
		for seq := int64(0); seq < 50; seq++ {
			got := queue.PollAfter(queue.Status{Ticket: queue.Ticket{Seq: seq}, State: queue.Waiting, Room: room}, 10000)
			if got < 1 || got > 10 {
				t.Fatalf("seq %d: got %d, want 1..10 (half the idle limit)", seq, got)
			}
		}
	})
	t.Run("Spread", func(t *testing.T) {
		room := room
		room.Settings.IdleSeconds = 600
		seen := map[int64]bool{}
		for seq := int64(0); seq < 50; seq++ {
			seen[queue.PollAfter(queue.Status{Ticket: queue.Ticket{Seq: seq}, State: queue.Waiting, Room: room}, 80)] = true
		}
		if len(seen) < 3 {
			t.Errorf("fans 80s back all poll at %v, want them spread over several intervals", seen)
		}
	})
}
