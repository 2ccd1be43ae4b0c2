package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// runQueueProof checks Place, Time, Spend and Unspend.
func runQueueProof(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("Place", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("Waiting", testPlaceWaiting)
		run("Admitted", testPlaceAdmitted)
		run("NoneForOtherUser", testPlaceNone)
		run("NoneAfterLeave", testPlaceAfterLeave)
		run("NoneAfterIdleLimit", testPlaceIdle)
		run("ErrNotFound", testPlaceNotFound)
	})
	t.Run("Proof", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("Time", testProofTime)
		run("SpentOnce", testProofSpentOnce)
		run("PerConcert", testProofPerConcert)
		run("ErrProofInvalid/Expired", testProofExpired)
		run("UnspendGivesBack", testProofUnspend)
		run("RaceOneWins", testProofRace)
		run("JoinProven", testJoinProven)
		run("JoinProvenGivesBackOnSoldOut", testJoinProvenSoldOut)
	})
}

// proofName is a proof's name as the server gives it: 64 hex digits.
func proofName(i int) string { return fmt.Sprintf("%064x", i) }

func (q *queueStore) place(userID string, now time.Time) queue.Status {
	q.t.Helper()
	st, err := q.s.Place(q.t.Context(), qRoomID, userID, now)
	if err != nil {
		q.t.Fatalf("Place(%s) at %v: %v", userID, now, err)
	}
	return st
}

func testPlaceWaiting(t *testing.T, q *queueStore) {
	room := openRoom(maxActiveSettings(1))
	q.join(room, fanID(1), qT0)
	joined, _ := q.join(room, fanID(2), qT0)
	st := q.place(fanID(2), qAt(59*time.Second))
	wantState(t, "Place of a waiting fan", st, queue.Waiting, 2)
	if st.Ticket != joined.Ticket || st.Waiting != 2 || st.Room.Settings != room.Settings {
		t.Errorf("Place: got ticket %v, waiting %d, settings %+v; want %v, 2, %+v", st.Ticket, st.Waiting, st.Room.Settings, joined.Ticket, room.Settings)
	}
	// Place is a heartbeat, as a join of a fan who has a place is.
	wantState(t, "Status a minute after the join, 1s after Place", q.status(joined.Ticket, qAt(60*time.Second)), queue.Waiting, 2)
}

func testPlaceAdmitted(t *testing.T, q *queueStore) {
	room := openRoom(maxActiveSettings(1))
	joined, _ := q.join(room, fanID(1), qT0)
	q.admit(qT0)
	st := q.place(fanID(1), qAt(time.Second))
	wantState(t, "Place of an admitted fan", st, queue.Admitted, 0)
	if st.Seq != joined.Seq || !st.SessionExpiresAt.Equal(qAt(600*time.Second)) {
		t.Errorf("Place: got seq %d, session end %v; want %d, %v", st.Seq, st.SessionExpiresAt, joined.Seq, qAt(600*time.Second))
	}
	wantState(t, "Place at the session's end", q.place(fanID(1), qAt(600*time.Second)), queue.Expired, 0)
}

func testPlaceNone(t *testing.T, q *queueStore) {
	q.join(openRoom(maxActiveSettings(1)), fanID(1), qT0)
	st := q.place(fanID(2), qT0)
	wantState(t, "Place of a fan who never joined", st, queue.Expired, 0)
	if st.Seq != 0 || st.UserID != fanID(2) || st.ConcertID != qRoomID {
		t.Errorf("Place: got ticket %v, want %s/%s#0", st.Ticket, qRoomID, fanID(2))
	}
	// Place never takes a place.
	if s := q.stats(qT0); s.Waiting != 1 {
		t.Errorf("waiting after Place: got %d, want 1", s.Waiting)
	}
}

func testPlaceAfterLeave(t *testing.T, q *queueStore) {
	joined, _ := q.join(openRoom(maxActiveSettings(1)), fanID(1), qT0)
	q.leave(joined.Ticket, qT0)
	if st := q.place(fanID(1), qT0); st.State != queue.Expired || st.Seq != 0 {
		t.Errorf("Place after leaving: got %s seq %d, want EXPIRED seq 0", st.State, st.Seq)
	}
}

