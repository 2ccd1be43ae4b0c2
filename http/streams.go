package http

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/boxoffice/boxoffice/queue"
)

// Broadcast carries messages to every instance of the service, the sender
// included, in one order that every instance sees alike, and the messages
// of one sender in the order it published them. Delivery is at most once.
type Broadcast interface {
	// Publish queues msg for every instance and returns at once: a channel
	// closed once msg is on its way, after every message published before
	// it, or was given up.
	Publish(msg string) <-chan struct{}
	// Listen calls f with every message, one at a time, until ctx ends.
	Listen(ctx context.Context, f func(msg string))
}

// One event stream per ticket: opening a stream ends the ticket's older
// one, on this instance at once and on the others through the Broadcast.
// Each instance keeps, per ticket, its one open stream; a stream's opening
// is announced as "<stream id> <concert> <seq> <user>". Every instance
// hears the announcements in one order, so "older" is decided by that
// order: an instance ends its stream when it hears another stream of the
// ticket announced after its own (it has heard its own announcement: the
// stream is confirmed). An announcement heard before one's own is older
// and ignored; the instance that sent it ends its stream on hearing ours.
// A stream whose own announcement never comes back (lost while Redis was
// away) counts as confirmed streamConfirmAfter after it opened.

// streamConfirmAfter is how long a stream waits for its own announcement
// before any other announcement of its ticket counts as newer.
const streamConfirmAfter = 2 * time.Second

// streamSet is the open event streams of this instance, one per ticket.
type streamSet struct {
	instance string // prefix of this instance's stream ids
	next     atomic.Uint64
	bus      Broadcast // nil: this instance alone

	mu   sync.Mutex
	open map[queue.Ticket]*ownedStream
}

// ownedStream is an open stream of one ticket.
type ownedStream struct {
	ticket    queue.Ticket
	id        string
	opened    time.Time
	confirmed bool          // its announcement came back
	replaced  chan struct{} // closed when a newer stream of the ticket opened
	notify    func()        // nil, or called (under streamSet.mu) once replaced is closed
}

// replace ends s for a newer stream of its ticket; streamSet.mu is held.
func (s *ownedStream) replace() {
	close(s.replaced)
	if s.notify != nil {
		s.notify()
	}
}

func newStreamSet(bus Broadcast) *streamSet {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return &streamSet{instance: hex.EncodeToString(b) + ".", bus: bus, open: make(map[queue.Ticket]*ownedStream)}
}

// closed is a channel closed from the start.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// take makes a new stream t's only one: the older one, on any instance,
// ends. sent is closed once the other instances are told: a stream opened
// after that is the newer everywhere.
func (ss *streamSet) take(t queue.Ticket) (s *ownedStream, sent <-chan struct{}) {
	return ss.takeNotify(t, nil)
}

// takeNotify is take, calling notify (when not nil, without blocking) once
// a newer stream replaces the new one.
func (ss *streamSet) takeNotify(t queue.Ticket, notify func()) (s *ownedStream, sent <-chan struct{}) {
	s = &ownedStream{
		ticket:   t,
		id:       ss.instance + strconv.FormatUint(ss.next.Add(1), 10),
		opened:   time.Now(),
		replaced: make(chan struct{}),
		notify:   notify,
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if old := ss.open[t]; old != nil {
		old.replace()
	}
	ss.open[t] = s
	if ss.bus == nil {
		return s, closed
	}
	// Under the lock: announcements leave in the order of the takes.
	return s, ss.bus.Publish(s.id + " " + t.ConcertID + " " + strconv.FormatInt(t.Seq, 10) + " " + t.UserID)
}

// release forgets s when it ends; a newer stream of its ticket stays.
func (ss *streamSet) release(s *ownedStream) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.open[s.ticket] == s {
		delete(ss.open, s.ticket)
	}
}

// heard handles an announcement from the Broadcast.
func (ss *streamSet) heard(msg string) {
	id, t, ok := parseAnnouncement(msg)
	if !ok {
		return
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.open[t]
	switch {
	case s == nil:
	case s.id == id:
		s.confirmed = true
	case strings.HasPrefix(id, ss.instance):
		// An older stream of this instance, ended when s opened.
	case s.confirmed || time.Since(s.opened) > streamConfirmAfter:
		s.replace()
		delete(ss.open, t)
	}
}

func parseAnnouncement(msg string) (id string, t queue.Ticket, ok bool) {
	parts := strings.SplitN(msg, " ", 4)
	if len(parts) != 4 {
		return "", t, false
	}
	seq, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return "", t, false
	}
	return parts[0], queue.Ticket{ConcertID: parts[1], Seq: seq, UserID: parts[3]}, true
}

// len returns the number of tickets with an open stream.
func (ss *streamSet) len() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.open)
}
