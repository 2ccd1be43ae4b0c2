package event

import (
	"context"
	"time"
)

// NoConcert is the concert key under which events about no concert are
// numbered.
const NoConcert = "00000000-0000-0000-0000-000000000000"

// Key is the concert key of concertID: itself, or NoConcert for "".
func Key(concertID string) string {
	if concertID == "" {
		return NoConcert
	}
	return concertID
}

// Head is what a store keeps of one concert's events: the last seq given,
// whether its SoldOut event was written, and whether a sale numbered in a
// truncated batch is still to be checked for having sold the last seat.
type Head struct {
	Key     string
	Seq     int64
	SoldOut bool
	Check   bool
}

// Batch numbers one batch of an outbox, read in commit order: the
// arithmetic every store shares. Use: NewBatch, SetHead for the Keys and
// the heads to Check, SoldOut with the SoldOutCandidates found sold out,
// then Number, and write back Heads.
type Batch struct {
	evs       []Event
	truncated bool
	heads     map[string]*batchHead
	paid      []string
}

type batchHead struct {
	Head
	changed bool
}

// NewBatch starts numbering evs. truncated says the outbox held more
// events than evs: a later sale of a concert may still be waiting, so no
// SoldOut is decided in this batch.
func NewBatch(evs []Event, truncated bool) *Batch {
	b := &Batch{evs: evs, truncated: truncated, heads: map[string]*batchHead{}}
	seen := map[string]bool{}
	for _, e := range evs {
		if e.Type == ReservationPaid && e.ConcertID != "" && !seen[e.ConcertID] {
			seen[e.ConcertID] = true
			b.paid = append(b.paid, e.ConcertID)
		}
	}
	return b
}

// Keys are the concert keys of the batch's events, each once.
func (b *Batch) Keys() []string {
	seen := map[string]bool{}
	var keys []string
	for _, e := range b.evs {
		if k := Key(e.ConcertID); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// SetHead tells the batch a stored head.
func (b *Batch) SetHead(h Head) { b.heads[h.Key] = &batchHead{Head: h} }

func (b *Batch) head(key string) *batchHead {
	h := b.heads[key]
	if h == nil {
		h = &batchHead{Head: Head{Key: key}}
		b.heads[key] = h
	}
	return h
}

// SoldOutCandidates are the concerts to check now for having no unsold
// seat: those with a sale in the batch or marked to be checked, not sold
// out before. The check must read the same snapshot the batch was read
// with, so that every sale it sees committed is in this batch or an
// earlier one.
func (b *Batch) SoldOutCandidates() []string {
	var cands []string
	seen := map[string]bool{}
	for _, c := range b.paid {
		h := b.head(c)
		if !h.SoldOut && !seen[c] {
			seen[c] = true
			cands = append(cands, c)
		}
	}
	for key, h := range b.heads {
		if h.Check && !h.SoldOut && !seen[key] {
			seen[key] = true
			cands = append(cands, key)
		}
	}
	if b.truncated {
		for _, c := range cands {
			if h := b.head(c); !h.Check {
				h.Check, h.changed = true, true
			}
		}
		return nil
	}
	return cands
}

// SoldOut records the result of checking SoldOutCandidates: sold are the
// concerts without an unsold seat. Each gets its SoldOut event after its
// other events of the batch, dated like the last of them (or now).
func (b *Batch) SoldOut(cands, sold []string, now time.Time) {
	for _, c := range cands {
		if h := b.head(c); h.Check {
			h.Check, h.changed = false, true
		}
	}
	for _, c := range sold {
		var at time.Time
		for _, e := range b.evs {
			if e.ConcertID == c && e.At.After(at) {
				at = e.At
			}
		}
		if at.IsZero() {
			at = now
		}
		e, _ := New(SoldOut, c, at, SoldOutData{V: Version}) // cannot fail
		b.evs = append(b.evs, e)
		h := b.head(c)
		h.SoldOut, h.changed = true, true
	}
}

// Number gives the batch's events the positions after last and the seqs
// after their concerts' heads, and returns them in position order.
func (b *Batch) Number(last int64) []Event {
	for i := range b.evs {
		e := &b.evs[i]
		h := b.head(Key(e.ConcertID))
		h.Seq++
		h.changed = true
		last++
		e.Seq, e.Position = h.Seq, last
	}
	return b.evs
}

// Heads are the heads the batch changed, to be written back.
func (b *Batch) Heads() []Head {
	var hs []Head
	for _, h := range b.heads {
		if h.changed {
			hs = append(hs, h.Head)
		}
	}
	return hs
}

// Outbox is a store's outbox inside one transaction of the store's: the
// steps NumberOutbox takes.
type Outbox interface {
	// Read reads up to limit events of the outbox, in commit order.
	Read(ctx context.Context, limit int) ([]Event, error)
	// ReadHeads reads into b the heads of its Keys and those to Check.
	ReadHeads(ctx context.Context, b *Batch) error
	// CheckSoldOut calls b.SoldOut with those of b.SoldOutCandidates that
	// have sold their last seat.
	CheckSoldOut(ctx context.Context, b *Batch) error
	// Numbered is the last position given.
	Numbered(ctx context.Context) (int64, error)
	// Write writes out, the numbered events, and heads, makes last the
	// last position given, and removes from the outbox what Read read.
	Write(ctx context.Context, out []Event, heads []Head, last int64) error
}

// NumberOutbox numbers up to limit events of o and returns how many it
// wrote, SoldOut events included.
func NumberOutbox(ctx context.Context, o Outbox, limit int) (int, error) {
	evs, err := o.Read(ctx, limit)
	if err != nil {
		return 0, err
	}
	// An empty batch still settles the concerts left to check for a sale
	// of the last seat.
	b := NewBatch(evs, len(evs) == limit)
	if err := o.ReadHeads(ctx, b); err != nil {
		return 0, err
	}
	if err := o.CheckSoldOut(ctx, b); err != nil {
		return 0, err
	}
	if len(evs) == 0 && len(b.Heads()) == 0 {
		return 0, nil
	}
	numbered, err := o.Numbered(ctx)
	if err != nil {
		return 0, err
	}
	out := b.Number(numbered)
	if err := o.Write(ctx, out, b.Heads(), numbered+int64(len(out))); err != nil {
		return 0, err
	}
	return len(out), nil
}