func testPlaceIdle(t *testing.T, q *queueStore) {
	q.join(openRoom(maxActiveSettings(1)), fanID(1), qT0)
	wantState(t, "Place 1ns before the idle limit", q.place(fanID(1), qAt(60*time.Second-time.Nanosecond)), queue.Waiting, 1)
	// That Place was a heartbeat at 59.999s (to the millisecond).
	wantState(t, "Place at the idle limit of the last heartbeat", q.place(fanID(1), qAt(119*time.Second+999*time.Millisecond)), queue.Expired, 0)
}

func testPlaceNotFound(t *testing.T, q *queueStore) {
	_, err := q.s.Place(t.Context(), qRoomID, fanID(1), qT0)
	wantQueueCode(t, "Place in an unknown room", err, boxoffice.CodeNotFound)
}

func testProofTime(t *testing.T, q *queueStore) {
	// The suite's stores decide on their callers' clock; no room needed.
	got, err := q.s.Time(t.Context(), qRoomID, qAt(1500*time.Millisecond))
	if err != nil || !got.Equal(qAt(1500*time.Millisecond)) {
		t.Errorf("Time: got %v, %v, want %v", got, err, qAt(1500*time.Millisecond))
	}
}

func (q *queueStore) spend(concertID, proof string, expires, now time.Time) error {
	q.t.Helper()
	return q.s.Spend(q.t.Context(), concertID, proof, expires, now)
}

func testProofSpentOnce(t *testing.T, q *queueStore) {
	exp := qAt(5 * time.Minute)
	if err := q.spend(qRoomID, proofName(1), exp, qT0); err != nil {
		t.Fatalf("first Spend: %v", err)
	}
	wantQueueCode(t, "second Spend", q.spend(qRoomID, proofName(1), exp, qT0), boxoffice.CodeProofInvalid)
	wantQueueCode(t, "Spend 1ns before expiry", q.spend(qRoomID, proofName(1), exp, exp.Add(-time.Nanosecond)), boxoffice.CodeProofInvalid)
	if err := q.spend(qRoomID, proofName(2), exp, qT0); err != nil {
		t.Errorf("Spend of another proof: %v", err)
	}
}

func testProofPerConcert(t *testing.T, q *queueStore) {
	exp := qAt(time.Minute)
	if err := q.spend(qRoomID, proofName(1), exp, qT0); err != nil {
		t.Fatal(err)
	}
	if err := q.spend(qOther, proofName(1), exp, qT0); err != nil {
		t.Errorf("Spend of the same name for another concert: %v", err)
	}
}

func testProofExpired(t *testing.T, q *queueStore) {
	exp := qAt(time.Minute)
	wantQueueCode(t, "Spend at expiry", q.spend(qRoomID, proofName(1), exp, exp), boxoffice.CodeProofInvalid)
	wantQueueCode(t, "Spend after expiry", q.spend(qRoomID, proofName(1), exp, exp.Add(time.Hour)), boxoffice.CodeProofInvalid)
	if err := q.spend(qRoomID, proofName(1), exp, exp.Add(-time.Millisecond)); err != nil {
		t.Errorf("Spend 1ms before expiry: %v", err)
	}
}

func testProofUnspend(t *testing.T, q *queueStore) {
	exp := qAt(time.Minute)
	if err := q.spend(qRoomID, proofName(1), exp, qT0); err != nil {
		t.Fatal(err)
	}
	if err := q.s.Unspend(t.Context(), qRoomID, proofName(1)); err != nil {
		t.Fatalf("Unspend: %v", err)
	}
	if err := q.spend(qRoomID, proofName(1), exp, qT0); err != nil {
		t.Errorf("Spend after Unspend: %v", err)
	}
	wantQueueCode(t, "Spend again", q.spend(qRoomID, proofName(1), exp, qT0), boxoffice.CodeProofInvalid)
	if err := q.s.Unspend(t.Context(), qRoomID, proofName(9)); err != nil {
		t.Errorf("Unspend of a proof never spent: %v", err)
	}
}

// spendRace spends one proof from 50 goroutines over stores and reports
// how many succeeded.
func spendRace(t *testing.T, stores []queue.Store) int64 {
	var wins atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		s := stores[i%len(stores)]
		wg.Go(func() {
			err := s.Spend(t.Context(), qRoomID, proofName(7), qAt(time.Minute), qT0)
			switch boxoffice.ErrorCode(err) {
			case "":
				wins.Add(1)
			case boxoffice.CodeProofInvalid:
			default:
				t.Errorf("Spend: %v", err)
			}
		})
	}
	wg.Wait()
	return wins.Load()
}

