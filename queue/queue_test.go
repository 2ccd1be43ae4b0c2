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
		{"ErrMaxActiveMissing", func(s *queue.Settings) { s.Strategy = queue.MaxActive }, false},
		{"ErrMaxActiveNegative", func(s *queue.Settings) { s.MaxActive = -1 }, false},
		{"ErrBothMissingMax", func(s *queue.Settings) { s.Strategy = queue.RateAndMaxActive }, false},
		{"ErrSessionZero", func(s *queue.Settings) { s.SessionSeconds = 0 }, false},
		{"ErrSessionHuge", func(s *queue.Settings) { s.SessionSeconds = queue.MaxSeconds + 1 }, false},
		{"ErrIdleZero", func(s *queue.Settings) { s.IdleSeconds = 0 }, false},
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

// TestAllowanceSteady checks that stepping the rule at any interval admits
// the configured rate over time.
func TestAllowanceSteady(t *testing.T) {
	for _, tc := range []struct {
		rate float64
		step time.Duration
	}{{10, 100 * time.Millisecond}, {2.5, 100 * time.Millisecond}, {1000, 37 * time.Millisecond}, {0.5, time.Second}} {
		s := queue.Settings{Strategy: queue.Rate, AdmitPerSecond: tc.rate, SessionSeconds: 60, IdleSeconds: 60}
		var b queue.Bucket
		var total int64
		now := t0
		_, b = queue.Allowance(s, b, 0, 0, now) // start the bucket with an empty queue
		b.Credit = 0
		for now.Before(t0.Add(60 * time.Second)) {
			now = now.Add(tc.step)
			var n int64
			n, b = queue.Allowance(s, b, 1<<40, 0, now)
			total += n
		}
		elapsed := now.Sub(t0).Seconds()
		want := tc.rate * elapsed
		if math.Abs(float64(total)-want) > 1 {
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
	tests := []struct {
		name     string
		position int64
		measured float64
		s        queue.Settings
		want     int64
	}{
		{"Admitted", 0, 10, rate, 0},
		{"Measured", 25, 5, rate, 5},
		{"ConfiguredBeforeMeasure", 25, 0, rate, 3},
		{"MaxActiveNominal", 100, 0, maxActive, 50},
		{"Capped", 1 << 40, 0.001, rate, queue.MaxSeconds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := queue.EstimateWait(tt.position, tt.measured, tt.s); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestEstimate(t *testing.T) {
	room := queue.Room{ConcertID: "c", OpensAt: t0, Settings: queue.Settings{Strategy: queue.Rate, AdmitPerSecond: 10, SessionSeconds: 60, IdleSeconds: 60}}
	t.Run("PrequeueIncludesOpening", func(t *testing.T) {
		st := queue.Status{State: queue.Prequeue, Position: 50, Room: room}
		wait, poll := queue.Estimate(st, t0.Add(-30*time.Second))
		if wait != 35 {
			t.Errorf("wait %d, want 35", wait)
		}
		if poll < 1 || poll > 30 {
			t.Errorf("poll %d, want 1..30", poll)
		}
	})
	t.Run("AdmittedNoPoll", func(t *testing.T) {
		wait, poll := queue.Estimate(queue.Status{State: queue.Admitted, Room: room}, t0)
		if wait != 0 || poll != 0 {
			t.Errorf("got wait %d poll %d, want 0 0", wait, poll)
		}
	})
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
