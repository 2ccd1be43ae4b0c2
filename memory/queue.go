// Package memory keeps waiting rooms in the memory of one process: the
// queue.Store of the embedded single-instance mode. It follows the same
// rules as the shared Redis store, to the millisecond.
package memory

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// Bounds of one admission step, so that no step holds a room for long: it
// removes at most sweepBatch idle places and, separately, sweepBatch lapsed
// sessions, oldest first, and admits at most admitLimit fans. What is left
// goes in later steps.
const (
	sweepBatch = 1000
	admitLimit = 10000
)

// QueueStore is a queue.Store for one process. Each room has its own lock;
// times are kept to the millisecond, like in Redis.
type QueueStore struct {
	rooms sync.Map // concert ID → *room

	sweepBatch, admitLimit int64
}

var _ queue.Store = (*QueueStore)(nil)

// NewQueueStore returns an empty store.
func NewQueueStore() *QueueStore {
	return &QueueStore{sweepBatch: sweepBatch, admitLimit: admitLimit}
}

type room struct {
	mu       sync.Mutex
	id       string
	settings queue.Settings
	opensAt  int64 // ms

	seq      int64
	bucket   queue.Bucket
	rate     float64
	lastStep int64 // ms of the last step at or after the opening
	stepped  bool
	admitted int64 // total
	dropped  int64 // total

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
	admitted bool
	at       int64 // ms: last heartbeat while waiting, session expiry once admitted
	w, t     node  // w in waiting; t in seen or active
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func timeOf(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func usesRate(s queue.Settings) bool {
	return s.Strategy == queue.Rate || s.Strategy == queue.RateAndMaxActive
}

func (s *QueueStore) room(id string) *room {
	if v, ok := s.rooms.Load(id); ok {
		return v.(*room)
	}
	return nil
}

// roomOrCreate returns the room of cfg.ConcertID, creating it with cfg, and
// whether it already existed.
func (s *QueueStore) roomOrCreate(cfg queue.Room) (*room, bool) {
	if r := s.room(cfg.ConcertID); r != nil {
		return r, true
	}
	r := &room{id: cfg.ConcertID, settings: cfg.Settings, opensAt: ms(cfg.OpensAt), users: make(map[string]*place)}
	v, loaded := s.rooms.LoadOrStore(cfg.ConcertID, r)
	return v.(*room), loaded
}

// Configure sets a room's settings and opening, creating the room if needed.
func (s *QueueStore) Configure(_ context.Context, cfg queue.Room) error {
	r, existed := s.roomOrCreate(cfg)
	if existed {
		r.mu.Lock()
		r.settings, r.opensAt = cfg.Settings, ms(cfg.OpensAt)
		r.mu.Unlock()
	}
	return nil
}

// Join gives userID a place at the back of the room or returns the live
// place or session the user has.
func (s *QueueStore) Join(_ context.Context, cfg queue.Room, userID string, now time.Time) (queue.Status, bool, error) {
	r, _ := s.roomOrCreate(cfg)
	t := ms(now)
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.users[userID]; p != nil {
		if r.live(p, t) {
			if !p.admitted {
				r.heartbeat(p, t)
			}
			return r.status(p, t), false, nil
		}
		r.remove(p)
	}
	r.seq++
	p := &place{user: userID, seq: r.seq, at: t}
	p.w.p, p.t.p = p, p
	r.waiting.Insert(&p.w, p.seq, 0)
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
		return queue.Status{}, notFound(tk.ConcertID)
	}
	t := ms(now)
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.ticket(tk, t)
	if p == nil {
		return r.expired(tk), nil
	}
	if !p.admitted {
		r.heartbeat(p, t)
	}
	return r.status(p, t), nil
}

// Use extends an admitted session to now+SessionSeconds.
// Errors: QUEUE_TOKEN_EXPIRED, NOT_ADMITTED with Position.
func (s *QueueStore) Use(_ context.Context, tk queue.Ticket, now time.Time) (queue.Status, error) {
	r := s.room(tk.ConcertID)
	if r == nil {
		return queue.Status{}, errExpired()
	}
	t := ms(now)
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.ticket(tk, t)
	if p == nil {
		return queue.Status{}, errExpired()
	}
	if !p.admitted {
		return queue.Status{}, errNotAdmitted(int64(r.waiting.Rank(&p.w)) + 1)
	}
	if exp := t + int64(r.settings.SessionSeconds)*1000; exp > p.at {
		r.active.Delete(&p.t)
		p.at = exp
		r.active.Insert(&p.t, exp, p.seq)
	}
	return r.status(p, t), nil
}

// Leave ends t's place or session; an ended ticket is left alone.
func (s *QueueStore) Leave(_ context.Context, tk queue.Ticket, _ time.Time) error {
	r := s.room(tk.ConcertID)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.users[tk.UserID]; p != nil && p.seq == tk.Seq {
		r.remove(p)
	}
	return nil
}

// Admit runs one admission step if owner holds or takes the room's lease.
// Errors: NOT_FOUND for an unknown room.
func (s *QueueStore) Admit(_ context.Context, concertID, owner string, lease time.Duration, now time.Time) (queue.Admission, error) {
	r := s.room(concertID)
	if r == nil {
		return queue.Admission{}, notFound(concertID)
	}
	t := ms(now)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.leaseOwner != "" && r.leaseOwner != owner && t < r.leaseUntil {
		return queue.Admission{}, nil
	}
	r.leaseOwner, r.leaseUntil = owner, t+lease.Milliseconds()

	a := queue.Admission{Leader: true}
	cutoff := t - int64(r.settings.IdleSeconds)*1000
	for a.Dropped < s.sweepBatch {
		n := r.seen.Min()
		if n == nil || n.a > cutoff {
			break
		}
		r.remove(n.p)
		a.Dropped++
	}
	for a.Ended < s.sweepBatch {
		n := r.active.Min()
		if n == nil || n.a > t {
			break
		}
		r.remove(n.p)
		a.Ended++
	}
	if t < r.opensAt {
		return a, nil
	}

	waiting := int64(r.waiting.Len() - r.seen.CountUpTo(cutoff))
	active := int64(r.active.Len() - r.active.CountUpTo(t))
	n, bucket := queue.Allowance(r.settings, r.bucket, waiting, active, timeOf(t))
	// Admit from the head. An ended place there means more ended than one
	// sweep removes; the step then stops short and keeps the credit.
	exp := t + int64(r.settings.SessionSeconds)*1000
	for a.Admitted < min(n, s.admitLimit) {
		h := r.waiting.Min()
		if h == nil || h.p.at <= cutoff {
			break
		}
		p := h.p
		r.waiting.Delete(&p.w)
		r.seen.Delete(&p.t)
		p.admitted, p.at = true, exp
		r.active.Insert(&p.t, exp, p.seq)
		a.Admitted++
	}
	if a.Admitted < n && usesRate(r.settings) {
		bucket.Credit += float64(n - a.Admitted)
	}
	r.bucket = bucket
	if waiting > 0 && r.stepped {
		r.rate = queue.MeasureRate(r.rate, a.Admitted, time.Duration(t-r.lastStep)*time.Millisecond)
	}
	r.lastStep, r.stepped = t, true
	r.admitted += a.Admitted
	return a, nil
}

// Stats describes the room at now. Errors: NOT_FOUND for an unknown room.
func (s *QueueStore) Stats(_ context.Context, concertID string, now time.Time) (queue.Stats, error) {
	r := s.room(concertID)
	if r == nil {
		return queue.Stats{}, notFound(concertID)
	}
	t := ms(now)
	r.mu.Lock()
	defer r.mu.Unlock()
	cutoff := t - int64(r.settings.IdleSeconds)*1000
	return queue.Stats{
		Waiting:       int64(r.waiting.Len() - r.seen.CountUpTo(cutoff)),
		Active:        int64(r.active.Len() - r.active.CountUpTo(t)),
		AdmittedTotal: r.admitted,
		DroppedTotal:  r.dropped,
		Rate:          r.rate,
	}, nil
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

// ticket returns tk's place if it is live at t.
func (r *room) ticket(tk queue.Ticket, t int64) *place {
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

// remove ends p. A waiting place counts as dropped.
func (r *room) remove(p *place) {
	if p.admitted {
		r.active.Delete(&p.t)
	} else {
		r.waiting.Delete(&p.w)
		r.seen.Delete(&p.t)
		r.dropped++
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

func (r *room) info() queue.Room {
	return queue.Room{ConcertID: r.id, OpensAt: timeOf(r.opensAt), Settings: r.settings}
}

func (r *room) status(p *place, t int64) queue.Status {
	st := queue.Status{
		Ticket: queue.Ticket{ConcertID: r.id, UserID: p.user, Seq: p.seq},
		Rate:   r.rate,
		Room:   r.info(),
	}
	switch {
	case p.admitted:
		st.State, st.SessionExpiresAt = queue.Admitted, timeOf(p.at)
	case t < r.opensAt:
		st.State, st.Position = queue.Prequeue, int64(r.waiting.Rank(&p.w))+1
	default:
		st.State, st.Position = queue.Waiting, int64(r.waiting.Rank(&p.w))+1
	}
	return st
}

func (r *room) expired(tk queue.Ticket) queue.Status {
	return queue.Status{Ticket: tk, State: queue.Expired, Rate: r.rate, Room: r.info()}
}

func notFound(concertID string) error {
	return boxoffice.Errorf(boxoffice.CodeNotFound, "concert %s has no waiting room", concertID)
}

func errExpired() error {
	return boxoffice.Errorf(boxoffice.CodeQueueTokenExpired, "the queue session has ended")
}

func errNotAdmitted(position int64) error {
	return &boxoffice.Error{Code: boxoffice.CodeNotAdmitted, Message: "still waiting in the queue", Position: position}
}
