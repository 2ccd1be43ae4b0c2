package http

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestFlagCache(t *testing.T) {
	ctx := context.Background()
	loads := 0
	value, fail := false, false
	load := func(context.Context) (bool, error) {
		loads++
		if fail {
			return false, errors.New("down")
		}
		return value, nil
	}
	c := newFlagCache(time.Second)

	t.Run("MissLoads", func(t *testing.T) {
		got, err := c.get(ctx, "k", t0, load)
		if got != false || err != nil || loads != 1 {
			t.Fatalf("got %v, %v after %d loads; want false, nil after 1", got, err, loads)
		}
	})
	t.Run("FreshIsCached", func(t *testing.T) {
		value = true
		got, _ := c.get(ctx, "k", t0.Add(999*time.Millisecond), load)
		if got != false || loads != 1 {
			t.Fatalf("got %v after %d loads; want the cached false after 1", got, loads)
		}
	})
	t.Run("StaleReloads", func(t *testing.T) {
		got, _ := c.get(ctx, "k", t0.Add(time.Second), load)
		if got != true || loads != 2 {
			t.Fatalf("got %v after %d loads; want true after 2", got, loads)
		}
	})
	t.Run("FailedReloadKeepsStale", func(t *testing.T) {
		fail = true
		got, err := c.get(ctx, "k", t0.Add(3*time.Second), load)
		if got != true || err != nil {
			t.Fatalf("got %v, %v; want the stale true, nil", got, err)
		}
	})
	t.Run("FailedFirstLoadIsAnError", func(t *testing.T) {
		if _, err := c.get(ctx, "other", t0, load); err == nil {
			t.Fatal("got nil error, want the load's error")
		}
	})
	t.Run("OneReloadWhileOthersServeStale", func(t *testing.T) {
		fail = false
		c := newFlagCache(time.Second)
		c.get(ctx, "k", t0, load)
		n := loads
		inLoad := make(chan struct{})
		release := make(chan struct{})
		done := make(chan bool)
		go func() {
			v, _ := c.get(ctx, "k", t0.Add(2*time.Second), func(context.Context) (bool, error) {
				close(inLoad)
				<-release
				return false, nil
			})
			done <- v
		}()
		<-inLoad
		value = false
		got, _ := c.get(ctx, "k", t0.Add(2*time.Second), load)
		if got != true || loads != n {
			t.Errorf("during a reload got %v after %d more loads; want stale true after none", got, loads-n)
		}
		close(release)
		if v := <-done; v != false {
			t.Errorf("reloading caller got %v, want false", v)
		}
	})
}
