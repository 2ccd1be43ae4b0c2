package queue_test

import (
	"cmp"
	"crypto/rand"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"slices"
	"testing"

	"github.com/boxoffice/boxoffice/queue"
)

// Golden values computed independently of this package.
func TestEntryID(t *testing.T) {
	tests := []struct {
		name              string
		concertID, userID string
		want              string
	}{
		{"OK", "concert-1", "user-1", "0da22afc5e27f9eb5fca651877ea2564"},
		{"Empty", "", "", "01ba4719c80b6fe911b091a7c05124b6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := queue.EntryID(tt.concertID, tt.userID); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	t.Run("SeparatorMatters", func(t *testing.T) {
		if a, b := queue.EntryID("ab", "c"), queue.EntryID("a", "bc"); a == b {
			t.Errorf("EntryID(ab, c) = EntryID(a, bc) = %s, want them different", a)
		}
	})
}

func TestDrawKey(t *testing.T) {
	tests := []struct {
		name  string
		seed  []byte
		entry string
		want  uint64
	}{
		{"OK", []byte("seed"), "entry", 3739933928926090},
		{"EmptySeed", nil, "entry", 2191643312967316},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := queue.DrawKey(tt.seed, tt.entry)
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
			if got >= queue.DrawSpan || uint64(float64(got)) != got {
				t.Errorf("got %d, want below DrawSpan and exact as a float64", got)
			}
		})
	}
	t.Run("SeedMatters", func(t *testing.T) {
		if queue.DrawKey([]byte("a"), "e") == queue.DrawKey([]byte("b"), "e") {
			t.Errorf("keys under two seeds: got equal, want different")
		}
	})
	t.Run("BelowDrawSpan", func(t *testing.T) {
		for i := range 10000 {
			if k := queue.DrawKey([]byte("s"), fmt.Sprint(i)); k >= queue.DrawSpan {
				t.Fatalf("entry %d: got key %d, want below %d", i, k, uint64(queue.DrawSpan))
			}
		}
	})
}

