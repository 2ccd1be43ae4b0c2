// Package memory keeps waiting rooms in the memory of one process: the
// queue.Store of the embedded single-instance mode. It follows the same
// rules as the shared Redis store, to the millisecond.
package memory

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/boxoffice/boxoffice/queue"
)

// QueueStore is a queue.Store for one process. Each room has its own lock;
// times are kept to the millisecond, like in Redis. Places with one draw
// key are ordered by seq.
type QueueStore struct {
	rooms sync.Map // concert ID → *room

	mu     sync.Mutex
	claims map[string]string // concert ID → owner, while a room is restored

	pmu      sync.Mutex
	proofs   proofs
	maxSpent int

	sweepBatch, admitLimit int64
	logLen                 int
}

var _ queue.Store = (*QueueStore)(nil)

// NewQueueStore returns an empty store.
func NewQueueStore() *QueueStore {
	return &QueueStore{sweepBatch: queue.SweepPerStep, admitLimit: queue.MaxAdmitPerStep, logLen: queue.AdmissionLogLen,
		claims: make(map[string]string), maxSpent: queue.MaxSpentProofs}
}

type room struct {
	mu       sync.Mutex
	id       string
	settings queue.Settings
	opensAt  int64 // ms
	version  int64

	seq       int64
	bucket    queue.Bucket
	rate      float64
	lastStep  int64 // ms of the last step at or after the opening
	stepped   bool
	admitted  int64 // total
	dropped   int64 // total dropped for idleness
	abandoned int64 // total left or dropped while waiting

	abandonRate     float64
	abandonStep     int64 // ms of the last step that measured abandonment
	abandonStepped  bool
	abandonedAtStep int64 // abandoned at that step

	drawn   bool
	draw    []string // user IDs in draw order, once drawn
	drawnAt int64    // ms

	supply     queue.Supply
	supplied   bool
	suppliedAt int64

	waits queue.WaitHistogram
	log   []queue.AdmissionRecord

	leaseOwner string
	leaseUntil int64

	users   map[string]*place
	peak    int // most users since the map was last rebuilt
	waiting tree
	seen    tree // waiting places by last heartbeat
	active  tree // sessions by expiry
}

