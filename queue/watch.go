package queue

import (
	"context"
	"sync"
	"time"

	"github.com/boxoffice/boxoffice"
)

// Refresh intervals of a Watcher.
const (
	// DefaultWatchTick is how often a Watcher refreshes fans near the head.
	DefaultWatchTick = 250 * time.Millisecond
	// MaxWatchInterval is the longest a Watcher leaves a fan unrefreshed,
	// however far back; half the room's idle limit if that is shorter.
	MaxWatchInterval = 10 * time.Second
	// watchCallTimeout bounds one Statuses call of a Watcher.
	watchCallTimeout = 5 * time.Second
)

// Watcher pushes the standing of tickets to the fans who watch them, and
// keeps their waiting places alive while they do. It runs one goroutine
// per watched room, started with the room's first subscription and ended
// with its last; the goroutine refreshes all of the room's subscriptions
// with Store.Statuses, StatusBatch tickets per call. A fan whose expected
// wait is short is refreshed every tick; one far back, about ten times per
// expected wait, at most MaxWatchInterval apart and always within half the
// room's idle limit. Every instance watches its own subscribers against the
// shared store. It is safe for concurrent use.
type Watcher struct {
	svc  *Service
	tick time.Duration

	// Pace, if set before the first Watch, replaces the ticker of every
	// room's goroutine: each value it receives starts one refresh pass.
	Pace <-chan time.Time

	ctx    context.Context // ends with Close
	cancel context.CancelFunc

	mu     sync.Mutex
	rooms  map[string]*watchedRoom
	open   int // subscriptions
	closed bool
	wg     sync.WaitGroup
}

// watchedRoom is one room's subscriptions on this instance; w.mu guards it.
type watchedRoom struct {
	id      string
	subs    map[*subscription]struct{}
	quit    chan struct{} // closed when the last subscription ends
	failing bool          // the last refresh failed; logged once
}

// subscription is one Watch; w.mu guards it.
type subscription struct {
	ticket Ticket
	ch     chan Status
	notify func()    // nil, or called after each send and the close
	last   change    // what was last sent
	due    time.Time // next refresh, by the service's clock
	stop   func() bool
	done   bool
}

// change is what a fan sees of a status: a new value is sent only when it
// differs.
type change struct {
	state     State
	position  int64
	prequeued int64
	wait      int64
	expires   time.Time
}

// NewWatcher returns a Watcher of s's rooms refreshing fans near the head
// every tick (DefaultWatchTick when tick <= 0).
func NewWatcher(s *Service, tick time.Duration) *Watcher {
	if tick <= 0 {
		tick = DefaultWatchTick
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Watcher{svc: s, tick: tick, ctx: ctx, cancel: cancel, rooms: make(map[string]*watchedRoom)}
}

// Watch returns a channel of t's standing. The channel holds the current
// standing at once, then receives a new one whenever the state, position,
// prequeue size, wait estimate or session expiry changes. It keeps only the
// latest value: a slow reader skips intermediate ones, never the last. It
// is closed after an Admitted, Expired or SoldOut standing, when ctx ends,
// or when the Watcher is closed. A ticket of a room the store does not know
// is Expired. While watched, a waiting place is kept alive. Errors: those
// of Store.Status, such as UNAVAILABLE.
func (w *Watcher) Watch(ctx context.Context, t Ticket) (<-chan Status, error) {
	return w.WatchFunc(ctx, t, nil)
}

// WatchFunc is Watch, calling notify (when not nil) each time after a
// value is put on the channel or the channel is closed, but for the
// current standing it holds at once. notify must not block: it runs under
// the Watcher's lock. It lets one goroutine follow many channels.
func (w *Watcher) WatchFunc(ctx context.Context, t Ticket, notify func()) (<-chan Status, error) {
	now := w.svc.Now()
	st, err := w.svc.store.Status(ctx, t, now)
	switch {
	case boxoffice.ErrorCode(err) == boxoffice.CodeNotFound:
		st = Status{Ticket: t, State: Expired}
	case err != nil:
		return nil, err
	}
	ch := make(chan Status, 1)
	ch <- st
	if final(st.State) {
		close(ch)
		return ch, nil
	}
	wait, _ := Estimate(st, now)
	s := &subscription{ticket: t, ch: ch, notify: notify, last: changeOf(st, wait), due: w.next(st, wait, now)}

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		close(ch)
		return ch, nil
	}
	r := w.rooms[t.ConcertID]
	if r == nil {
		r = &watchedRoom{id: t.ConcertID, subs: make(map[*subscription]struct{}), quit: make(chan struct{})}
		w.rooms[r.id] = r
		w.wg.Add(1)
		go w.run(r)
	}
	r.subs[s] = struct{}{}
	w.open++
	// Registered under w.mu: if ctx has ended already, the callback waits
	// for the lock and finds the subscription in place.
	s.stop = context.AfterFunc(ctx, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.end(r, s)
	})
	return ch, nil
}

// Watching returns the number of open subscriptions.
func (w *Watcher) Watching() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.open
}

// Rooms returns the number of rooms being watched, one goroutine each.
func (w *Watcher) Rooms() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.rooms)
}

// Close ends every subscription, closing its channel, and waits for the
// rooms' goroutines to stop. Later Watch calls send the current standing
// and close the channel at once.
func (w *Watcher) Close() {
	w.mu.Lock()
	w.closed = true
	for _, r := range w.rooms {
		for s := range r.subs {
			w.end(r, s)
		}
	}
	w.mu.Unlock()
	w.cancel()
	w.wg.Wait()
}

