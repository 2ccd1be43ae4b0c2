package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
)

// A hoarder is a scripted fan of the on-sale (Options.Hoard) who tries
// what the abuse rules forbid: while waiting it opens a second event stream
// of its queue token beside the first, and once admitted it holds seats,
// lets the hold go (cancelled, or left to lapse), and at once tries to hold
// the same seats again; then it leaves the queue. The server must end the
// first stream and refuse the second hold; the sale must sell out anyway.

// hoarding counts what the hoarders tried and what they were answered.
type hoarding struct {
	hoarders atomic.Int64
	// Second streams: the first stream ended as replaced, or it did not
	// end within streamReplaceWait; or the check could not be made (the
	// fan was admitted meanwhile, or a stream was refused).
	replaced, notReplaced, streamsUnchecked atomic.Int64
	// Re-holds of a fan's own seats right after its hold of them ended:
	// refused (of which with the cooldown's words), granted while the
	// cooldown still ran (a breach), granted only once it could have
	// ended (a slow answer, not a breach), or answered otherwise (the
	// session ended, say).
	refused, cooldown, reheld, reheldLate, reholdOther atomic.Int64
	lapsed, cancelled                                  atomic.Int64
}

// streamReplaceWait is how long a hoarder gives the server to end its
// first stream once the second one answered.
const streamReplaceWait = 5 * time.Second

// Hoarding is what the on-sale's hoarders did, in the report.
type Hoarding struct {
	Hoarders int64 `json:"hoarders"`
	// StreamsReplaced counts first streams ended by a second one;
	// StreamsNotReplaced first streams still open streamReplaceWait after
	// the second answered.
	StreamsReplaced    int64 `json:"streamsReplaced"`
	StreamsNotReplaced int64 `json:"streamsNotReplaced"`
	StreamsUnchecked   int64 `json:"streamsUnchecked"`
	// Holds let go by lapsing or cancelling, then tried again at once.
	Lapsed          int64 `json:"lapsed"`
	Cancelled       int64 `json:"cancelled"`
	RefusedAgain    int64 `json:"refusedAgain"`
	RefusedCooldown int64 `json:"refusedWithCooldown"`
	HeldAgain       int64 `json:"heldAgain"`
	HeldAgainLate   int64 `json:"heldAgainLate"`
	OtherAgain      int64 `json:"otherAgain"`
}

func (h *hoarding) report() *Hoarding {
	return &Hoarding{
		Hoarders:        h.hoarders.Load(),
		StreamsReplaced: h.replaced.Load(), StreamsNotReplaced: h.notReplaced.Load(), StreamsUnchecked: h.streamsUnchecked.Load(),
		Lapsed: h.lapsed.Load(), Cancelled: h.cancelled.Load(),
		RefusedAgain: h.refused.Load(), RefusedCooldown: h.cooldown.Load(), HeldAgain: h.reheld.Load(), HeldAgainLate: h.reheldLate.Load(), OtherAgain: h.reholdOther.Load(),
	}
}

// checks are the audit's checks of the hoarders' tries.
func (r *Hoarding) checks() []Check {
	tried := r.RefusedAgain + r.HeldAgain + r.HeldAgainLate + r.OtherAgain
	return []Check{
		{
			Name: "hoarders were refused their own seats again",
			OK:   r.HeldAgain == 0 && r.RefusedAgain > 0,
			Detail: fmt.Sprintf("%d hoarders; %d holds let go (%d lapsed, %d cancelled) and tried again at once: %d refused (%d with the cooldown's words, the rest taken by others), %d held again within the cooldown, %d held again answered only after it could have ended, %d answered otherwise",
				r.Hoarders, tried, r.Lapsed, r.Cancelled, r.RefusedAgain, r.RefusedCooldown, r.HeldAgain, r.HeldAgainLate, r.OtherAgain),
		},
		{
			Name: "a second event stream ended the first",
			OK:   r.StreamsNotReplaced == 0 && r.StreamsReplaced > 0,
			Detail: fmt.Sprintf("%d first streams ended as replaced, %d still open %s after the second answered, %d not checked (admitted meanwhile, or a stream refused)",
				r.StreamsReplaced, r.StreamsNotReplaced, streamReplaceWait, r.StreamsUnchecked),
		},
	}
}

