package loadtest

import (
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	for _, us := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 4095, 4096, 123456, 1 << 30, 1<<37 - 1} {
		i := bucketOf(us)
		if lo, hi := bucketLow(i), bucketLow(i+1); us < lo || us >= hi {
			t.Errorf("bucketOf(%d) = %d covering [%d, %d): got outside, want inside", us, i, lo, hi)
		}
	}
	for i := range numBuckets - 1 {
		if bucketLow(i) >= bucketLow(i+1) {
			t.Fatalf("bucket %d starts at %d, bucket %d at %d: want increasing", i, bucketLow(i), i+1, bucketLow(i+1))
		}
	}
	if got := bucketOf(1 << 50); got != numBuckets-1 {
		t.Errorf("bucketOf(2^50) = %d, want the last bucket %d", got, numBuckets-1)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	for us := 1; us <= 10000; us++ {
		h.Record(time.Duration(us) * time.Microsecond)
	}
	d := h.Snapshot()
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.50, 5000 * time.Microsecond},
		{0.90, 9000 * time.Microsecond},
		{0.99, 9900 * time.Microsecond},
		{1, 10000 * time.Microsecond},
	}
	for _, tt := range tests {
		got := d.Quantile(tt.q)
		if diff := float64(got-tt.want) / float64(tt.want); diff < -0.02 || diff > 0.02 {
			t.Errorf("Quantile(%v) = %v, want %v within 2%%", tt.q, got, tt.want)
		}
	}
	if got, want := d.Max(), 10*time.Millisecond; got != want {
		t.Errorf("Max = %v, want %v", got, want)
	}
	if got, want := d.N, uint64(10000); got != want {
		t.Errorf("N = %d, want %d", got, want)
	}
	if got, want := d.Mean(), 5000*time.Microsecond; got < want-time.Microsecond || got > want+time.Microsecond {
		t.Errorf("Mean = %v, want %v", got, want)
	}
}

func TestHistogramEmpty(t *testing.T) {
	var d Distribution
	if got := d.Quantile(0.99); got != 0 {
		t.Errorf("Quantile of nothing = %v, want 0", got)
	}
	if got := d.Mean(); got != 0 {
		t.Errorf("Mean of nothing = %v, want 0", got)
	}
}

func TestDistribution(t *testing.T) {
	var h Histogram
	h.Record(time.Millisecond)
	h.Record(3 * time.Millisecond)
	h.Record(5 * time.Millisecond)
	d := h.Snapshot()
	if d.N != 3 || d.Max() != 5*time.Millisecond {
		t.Errorf("snapshot: got N=%d max=%v, want N=3 max=5ms", d.N, d.Max())
	}
	if got := d.Quantile(0.5); got < 2900*time.Microsecond || got > 3100*time.Microsecond {
		t.Errorf("median = %v, want about 3ms", got)
	}
	var n uint64
	for _, bk := range d.Buckets() {
		n += bk.Count
	}
	if n != 3 {
		t.Errorf("buckets hold %d latencies, want 3", n)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	var r Recorder
	code := []byte("SEAT_UNAVAILABLE")
	allocs := testing.AllocsPerRun(1000, func() {
		r.observe(routeHold, 1234*time.Microsecond, 201, nil)
		r.observe(routeHold, 2345*time.Microsecond, 409, code)
	})
	if allocs != 0 {
		t.Errorf("allocations per observation: got %v, want 0", allocs)
	}
}