// end closes s and forgets it, and forgets r when s was its last
// subscription; w.mu must be held.
func (w *Watcher) end(r *watchedRoom, s *subscription) {
	if s.done {
		return
	}
	s.done = true
	close(s.ch)
	if s.notify != nil {
		s.notify()
	}
	if s.stop != nil {
		s.stop()
	}
	delete(r.subs, s)
	w.open--
	if len(r.subs) == 0 && w.rooms[r.id] == r {
		delete(w.rooms, r.id)
		close(r.quit)
	}
}

// run refreshes r every tick until its last subscription ends.
func (w *Watcher) run(r *watchedRoom) {
	defer w.wg.Done()
	pace := w.Pace
	if pace == nil {
		t := time.NewTicker(w.tick)
		defer t.Stop()
		pace = t.C
	}
	for {
		select {
		case <-r.quit:
			return
		case <-pace:
			w.refresh(r)
		}
	}
}

// refresh asks the store for the subscriptions of r that are due, and
// sends what changed. When none is due it asks for the one due first, so
// that the room is looked at every tick; when any reads SoldOut, or the
// room is gone, it refreshes every subscription at once.
func (w *Watcher) refresh(r *watchedRoom) {
	now := w.svc.Now()
	w.mu.Lock()
	var due []*subscription
	var first *subscription
	for s := range r.subs {
		if !now.Before(s.due) {
			due = append(due, s)
		} else if first == nil || s.due.Before(first.due) {
			first = s
		}
	}
	if len(due) == 0 && first != nil {
		due = append(due, first)
	}
	w.mu.Unlock()

	if w.refreshSome(r, due, now) {
		w.mu.Lock()
		due = due[:0]
		for s := range r.subs {
			due = append(due, s)
		}
		w.mu.Unlock()
		w.refreshSome(r, due, now)
	}
}

// refreshSome refreshes subs, in batches of StatusBatch, and reports
// whether the whole room should be refreshed: one of them read SoldOut
// where it had not, or the room is gone.
func (w *Watcher) refreshSome(r *watchedRoom, subs []*subscription, now time.Time) (all bool) {
	tickets := make([]Ticket, 0, min(len(subs), StatusBatch))
	for i := 0; i < len(subs); i += StatusBatch {
		batch := subs[i:min(i+StatusBatch, len(subs))]
		tickets = tickets[:0]
		for _, s := range batch {
			tickets = append(tickets, s.ticket)
		}
		ctx, cancel := context.WithTimeout(w.ctx, watchCallTimeout)
		sts, err := w.svc.store.Statuses(ctx, r.id, tickets, now)
		cancel()
		gone := boxoffice.ErrorCode(err) == boxoffice.CodeNotFound
		if err != nil && !gone {
			w.failed(r, err)
			return false
		}
		w.mu.Lock()
		if r.failing {
			r.failing = false
			w.svc.log.Info("watching waiting room again", "concert", r.id)
		}
		for k, s := range batch {
			if s.done {
				continue
			}
			st := Status{Ticket: s.ticket, State: Expired}
			if !gone {
				st = sts[k]
			}
			if st.State == SoldOut && s.last.state != SoldOut || gone {
				all = true
			}
			w.send(r, s, st, now)
		}
		w.mu.Unlock()
	}
	return all
}

// failed logs the first of a run of failed refreshes of r. The
// subscriptions stay due and are asked for again at the next tick.
func (w *Watcher) failed(r *watchedRoom, err error) {
	w.mu.Lock()
	first := !r.failing
	r.failing = true
	w.mu.Unlock()
	if first && w.ctx.Err() == nil {
		w.svc.log.Warn("watch waiting room", "concert", r.id, "err", err)
	}
}

// send gives s its new standing if it changed, ends s after a final one,
// and schedules its next refresh; w.mu must be held.
func (w *Watcher) send(r *watchedRoom, s *subscription, st Status, now time.Time) {
	wait, _ := Estimate(st, now)
	c := changeOf(st, wait)
	if c != s.last || final(st.State) {
		select {
		case <-s.ch: // replaced by the newer value
		default:
		}
		s.ch <- st // cannot block: w.mu is held by the only sender
		s.last = c
		if s.notify != nil && !final(st.State) {
			s.notify() // after a final one, end notifies
		}
	}
	if final(st.State) {
		w.end(r, s)
		return
	}
	s.due = w.next(st, wait, now)
}

// next is when a fan whose standing is st, expecting to wait wait seconds,
// is refreshed again: after a tenth of the wait (to the opening, for a
// prequeue place), at least a tick and at most MaxWatchInterval or half the
// idle limit.
func (w *Watcher) next(st Status, wait int64, now time.Time) time.Time {
	gap := time.Duration(wait) * time.Second / 10
	if st.State == Prequeue {
		gap = st.Room.OpensAt.Sub(now)
	}
	limit := MaxWatchInterval
	if idle := st.Room.Settings.Idle() / 2; idle > 0 {
		limit = min(limit, idle)
	}
	gap = min(max(gap, w.tick), limit)
	return now.Add(gap)
}

func changeOf(st Status, wait int64) change {
	return change{state: st.State, position: st.Position, prequeued: st.Prequeued, wait: wait, expires: st.SessionExpiresAt}
}

// final reports whether a standing ends a watch.
func final(s State) bool { return s == Admitted || s == Expired || s == SoldOut }