// place is a live ticket: waiting in r.waiting and r.seen, or admitted in
// r.active.
type place struct {
	user     string
	seq      int64
	key      int64 // draw key, or queue.DrawSpan + seq
	joined   int64 // ms
	admitted bool
	at       int64 // ms: last heartbeat while waiting, session expiry once admitted
	end      int64 // ms: a session's absolute end; 0 for none
	w, t     node  // w in waiting; t in seen or active
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// endOf is the absolute end (ms) of a session admitted at at under s; 0 for
// none.
func endOf(s queue.Settings, at time.Time) int64 {
	if e := s.SessionEnd(at); !e.IsZero() {
		return ms(e)
	}
	return 0
}

// capped is the session expiry exp, no later than the absolute end.
func capped(exp, end int64) int64 {
	if end > 0 {
		return min(exp, end)
	}
	return exp
}

func timeOf(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func (s *QueueStore) room(id string) *room {
	if v, ok := s.rooms.Load(id); ok {
		return v.(*room)
	}
	return nil
}

// Configure sets a room's settings and opening, unless its version is
// newer. A room the store does not have is left alone.
func (s *QueueStore) Configure(_ context.Context, cfg queue.Room) error {
	r := s.room(cfg.ConcertID)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	if cfg.Version >= r.version {
		r.settings, r.opensAt, r.version = cfg.Settings, ms(cfg.OpensAt), cfg.Version
	}
	r.mu.Unlock()
	return nil
}

// Restore builds the room from the snapshot load returns, if the store
// does not have it. Errors: UNAVAILABLE while another owner restores it.
func (s *QueueStore) Restore(ctx context.Context, cfg queue.Room, load func(context.Context) (queue.Snapshot, error), owner string, _ time.Duration, now time.Time) error {
	s.mu.Lock()
	if s.room(cfg.ConcertID) != nil {
		s.mu.Unlock()
		return nil
	}
	if o, ok := s.claims[cfg.ConcertID]; ok && o != owner {
		s.mu.Unlock()
		return queue.RebuildingError()
	}
	s.claims[cfg.ConcertID] = owner
	s.mu.Unlock()
	snap, err := load(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.claims, cfg.ConcertID)
	if err != nil {
		return err
	}
	t := ms(now)
	r := &room{id: cfg.ConcertID, settings: cfg.Settings, opensAt: ms(cfg.OpensAt), version: cfg.Version,
		users: make(map[string]*place), seq: snap.Seq, admitted: snap.Admitted}
	if snap.Seq > 0 {
		// Credit starts empty and the window full: a rebuilt room admits no
		// more in its first period than the period allows.
		r.bucket = queue.Bucket{Last: now, Recent: []queue.Step{{At: now, N: cfg.Settings.RateLimit()}}}
	}
	exp := t + int64(cfg.Settings.SessionSeconds)*1000
	for _, sp := range snap.Places {
		p := &place{user: sp.UserID, seq: sp.Seq, key: sp.Key, joined: ms(sp.JoinedAt), admitted: sp.Admitted}
		p.w.p, p.t.p = p, p
		if p.admitted {
			at := sp.AdmittedAt
			if at.IsZero() {
				at = now
			}
			p.end = endOf(cfg.Settings, at)
			p.at = capped(exp, p.end)
			r.active.Insert(&p.t, p.at, p.seq)
		} else {
			p.at = t
			r.waiting.Insert(&p.w, p.key, p.seq)
			r.seen.Insert(&p.t, t, p.seq)
		}
		r.users[p.user] = p
	}
	r.peak = len(r.users)
	if snap.Drawn {
		r.drawn, r.drawnAt, r.draw = true, ms(snap.DrawnAt), slices.Clone(snap.Draw)
	}
	r.log = slices.Clone(snap.Log)
	if len(r.log) > s.logLen {
		r.log = r.log[len(r.log)-s.logLen:]
	}
	s.rooms.Store(cfg.ConcertID, r)
	return nil
}

// Join gives each user a place at the back of the room or returns the
// live place or session they have. Errors: NOT_FOUND for an unknown room;
// per user, SOLD_OUT.
func (s *QueueStore) Join(_ context.Context, cfg queue.Room, userIDs []string, now time.Time) ([]queue.Joined, error) {
	r := s.room(cfg.ConcertID)
	if r == nil {
		return nil, queue.NoRoomError(cfg.ConcertID)
	}
	t := ms(now)
	out := make([]queue.Joined, len(userIDs))
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, u := range userIDs {
		st, created, err := r.join(cfg.Seed, u, t)
		out[i] = queue.Joined{Status: st, Created: created, Err: err}
	}
	return out, nil
}

// join is Join of one user in r, whose lock is held.
func (r *room) join(seed []byte, userID string, t int64) (queue.Status, bool, error) {
	if p := r.users[userID]; p != nil {
		if r.live(p, t) {
			if !p.admitted {
				if r.soldOut() {
					return queue.Status{}, false, queue.SoldOutError()
				}
				r.heartbeat(p, t)
			}
			return r.status(p, t), false, nil
		}
		if !p.admitted {
			r.dropped++
			r.abandoned++
		}
		r.remove(p)
	}
	if r.soldOut() {
		return queue.Status{}, false, queue.SoldOutError()
	}
	r.seq++
	p := &place{user: userID, seq: r.seq, key: queue.DrawSpan + r.seq, joined: t, at: t}
	if t < r.opensAt && !r.drawn {
		p.key = int64(queue.DrawKey(seed, queue.EntryID(r.id, userID)))
	}
	p.w.p, p.t.p = p, p
	r.waiting.Insert(&p.w, p.key, p.seq)
	r.seen.Insert(&p.t, t, p.seq)
	r.users[userID] = p
	r.peak = max(r.peak, len(r.users))
	return r.status(p, t), true, nil
}

// Status returns t's standing and records a heartbeat for a waiting place.
// Errors: NOT_FOUND for an unknown room.
func (s *QueueStore) Status(_ context.Context, tk queue.Ticket, now time.Time) (queue.Status, error) {
	r := s.room(tk.ConcertID)
	if r == nil {
		return queue.Status{}, queue.NoRoomError(tk.ConcertID)
	}
	t := ms(now)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.look(tk, t), nil
}

// Statuses is Status for each ticket. Errors: NOT_FOUND for an unknown room.
func (s *QueueStore) Statuses(_ context.Context, concertID string, tks []queue.Ticket, now time.Time) ([]queue.Status, error) {
	r := s.room(concertID)
	if r == nil {
		return nil, queue.NoRoomError(concertID)
	}
	t := ms(now)
	out := make([]queue.Status, len(tks))
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, tk := range tks {
		out[i] = r.look(tk, t)
	}
	return out, nil
}

// look is Status in r, whose lock is held.
func (r *room) look(tk queue.Ticket, t int64) queue.Status {
	p := r.ticket(tk, t)
	if p == nil {
		return r.expired(tk)
	}
	if !p.admitted {
		r.heartbeat(p, t)
	}
	return r.status(p, t)
}

// Use extends an admitted session to now+SessionSeconds, never past its
// absolute end.
// Errors: QUEUE_TOKEN_EXPIRED, NOT_ADMITTED with Position, SOLD_OUT,
// NOT_FOUND for an unknown room.
func (s *QueueStore) Use(_ context.Context, tk queue.Ticket, now time.Time) (queue.Status, error) {
	r := s.room(tk.ConcertID)
	if r == nil {
		return queue.Status{}, queue.NoRoomError(tk.ConcertID)
	}
	t := ms(now)
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.ticket(tk, t)
	if p == nil {
		return queue.Status{}, queue.SessionEndedError()
	}
	if !p.admitted {
		if r.soldOut() {
			return queue.Status{}, queue.SoldOutError()
		}
		var pos int64
		if t >= r.opensAt {
			pos = int64(r.waiting.Rank(&p.w)) + 1
		}
		return queue.Status{}, queue.NotAdmittedError(pos)
	}
	if exp := capped(t+int64(r.settings.SessionSeconds)*1000, p.end); exp > p.at {
		r.active.Delete(&p.t)
		p.at = exp
		r.active.Insert(&p.t, exp, p.seq)
	}
	return r.status(p, t), nil
}

// Leave ends the places or sessions of tickets, all of concertID's room,
// under one lock; an ended ticket, or one of another room, is left alone.
func (s *QueueStore) Leave(_ context.Context, concertID string, tickets []queue.Ticket, _ time.Time) error {
	r := s.room(concertID)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, tk := range tickets {
		if tk.ConcertID != concertID {
			continue
		}
		if p := r.users[tk.UserID]; p != nil && p.seq == tk.Seq {
			if !p.admitted {
				r.abandoned++
			}
			r.remove(p)
		}
	}
	return nil
}

// Admit runs one admission step if owner holds or takes the room's lease.
// Errors: NOT_FOUND for an unknown room.
func (s *QueueStore) Admit(_ context.Context, concertID, owner string, lease time.Duration, now time.Time) (queue.Admission, error) {
	r := s.room(concertID)
	if r == nil {
		return queue.Admission{}, queue.NoRoomError(concertID)
	}
	t := ms(now)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.leaseOwner != "" && r.leaseOwner != owner && t < r.leaseUntil {
		return queue.Admission{}, nil
	}
	r.leaseOwner, r.leaseUntil = owner, t+lease.Milliseconds()

	a := queue.Admission{Leader: true, At: timeOf(t)}
	cutoff := t - int64(r.settings.IdleSeconds)*1000
	r.sweep(&a, t, cutoff, s.sweepBatch)
	idleLeft := r.seen.CountUpTo(cutoff)
	waiting := int64(r.waiting.Len() - idleLeft)
	a.Waiting = waiting
	r.measureAbandonment(t, waiting)
	if t < r.opensAt || !r.drawn && idleLeft > 0 {
		return a, nil
	}
	if !r.drawn {
		r.makeDraw(t)
		a.Drew = true
	}

	paused := r.paused()
	eligible := waiting
	if paused {
		eligible = 0
	}
	// Every session not yet removed counts, lapsed or not: a Use with an
	// earlier clock may still extend it.
	n, bucket := queue.Allowance(r.settings, r.bucket, eligible, int64(r.active.Len()), timeOf(t))
	// Admit from the head. An ended place there means more ended than one
	// sweep removes; the step then stops short and keeps the credit.
	r.admitHead(&a, t, cutoff, min(n, s.admitLimit))
	if len(r.log) > s.logLen {
		r.log = r.log[len(r.log)-s.logLen:]
	}
	r.bucket = bucket.Return(r.settings, n-a.Admitted)
	if waiting > 0 && r.stepped && !paused {
		r.rate = queue.MeasureRate(r.rate, a.Admitted, time.Duration(t-r.lastStep)*time.Millisecond)
	}
	r.lastStep, r.stepped = t, true
	return a, nil
}

// sweep removes up to batch places idle since cutoff, then up to batch
// sessions ended by t, into a.
func (r *room) sweep(a *queue.Admission, t, cutoff, batch int64) {
	for a.Dropped < batch {
		n := r.seen.Min()
		if n == nil || n.a > cutoff {
			break
		}
		a.Gone = append(a.Gone, n.p.seq)
		r.remove(n.p)
		r.dropped++
		r.abandoned++
		a.Dropped++
	}
	for a.Ended < batch {
		n := r.active.Min()
		if n == nil || n.a > t {
			break
		}
		a.Gone = append(a.Gone, n.p.seq)
		r.remove(n.p)
		a.Ended++
	}
}

// admitHead admits up to limit places from the head of the line at t,
// into a; it stops at a place idle since cutoff.
func (r *room) admitHead(a *queue.Admission, t, cutoff, limit int64) {
	end := endOf(r.settings, timeOf(t))
	exp := capped(t+int64(r.settings.SessionSeconds)*1000, end)
	for a.Admitted < limit {
		h := r.waiting.Min()
		if h == nil || h.p.at <= cutoff {
			break
		}
		p := h.p
		r.waiting.Delete(&p.w)
		r.seen.Delete(&p.t)
		p.admitted, p.at, p.end = true, exp, end
		r.active.Insert(&p.t, exp, p.seq)
		a.Admitted++
		r.admitted++
		if a.First == 0 {
			a.First = r.admitted
		}
		a.Seqs = append(a.Seqs, p.seq)
		r.waits.Add(time.Duration(t-max(p.joined, r.opensAt)) * time.Millisecond)
		r.log = append(r.log, queue.AdmissionRecord{N: r.admitted, UserID: p.user, Seq: p.seq, At: timeOf(t), Prequeue: p.key < queue.DrawSpan})
	}
}

// measureAbandonment folds the abandonments since the previous step into
// the abandonment rate, if time has passed and fans waited or abandoned.
func (r *room) measureAbandonment(t, waiting int64) {
	if r.abandonStepped && t <= r.abandonStep {
		return
	}
	n := r.abandoned - r.abandonedAtStep
	if r.abandonStepped && (waiting > 0 || n > 0) {
		r.abandonRate = queue.MeasureRate(r.abandonRate, n, time.Duration(t-r.abandonStep)*time.Millisecond)
	}
	r.abandonStep, r.abandonStepped, r.abandonedAtStep = t, true, r.abandoned
}

// makeDraw records the prequeue places in order, at t.
func (r *room) makeDraw(t int64) {
	r.drawn, r.drawnAt = true, t
	r.draw = []string{}
	r.waiting.Each(func(n *node) bool {
		if n.a >= queue.DrawSpan {
			return false
		}
		r.draw = append(r.draw, n.p.user)
		return true
	})
}

// SetSupply records what the concert has left. Errors: NOT_FOUND.
func (s *QueueStore) SetSupply(_ context.Context, concertID string, sup queue.Supply, now time.Time) error {
	r := s.room(concertID)
	if r == nil {
		return queue.NoRoomError(concertID)
	}
	t := ms(now)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.supplied && t < r.suppliedAt {
		return nil
	}
	r.supply, r.supplied, r.suppliedAt = sup, true, t
	return nil
}

// Stats describes the room at now. Errors: NOT_FOUND for an unknown room.
func (s *QueueStore) Stats(_ context.Context, concertID string, now time.Time) (queue.Stats, error) {
	r := s.room(concertID)
	if r == nil {
		return queue.Stats{}, queue.NoRoomError(concertID)
	}
	t := ms(now)
	r.mu.Lock()
	defer r.mu.Unlock()
	return queue.Stats{
		Waiting:        r.waitingAt(t),
		Active:         int64(r.active.Len() - r.active.CountUpTo(t)),
		AdmittedTotal:  r.admitted,
		DroppedTotal:   r.dropped,
		AbandonedTotal: r.abandoned,
		Rate:           r.rate,
		AbandonRate:    r.abandonRate,
		Waits:          r.waits,
		Paused:         r.paused(),
		SoldOut:        r.soldOut(),
		Drawn:          r.drawn,
	}, nil
}

// Draw returns the room's draw, nil before it is made. Errors: NOT_FOUND.
func (s *QueueStore) Draw(_ context.Context, concertID string) ([]string, time.Time, error) {
	r := s.room(concertID)
	if r == nil {
		return nil, time.Time{}, queue.NoRoomError(concertID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.drawn {
		return nil, time.Time{}, nil
	}
	return append([]string{}, r.draw...), timeOf(r.drawnAt), nil
}

// Admissions returns a page of the admission log. Errors: NOT_FOUND.
func (s *QueueStore) Admissions(_ context.Context, concertID string, from int64, limit int) ([]queue.AdmissionRecord, error) {
	r := s.room(concertID)
	if r == nil {
		return nil, queue.NoRoomError(concertID)
	}
	limit = min(limit, queue.MaxAdmissionsPage)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.log) == 0 || limit <= 0 {
		return nil, nil
	}
	i := max(from-r.log[0].N, 0)
	if i >= int64(len(r.log)) {
		return nil, nil
	}
	return slices.Clone(r.log[i:min(i+int64(limit), int64(len(r.log)))]), nil
}

// Rooms lists, sorted, the rooms that have places or sessions.
func (s *QueueStore) Rooms(context.Context) ([]string, error) {
	var ids []string
	s.rooms.Range(func(_, v any) bool {
		r := v.(*room)
		r.mu.Lock()
		if len(r.users) > 0 {
			ids = append(ids, r.id)
		}
		r.mu.Unlock()
		return true
	})
	slices.Sort(ids)
	return ids, nil
}

// live reports whether p's place or session is alive at t (ms). A place
// whose last heartbeat is IdleSeconds old, or a session at its expiry, has
// ended, whether or not a step has removed it yet.
func (r *room) live(p *place, t int64) bool {
	if p.admitted {
		return p.at > t
	}
	return p.at > t-int64(r.settings.IdleSeconds)*1000
}

// ticket returns tk's place if it is live at t; a ticket of another room
// has none.
func (r *room) ticket(tk queue.Ticket, t int64) *place {
	if tk.ConcertID != r.id {
		return nil
	}
	p := r.users[tk.UserID]
	if p == nil || p.seq != tk.Seq || !r.live(p, t) {
		return nil
	}
	return p
}

func (r *room) heartbeat(p *place, t int64) {
	if t <= p.at {
		return
	}
	r.seen.Delete(&p.t)
	p.at = t
	r.seen.Insert(&p.t, t, p.seq)
}

// remove ends p.
func (r *room) remove(p *place) {
	if p.admitted {
		r.active.Delete(&p.t)
	} else {
		r.waiting.Delete(&p.w)
		r.seen.Delete(&p.t)
	}
	delete(r.users, p.user)
	// Go maps keep their largest size; rebuild once most users are gone so
	// memory follows the live places.
	if r.peak >= 1024 && len(r.users) < r.peak/4 {
		r.users = shrink(r.users)
		r.peak = len(r.users)
	}
}

func shrink(m map[string]*place) map[string]*place {
	c := make(map[string]*place, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// waitingAt counts the places alive at t.
func (r *room) waitingAt(t int64) int64 {
	return int64(r.waiting.Len() - r.seen.CountUpTo(t-int64(r.settings.IdleSeconds)*1000))
}

func (r *room) paused() bool { return r.supplied && !r.supply.Available }

func (r *room) soldOut() bool { return r.paused() && !r.supply.Held }

func (r *room) info() queue.Room {
	return queue.Room{ConcertID: r.id, OpensAt: timeOf(r.opensAt), Settings: r.settings, Version: r.version}
}

func (r *room) status(p *place, t int64) queue.Status {
	st := queue.Status{
		Ticket:      queue.Ticket{ConcertID: r.id, UserID: p.user, Seq: p.seq},
		Rate:        r.rate,
		AbandonRate: r.abandonRate,
		Room:        r.info(),
	}
	switch {
	case p.admitted:
		st.State, st.SessionExpiresAt = queue.Admitted, timeOf(p.at)
		if p.end > 0 {
			st.SessionEndsAt = timeOf(p.end)
		}
	case r.soldOut():
		st.State = queue.SoldOut
	case t < r.opensAt:
		st.State, st.Waiting = queue.Prequeue, r.waitingAt(t)
		st.Prequeued = st.Waiting
	default:
		st.State, st.Position, st.Waiting = queue.Waiting, int64(r.waiting.Rank(&p.w))+1, r.waitingAt(t)
	}
	st.Key = p.key
	return st
}

func (r *room) expired(tk queue.Ticket) queue.Status {
	return queue.Status{Ticket: tk, State: queue.Expired, Rate: r.rate, AbandonRate: r.abandonRate, Room: r.info()}
}
