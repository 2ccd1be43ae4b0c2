package memory

import (
	"container/heap"
	"context"
	"errors"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// proofs are the spent proofs of work of a store: a map from concert and
// proof to expiry (ms; negated for a proof given back by Unspend), and a
// heap of the same by expiry, one entry per key, from which every Spend
// first sweeps the expired ones. A proof's expiry never changes: it is
// part of the proof.
type proofs struct {
	spent map[string]int64
	queue proofHeap
}

type spentProof struct {
	key string
	exp int64 // ms
}

type proofHeap []spentProof

func (h proofHeap) Len() int           { return len(h) }
func (h proofHeap) Less(i, j int) bool { return h[i].exp < h[j].exp }
func (h proofHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *proofHeap) Push(x any)        { *h = append(*h, x.(spentProof)) }
func (h *proofHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// errProofsFull is the cause of Spend's UNAVAILABLE when the store holds
// queue.MaxSpentProofs unexpired proofs.
var errProofsFull = errors.New("too many proofs of work in flight")

// Place returns the live place or session userID holds in the room, or
// Expired. Errors: NOT_FOUND for an unknown room.
func (s *QueueStore) Place(_ context.Context, concertID, userID string, now time.Time) (queue.Status, error) {
	r := s.room(concertID)
	if r == nil {
		return queue.Status{}, queue.NoRoomError(concertID)
	}
	t := ms(now)
	r.mu.Lock()
	defer r.mu.Unlock()
	tk := queue.Ticket{ConcertID: concertID, UserID: userID}
	if p := r.users[userID]; p != nil {
		tk.Seq = p.seq
	}
	st := r.look(tk, t)
	if st.State == queue.Expired {
		st.Seq = 0
	}
	return st, nil
}

// Time returns now: a store in one process has its caller's clock.
func (s *QueueStore) Time(_ context.Context, _ string, now time.Time) (time.Time, error) {
	return now, nil
}

// Spend records proof as used until expires unless it is. Errors:
// PROOF_INVALID; UNAVAILABLE when queue.MaxSpentProofs unexpired proofs
// are kept.
func (s *QueueStore) Spend(_ context.Context, concertID, proof string, expires, now time.Time) error {
	t, exp := ms(now), ms(expires)
	if exp <= t {
		return queue.ProofExpiredError()
	}
	key := concertID + "\x00" + proof
	s.pmu.Lock()
	defer s.pmu.Unlock()
	p := &s.proofs
	if p.spent == nil {
		p.spent = make(map[string]int64)
	}
	for len(p.queue) > 0 && p.queue[0].exp <= t {
		delete(p.spent, heap.Pop(&p.queue).(spentProof).key)
	}
	switch e, ok := p.spent[key]; {
	case ok && e > 0:
		return queue.ProofUsedError()
	case ok:
		// Given back: its entry in the heap is still there.
		p.spent[key] = exp
		return nil
	}
	if len(p.spent) >= s.maxSpent {
		return boxoffice.Unavailable("waiting room", errProofsFull)
	}
	p.spent[key] = exp
	heap.Push(&p.queue, spentProof{key: key, exp: exp})
	return nil
}

// Unspend forgets that proof was used.
func (s *QueueStore) Unspend(_ context.Context, concertID, proof string) error {
	key := concertID + "\x00" + proof
	s.pmu.Lock()
	if e, ok := s.proofs.spent[key]; ok && e > 0 {
		s.proofs.spent[key] = -e
	}
	s.pmu.Unlock()
	return nil
}