// hoard is a hoarder's visit.
func (e *engine) hoard(ctx context.Context, s *sale, f *saleFan) {
	s.hoard.hoarders.Add(1)
	if !sleep(ctx, time.Until(f.joinAt)) {
		f.outcome = outWaiting
		return
	}
	st, ok := e.join(ctx, s, f)
	if !ok {
		return
	}
	if st.Status == "WAITING" || st.Status == "PREQUEUE" {
		e.secondStream(ctx, s, f)
	} else {
		s.hoard.streamsUnchecked.Add(1)
	}
	if !e.waitAdmitted(ctx, s, f, st) {
		return
	}
	r, ok := e.choose(ctx, s, f)
	if !ok {
		return
	}
	// The cooldown runs for the hold's length from the release: the
	// lapse, or the cancel (no earlier than it was asked for).
	released := r.ExpiresAt
	if f.rng.IntN(2) == 0 {
		s.hoard.lapsed.Add(1)
		if !sleep(ctx, time.Until(r.ExpiresAt)+50*time.Millisecond) {
			f.outcome = outWaiting
			return
		}
	} else {
		released = time.Now()
		err := e.fanDo(ctx, s, f, routeCancel, func(c *boxhttp.Client) error {
			return c.Cancel(ctx, f.access, f.queueToken, r.ReservationID)
		})
		if err != nil {
			f.outcome = outFailed
			return
		}
		s.hoard.cancelled.Add(1)
	}
	seats := make([]int, len(r.Seats))
	for i, seat := range r.Seats {
		seats[i] = seat.Number
	}
	req := boxhttp.HoldRequest{ConcertID: s.concert.ConcertID, Date: r.Date, SeatNumbers: seats}
	var again boxhttp.Reservation
	err := e.fanDo(ctx, s, f, routeHold, func(c *boxhttp.Client) error {
		var err error
		again, err = c.Hold(ctx, f.access, f.queueToken, req)
		return err
	})
	var be *boxoffice.Error
	switch {
	case err == nil && time.Now().Before(released.Add(time.Duration(s.concert.HoldSeconds)*time.Second)):
		s.hoard.reheld.Add(1)
		f.holds = append(f.holds, saleHold{Reservation: again})
	case err == nil:
		s.hoard.reheldLate.Add(1)
		f.holds = append(f.holds, saleHold{Reservation: again})
	case boxoffice.ErrorCode(err) == boxoffice.CodeSeatUnavailable:
		s.hoard.refused.Add(1)
		if errors.As(err, &be) && strings.HasPrefix(be.Message, "you held seat") {
			s.hoard.cooldown.Add(1)
		}
	default:
		s.hoard.reholdOther.Add(1)
	}
	e.leave(ctx, s, f)
	f.outcome = outHoarded
}

// secondStream opens an event stream of the fan's queue token, then a
// second one, and counts whether the server ended the first.
func (e *engine) secondStream(ctx context.Context, s *sale, f *saleFan) {
	ctx, cancel := context.WithTimeout(ctx, 3*streamReplaceWait)
	defer cancel()
	cl := e.streamers[f.target]
	first, err := cl.QueueEvents(ctx, f.access, f.queueToken, 0)
	if err != nil {
		s.hoard.streamsUnchecked.Add(1)
		return
	}
	defer first.Close()
	if ev, err := first.Next(); err != nil || !waiting(ev.Status) {
		s.hoard.streamsUnchecked.Add(1)
		return
	}
	ended := make(chan error, 1)
	go func() {
		for {
			ev, err := first.Next()
			if err != nil {
				ended <- err
				return
			}
			if !waiting(ev.Status) {
				ended <- io.EOF
				return
			}
		}
	}()
	second, err := cl.QueueEvents(ctx, f.access, f.queueToken, 0)
	if err != nil {
		s.hoard.streamsUnchecked.Add(1)
		return
	}
	defer second.Close()
	if _, err := second.Next(); err != nil {
		s.hoard.streamsUnchecked.Add(1)
		return
	}
	t := time.NewTimer(streamReplaceWait)
	defer t.Stop()
	select {
	case err := <-ended:
		if errors.Is(err, boxhttp.ErrStreamReplaced) {
			s.hoard.replaced.Add(1)
		} else {
			s.hoard.streamsUnchecked.Add(1) // admitted, or the stream broke
		}
	case <-t.C:
		s.hoard.notReplaced.Add(1)
	case <-ctx.Done():
	}
}

func waiting(st boxhttp.QueueStatus) bool {
	return st.Status == "WAITING" || st.Status == "PREQUEUE"
}
