package loadtest

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Latencies are kept in a log-linear histogram of microseconds: exact below
// 64 µs, then 32 equal buckets per power of two, so any quantile is within
// about 1.6% of the true value. Recording is one atomic add and never
// allocates.
const (
	subBits    = 5
	subBuckets = 1 << subBits
	numBuckets = 2*subBuckets + 31*subBuckets // up to 2^37 µs, about 38 hours
)

// bucketOf returns the bucket of a latency of us microseconds.
func bucketOf(us uint64) int {
	if us < 2*subBuckets {
		return int(us)
	}
	k := bits.Len64(us) - 1 // us is in [2^k, 2^(k+1)), k > subBits
	i := 2*subBuckets + (k-subBits-1)*subBuckets + int(us>>(k-subBits)) - subBuckets
	return min(i, numBuckets-1)
}

// bucketLow returns the smallest latency in microseconds of bucket i.
func bucketLow(i int) uint64 {
	if i < 2*subBuckets {
		return uint64(i)
	}
	j := i - 2*subBuckets
	k := j/subBuckets + subBits + 1
	return uint64(j%subBuckets+subBuckets) << (k - subBits)
}

// Histogram records latencies from any number of goroutines.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	sumUS  atomic.Uint64
	maxUS  atomic.Uint64
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	h.counts[bucketOf(us)].Add(1)
	h.sumUS.Add(us)
	for {
		m := h.maxUS.Load()
		if us <= m || h.maxUS.CompareAndSwap(m, us) {
			break
		}
	}
}

// Snapshot returns the latencies recorded so far.
func (h *Histogram) Snapshot() Distribution {
	var d Distribution
	for i := range h.counts {
		d.Counts[i] = h.counts[i].Load()
		d.N += d.Counts[i]
	}
	d.SumUS = h.sumUS.Load()
	d.MaxUS = h.maxUS.Load()
	return d
}

// Distribution is a histogram's content at one instant.
type Distribution struct {
	Counts [numBuckets]uint64
	N      uint64
	SumUS  uint64
	MaxUS  uint64
}

// Quantile returns the latency below which a fraction q of the recorded
// latencies fall, or 0 when there are none.
func (d *Distribution) Quantile(q float64) time.Duration {
	if d.N == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(d.N)))
	rank = min(max(rank, 1), d.N)
	var seen uint64
	for i, c := range d.Counts {
		seen += c
		if seen < rank {
			continue
		}
		lo, hi := bucketLow(i), bucketLow(i+1)
		us := lo
		if hi-lo > 1 {
			us = lo + (hi-lo)/2
		}
		return time.Duration(min(us, d.MaxUS)) * time.Microsecond
	}
	return d.Max()
}

// Max returns the largest latency recorded.
func (d *Distribution) Max() time.Duration { return time.Duration(d.MaxUS) * time.Microsecond }

// Mean returns the average latency, or 0 when there is none.
func (d *Distribution) Mean() time.Duration {
	if d.N == 0 {
		return 0
	}
	return time.Duration(d.SumUS/d.N) * time.Microsecond
}

// Bucket is a range of latencies and how many fell in it.
type Bucket struct {
	LowUS  uint64 `json:"lowUs"`
	HighUS uint64 `json:"highUs"`
	Count  uint64 `json:"count"`
}

// Buckets returns the non-empty buckets in order of latency.
func (d *Distribution) Buckets() []Bucket {
	var out []Bucket
	for i, c := range d.Counts {
		if c > 0 {
			out = append(out, Bucket{LowUS: bucketLow(i), HighUS: bucketLow(i + 1), Count: c})
		}
	}
	return out
}
