package queue

import (
	"math"
	"time"
)

// WaitBounds are the inclusive upper bounds of the buckets of a
// WaitHistogram: 2^(k/4) seconds rounded to the millisecond, for k from -12
// to 66, that is from 125 ms to about 25.7 hours, each about 19 % above the
// one before. Waits above the last bound fall in one more bucket.
var WaitBounds = waitBounds()

func waitBounds() (b [79]time.Duration) {
	for i := range b {
		k := float64(i - 12)
		b[i] = time.Duration(math.Round(1000*math.Exp2(k/4))) * time.Millisecond
	}
	return b
}

// WaitHistogram counts admitted fans by how long they waited: element i
// counts waits in (WaitBounds[i-1], WaitBounds[i]], element 0 those up to
// WaitBounds[0], the last those above every bound.
type WaitHistogram [len(WaitBounds) + 1]int64

// WaitBucket returns the index in a WaitHistogram of a wait.
func WaitBucket(wait time.Duration) int {
	lo, hi := 0, len(WaitBounds)
	for lo < hi {
		mid := (lo + hi) / 2
		if wait <= WaitBounds[mid] {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// Add counts one wait.
func (h *WaitHistogram) Add(wait time.Duration) { h[WaitBucket(wait)]++ }

// Count returns how many waits h holds.
func (h *WaitHistogram) Count() int64 {
	var n int64
	for _, c := range h {
		n += c
	}
	return n
}

// Quantile estimates the q-quantile (0 <= q <= 1) of the waits: it finds
// the bucket holding the wait of rank q·Count and interpolates linearly
// between its bounds (from 0 for the first bucket). A wait in the last
// bucket reads as the last bound. An empty histogram gives 0.
func (h *WaitHistogram) Quantile(q float64) time.Duration {
	total := h.Count()
	if total == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := q * float64(total)
	var below int64
	for i, c := range h {
		if c == 0 || float64(below+c) < rank {
			below += c
			continue
		}
		if i == len(WaitBounds) {
			return WaitBounds[len(WaitBounds)-1]
		}
		var lo time.Duration
		if i > 0 {
			lo = WaitBounds[i-1]
		}
		f := (rank - float64(below)) / float64(c)
		return lo + time.Duration(f*float64(WaitBounds[i]-lo))
	}
	return WaitBounds[len(WaitBounds)-1]
}
