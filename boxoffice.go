// Package boxoffice holds what every part of Boxoffice shares: identifiers,
// money, the clock and the error type with the codes of the public API.
// It does no I/O.
package boxoffice

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Money is an amount of Korean won. Won has no minor unit, so an amount is
// always a whole number.
type Money int64

// NewID returns a new time-ordered identifier (a UUIDv7 in canonical form).
// Identifiers sort by creation time, which keeps index inserts at the end of
// B-trees and makes them usable as cursors.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// ValidID reports whether s is an identifier in UUID form (8-4-4-4-12 hex
// digits, in either case).
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

// CanonID returns the canonical form of the identifier s, its lowercase
// UUID form, and whether s is an identifier at all (if not, s comes back as
// it was). A UUID is one identifier whatever the case of its hex digits, so
// every id that enters the service is compared, stored and looked up in
// this form.
func CanonID(s string) (string, bool) {
	if !ValidID(s) {
		return s, false
	}
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'F' {
			return strings.ToLower(s), true
		}
	}
	return s, true
}

// Clock tells the time. Every rule that depends on time takes it from a Clock
// so that expiry can be tested at the exact instant without sleeping.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns the current time in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// ManualClock is a Clock that moves only when told to. It is safe for
// concurrent use.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a clock stopped at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t.UTC()} }

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t.UTC()
	c.mu.Unlock()
}

// Advance moves the clock forward by d and returns the new time.
func (c *ManualClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Every calls f every interval until ctx ends: the loop of each background
// task (the sweeper, the rooms' end, a subscription's check). A call that
// outlasts the interval delays the next one rather than overlapping it.
func Every(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}