func TestCommitment(t *testing.T) {
	if got, want := queue.Commitment([]byte("seed")), "19b25856e1c150ca834cffc8b59b23adbd0ec0389e58eb22b3b64768098d002b"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestDrawOrder(t *testing.T) {
	seed := []byte("seed")
	entries := []string{"e1", "e2", "e3", "e4", "e5", "e6"}
	got := queue.DrawOrder(seed, entries)
	if !slices.Equal(entries, []string{"e1", "e2", "e3", "e4", "e5", "e6"}) {
		t.Errorf("input: got %v, want it unchanged", entries)
	}
	if len(got) != len(entries) {
		t.Fatalf("got %v, want a permutation of %v", got, entries)
	}
	for i := 1; i < len(got); i++ {
		if a, b := queue.DrawKey(seed, got[i-1]), queue.DrawKey(seed, got[i]); a > b {
			t.Errorf("places %d and %d: got keys %d > %d, want ascending", i, i+1, a, b)
		}
	}
	if sorted := slices.Sorted(slices.Values(got)); !slices.Equal(sorted, entries) {
		t.Errorf("got %v, want a permutation of %v", got, entries)
	}
	if got := queue.DrawOrder(seed, nil); len(got) != 0 {
		t.Errorf("empty draw: got %v, want none", got)
	}
}

// Uniformity of the draw.
//
// Each of lotteryDraws draws orders lotteryEntries fixed entries (in
// arrival order e0, e1, …) with a fresh seed from crypto/rand, and counts
// entry×position. For a uniformly random permutation of n entries the
// centred count matrix lives in the (n-1)²-dimensional space of matrices
// with zero row and column sums, where by symmetry its covariance is
// isotropic, so Σ(O-E)²/E · (n-1)/n is asymptotically χ² with (n-1)²
// degrees of freedom. It is compared with the χ² quantile for p = 1e-6:
// a correct draw fails once in a million runs, whatever the seeds. Each
// entry's count of first places is also checked, with |z| < 5.2 (p ≈ 2e-7
// each, 1e-6 for the five).
const (
	lotteryEntries = 5
	lotteryDraws   = 60000
	// chiSquare16 is the 1 - 1e-6 quantile of χ² with 16 degrees of freedom.
	chiSquare16 = 58.324
	firstPlaceZ = 5.2
)

// uniformity returns the corrected χ² statistic of the entry×position
// counts of orders drawn by draw and the largest |z| of the first-place
// counts.
func uniformity(draw func(entries []string) []string) (chi, maxZ float64) {
	entries := make([]string, lotteryEntries)
	index := make(map[string]int, lotteryEntries)
	for i := range entries {
		entries[i] = queue.EntryID("concert", fmt.Sprintf("fan-%d", i))
		index[entries[i]] = i
	}
	var counts [lotteryEntries][lotteryEntries]float64
	for range lotteryDraws {
		for pos, e := range draw(entries) {
			counts[index[e]][pos]++
		}
	}
	n := float64(lotteryEntries)
	expected := lotteryDraws / n
	for i := range counts {
		for j := range counts[i] {
			d := counts[i][j] - expected
			chi += d * d / expected
		}
		z := math.Abs(counts[i][0]-expected) / math.Sqrt(lotteryDraws*(1/n)*(1-1/n))
		maxZ = math.Max(maxZ, z)
	}
	return chi * (n - 1) / n, maxZ
}

func uniform(chi, maxZ float64) bool { return chi < chiSquare16 && maxZ < firstPlaceZ }

func freshSeed() []byte {
	seed := make([]byte, 32)
	_, _ = rand.Read(seed)
	return seed
}

func TestDrawUniform(t *testing.T) {
	if testing.Short() {
		t.Skip("statistical test of 60,000 draws")
	}
	chi, z := uniformity(func(entries []string) []string { return queue.DrawOrder(freshSeed(), entries) })
	t.Logf("χ² %.1f, first-place |z| %.2f", chi, z)
	if !uniform(chi, z) {
		t.Errorf("draws with fresh seeds: got χ² %.1f and first-place |z| %.2f, want below %.1f and %.1f", chi, z, chiSquare16, firstPlaceZ)
	}
}

// TestDrawUniformCatchesBias runs the same check on orderings that are
// biased in ways a broken draw could be, and expects each to fail it.
func TestDrawUniformCatchesBias(t *testing.T) {
	if testing.Short() {
		t.Skip("statistical test of 60,000 draws")
	}
	biased := []struct {
		name string
		draw func(entries []string) []string
	}{
		{"ArrivalOrder", func(entries []string) []string { return slices.Clone(entries) }},
		{"SeedIgnored", func() func([]string) []string {
			var order []string
			return func(entries []string) []string {
				if order == nil {
					order = queue.DrawOrder([]byte("fixed"), entries)
				}
				return order
			}
		}()},
		{"NaiveShuffle", func(entries []string) []string {
			// Swapping each place with any place, not only a later one, makes
			// some orders likelier than others.
			out := slices.Clone(entries)
			for i := range out {
				j := mrand.IntN(len(out))
				out[i], out[j] = out[j], out[i]
			}
			return out
		}},
		{"EarlyArrivalHeadStart", func(entries []string) []string {
			// The first to arrive gets a key 10% lower.
			seed := freshSeed()
			keys := make(map[string]float64, len(entries))
			for i, e := range entries {
				keys[e] = float64(queue.DrawKey(seed, e))
				if i == 0 {
					keys[e] *= 0.9
				}
			}
			out := slices.Clone(entries)
			slices.SortFunc(out, func(a, b string) int { return cmp.Compare(keys[a], keys[b]) })
			return out
		}},
	}
	for _, b := range biased {
		t.Run(b.name, func(t *testing.T) {
			chi, z := uniformity(b.draw)
			t.Logf("χ² %.1f, first-place |z| %.2f", chi, z)
			if uniform(chi, z) {
				t.Errorf("got χ² %.1f and first-place |z| %.2f, want the check to fail (χ² ≥ %.1f or |z| ≥ %.1f)", chi, z, chiSquare16, firstPlaceZ)
			}
		})
	}
}
