package memory

import (
	"fmt"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
)

// TestSpentProofsBounded checks that the spent proofs are swept at their
// expiry and that no more than the bound are kept meanwhile.
func TestSpentProofsBounded(t *testing.T) {
	s := NewQueueStore()
	s.maxSpent = 3
	ctx := t.Context()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if err := s.Spend(ctx, "c", fmt.Sprint(i), t0.Add(time.Duration(i+1)*time.Second), t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Spend(ctx, "c", "3", t0.Add(time.Minute), t0); boxoffice.ErrorCode(err) != boxoffice.CodeUnavailable {
		t.Fatalf("Spend beyond the bound: got %v, want UNAVAILABLE", err)
	}
	// Given back and spent again: still one entry each.
	if err := s.Unspend(ctx, "c", "2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Spend(ctx, "c", "2", t0.Add(3*time.Second), t0); err != nil {
		t.Fatalf("Spend after Unspend: %v", err)
	}
	if n := len(s.proofs.queue); n != 3 {
		t.Errorf("heap: got %d entries, want 3", n)
	}
	// At 2s, the proofs expiring at 1s and 2s are swept.
	if err := s.Spend(ctx, "c", "3", t0.Add(time.Minute), t0.Add(2*time.Second)); err != nil {
		t.Fatalf("Spend after two expired: %v", err)
	}
	if n, m := len(s.proofs.spent), len(s.proofs.queue); n != 2 || m != 2 {
		t.Errorf("after the sweep: got %d spent, %d in the heap, want 2 and 2", n, m)
	}
	if err := s.Spend(ctx, "c", "0", t0.Add(time.Minute), t0.Add(2*time.Second)); err != nil {
		t.Errorf("Spend of a name whose proof expired: %v", err)
	}
}
