package event

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"time"
)

// Publisher stores events on a message stream, in the order given. It
// returns how many of evs, from the first, the stream acknowledged; an
// error says why the rest were not (they are offered again later, and a
// stream that already has one must not store it twice).
type Publisher func(ctx context.Context, evs []Event) (int, error)

// Relay numbers a store's events, publishes them when it has a Publisher,
// and trims those kept longer than Keep. Run it on every instance: one at a
// time holds the store's claim and works; the others wait to take over.
type Relay struct {
	Store   Store
	Publish Publisher // nil: events are numbered and served, not published
	// Keep is how long numbered events stay for the feed (and, with a
	// Publisher, at least until published); default DefaultKeep.
	Keep time.Duration
	// Every is how often the holder looks for new events, and how often
	// the others try to claim; default DefaultEvery.
	Every time.Duration
	// Batch bounds the events numbered at a time, and those published
	// after each numbering, PublishBatch at a time; defaults DefaultBatch
	// and DefaultPublishBatch.
	Batch, PublishBatch int
	Log                 *slog.Logger

	numbered, relayed atomic.Int64
	holding           atomic.Bool
}

// Defaults of Relay.
const (
	DefaultKeep  = 72 * time.Hour
	DefaultEvery = 100 * time.Millisecond
	// DefaultBatch: a numbering costs a dozen round trips whatever its
	// size, so it must be large for the relay to keep up with the sale
	// (with 500, it fell behind holds at 11,000 a second).
	DefaultBatch = 5000
	// DefaultPublishBatch stays under the stream's bound on asynchronous
	// publishes awaiting their acknowledgement (4,000 by default).
	DefaultPublishBatch = 1000
	trimEvery           = time.Minute
	maxBackoff          = 5 * time.Second
)

// Counts says how many events this relay numbered and published since it
// started, and whether it holds the claim now.
func (r *Relay) Counts() (numbered, relayed int64, holding bool) {
	return r.numbered.Load(), r.relayed.Load(), r.holding.Load()
}

func (r *Relay) defaults() {
	if r.Keep <= 0 {
		r.Keep = DefaultKeep
	}
	if r.Every <= 0 {
		r.Every = DefaultEvery
	}
	if r.Batch <= 0 {
		r.Batch = DefaultBatch
	}
	if r.PublishBatch <= 0 {
		r.PublishBatch = DefaultPublishBatch
	}
	if r.Log == nil {
		r.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Run relays until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	r.defaults()
	wait := r.Every
	for ctx.Err() == nil {
		c, err := r.Store.Claim(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			// The database is away: try again, less and less often.
			r.Log.Warn("claim the event relay", "err", err, "retry_in", wait)
		case c != nil:
			r.holding.Store(true)
			err = r.hold(ctx, c)
			r.holding.Store(false)
			c.Release()
			if err != nil && ctx.Err() == nil {
				r.Log.Warn("event relay lost its claim", "err", err)
			}
		}
		sleep(ctx, wait)
		if err != nil {
			wait = min(2*wait, maxBackoff)
		} else {
			wait = r.Every
		}
	}
}

// hold works while the claim lasts: it returns on a failure of the store,
// after which the claim is taken again from scratch.
func (r *Relay) hold(ctx context.Context, c Claim) error {
	var lastTrim time.Time
	backoff := time.Duration(0)
	var publishAfter time.Time
	for ctx.Err() == nil {
		n, err := c.Number(ctx, r.Batch)
		r.numbered.Add(int64(n))
		if err != nil {
			return err
		}
		busy := n == r.Batch
		if r.Publish != nil && !time.Now().Before(publishAfter) {
			more, perr, err := r.publish(ctx, c)
			if err != nil {
				return err
			}
			switch {
			case perr != nil && ctx.Err() == nil:
				// The stream is down or refused: keep numbering, and
				// offer the events again later.
				backoff = min(max(2*backoff, r.Every), maxBackoff)
				publishAfter = time.Now().Add(backoff)
				r.Log.Warn("publish events", "retry_in", backoff, "err", perr)
			case perr == nil:
				backoff = 0
				busy = busy || more
			}
		}
		if time.Since(lastTrim) >= trimEvery {
			lastTrim = time.Now()
			if _, err := c.Trim(ctx, time.Now().Add(-r.Keep), r.Publish != nil); err != nil {
				return err
			}
		}
		if !busy {
			sleep(ctx, r.Every)
		}
	}
	return nil
}

// publish publishes up to Batch unrelayed events, PublishBatch at a time,
// and moves the relayed mark past each run the stream acknowledged: as
// many as a numbering numbers, read at once. more says Batch were read and
// all published; perr is the stream's failure, err the store's.
func (r *Relay) publish(ctx context.Context, c Claim) (more bool, perr, err error) {
	evs, err := c.Unrelayed(ctx, r.Batch)
	if err != nil {
		return false, nil, err
	}
	read := len(evs)
	for len(evs) > 0 {
		run := evs[:min(len(evs), r.PublishBatch)]
		k, perr := r.Publish(ctx, run)
		if k > 0 {
			if err := c.Relayed(ctx, run[k-1].Position); err != nil {
				return false, nil, err
			}
			r.relayed.Add(int64(k))
		}
		if perr != nil {
			return false, perr, nil
		}
		evs = evs[len(run):]
	}
	return read == r.Batch, nil, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
