package boxoffice_test

import (
	"context"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
)

func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		boxoffice.Every(ctx, time.Millisecond, func() {
			calls++
			if calls == 3 {
				cancel()
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Every did not return after its context ended")
	}
	if calls != 3 {
		t.Errorf("calls: got %d, want 3 (none after the context ended)", calls)
	}
}
