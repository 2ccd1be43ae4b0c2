package queue_test

import (
	"testing"
	"time"

	"github.com/boxoffice/boxoffice/queue"
)

func TestWaitBounds(t *testing.T) {
	b := queue.WaitBounds
	if b[0] != 125*time.Millisecond || b[12] != time.Second || b[16] != 2*time.Second || b[len(b)-1] < queue.MaxSeconds*time.Second {
		t.Errorf("bounds: got first %v, 13th %v, 17th %v, last %v, want 125ms, 1s, 2s and at least a day", b[0], b[12], b[16], b[len(b)-1])
	}
	for i := 1; i < len(b); i++ {
		if b[i] <= b[i-1] || b[i]%time.Millisecond != 0 {
			t.Fatalf("bound %d: got %v after %v, want whole milliseconds ascending", i, b[i], b[i-1])
		}
	}
}

func TestWaitBucket(t *testing.T) {
	last := len(queue.WaitBounds)
	tests := []struct {
		name string
		wait time.Duration
		want int
	}{
		{"Zero", 0, 0},
		{"AtFirstBound", 125 * time.Millisecond, 0},
		{"AboveFirstBound", 126 * time.Millisecond, 1},
		{"OneSecond", time.Second, 12},
		{"JustAboveOneSecond", time.Second + time.Millisecond, 13},
		{"AtLastBound", queue.WaitBounds[last-1], last - 1},
		{"AboveLastBound", queue.WaitBounds[last-1] + time.Millisecond, last},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := queue.WaitBucket(tt.wait); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestWaitHistogramQuantile(t *testing.T) {
	// hist adds n waits of each duration.
	hist := func(n int, waits ...time.Duration) queue.WaitHistogram {
		var h queue.WaitHistogram
		for _, w := range waits {
			for range n {
				h.Add(w)
			}
		}
		return h
	}
	one := queue.WaitBucket(time.Second) // (841ms, 1s]
	lo := queue.WaitBounds[one-1]
	tests := []struct {
		name string
		h    queue.WaitHistogram
		q    float64
		want time.Duration
	}{
		{"Empty", queue.WaitHistogram{}, 0.5, 0},
		{"MedianInterpolated", hist(10, time.Second), 0.5, lo + (time.Second-lo)/2},
		{"TopOfBucket", hist(10, time.Second), 1, time.Second},
		{"BottomOfBucket", hist(10, time.Second), 0, lo},
		{"FirstBucketFromZero", hist(4, 0), 0.5, queue.WaitBounds[0] / 2},
		{"P90AcrossBuckets", hist(10, time.Second, 8*time.Second, 8*time.Second, 8*time.Second, 8*time.Second,
			8*time.Second, 8*time.Second, 8*time.Second, 8*time.Second, 60*time.Second), 0.9, 8 * time.Second},
		{"P50AcrossBuckets", hist(1, time.Second, 2*time.Second, 4*time.Second, 8*time.Second), 0.5, 2 * time.Second},
		{"Overflow", hist(3, 30*time.Hour), 0.5, queue.WaitBounds[len(queue.WaitBounds)-1]},
		{"QAboveOne", hist(10, time.Second), 2, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.Quantile(tt.q); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("Count", func(t *testing.T) {
		if h := hist(3, 0, time.Second, time.Hour); h.Count() != 9 {
			t.Errorf("got %d, want 9", h.Count())
		}
	})
}