func testProofRace(t *testing.T, q *queueStore) {
	if n := spendRace(t, []queue.Store{q.s}); n != 1 {
		t.Errorf("50 spends of one proof: %d succeeded, want 1", n)
	}
}

// testProofShared spends one proof on several instances' stores.
func testProofShared(t *testing.T, stores []queue.Store) {
	if n := spendRace(t, stores); n != 1 {
		t.Errorf("50 spends of one proof over %d stores: %d succeeded, want 1", len(stores), n)
	}
	err := stores[1].Spend(t.Context(), qRoomID, proofName(8), qAt(time.Minute), qT0)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range stores {
		err := s.Spend(t.Context(), qRoomID, proofName(8), qAt(time.Minute), qT0)
		wantQueueCode(t, fmt.Sprintf("Spend on store %d of a proof spent on store 1", i), err, boxoffice.CodeProofInvalid)
	}
}

func testJoinProven(t *testing.T, q *queueStore) {
	ctx := t.Context()
	clock := boxoffice.NewManualClock(qT0)
	svc := queue.NewService(q.s, clock, "svc", 100*time.Millisecond, nil, nil, nil)
	room := openRoom(maxActiveSettings(1))
	room.Seed = nil
	exp := qAt(5 * time.Minute)
	if _, ok, err := svc.Place(ctx, qRoomID, fanID(1)); ok || err != nil {
		t.Fatalf("Place in a room not built yet: got %v, %v, want none", ok, err)
	}
	first, created, err := svc.JoinProven(ctx, room, fanID(1), proofName(1), exp)
	if err != nil || !created || first.State != queue.Waiting {
		t.Fatalf("JoinProven: got %+v, created %v, %v, want a new waiting place", first, created, err)
	}
	// A retry with the spent proof, by a fan who has the place: the place.
	again, created, err := svc.JoinProven(ctx, room, fanID(1), proofName(1), exp)
	if err != nil || created || again.Ticket != first.Ticket {
		t.Errorf("JoinProven again with the spent proof: got %v, created %v, %v, want %v", again.Ticket, created, err, first.Ticket)
	}
	if st, ok, err := svc.Place(ctx, qRoomID, fanID(1)); !ok || err != nil || st.Ticket != first.Ticket {
		t.Errorf("Place: got %v, %v, %v, want %v", st.Ticket, ok, err, first.Ticket)
	}
	if err := svc.Leave(ctx, first.Ticket); err != nil {
		t.Fatal(err)
	}
	_, _, err = svc.JoinProven(ctx, room, fanID(1), proofName(1), exp)
	wantQueueCode(t, "JoinProven with the spent proof after leaving", err, boxoffice.CodeProofInvalid)
	_, _, err = svc.JoinProven(ctx, room, fanID(1), proofName(2), qT0)
	wantQueueCode(t, "JoinProven with an expired proof", err, boxoffice.CodeProofInvalid)
	if _, ok, _ := svc.Place(ctx, qRoomID, fanID(1)); ok {
		t.Errorf("a refused proof took a place")
	}
	next, created, err := svc.JoinProven(ctx, room, fanID(1), proofName(3), exp)
	if err != nil || !created || next.Seq <= first.Seq {
		t.Errorf("JoinProven with a new proof: got %v, created %v, %v, want a new place", next.Ticket, created, err)
	}
}

func testJoinProvenSoldOut(t *testing.T, q *queueStore) {
	ctx := t.Context()
	svc := queue.NewService(q.s, boxoffice.NewManualClock(qT0), "svc", 100*time.Millisecond, nil, nil, nil)
	room := openRoom(maxActiveSettings(1))
	q.join(room, fanID(1), qT0)
	if err := q.s.SetSupply(ctx, qRoomID, queue.Supply{}, qT0); err != nil {
		t.Fatal(err)
	}
	_, _, err := svc.JoinProven(ctx, room, fanID(2), proofName(1), qAt(time.Minute))
	wantQueueCode(t, "JoinProven in a sold-out room", err, boxoffice.CodeSoldOut)
	if err := q.spend(qRoomID, proofName(1), qAt(time.Minute), qT0); err != nil {
		t.Errorf("Spend of the proof the refused join gave back: %v", err)
	}
}
