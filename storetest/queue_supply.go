package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

func (q *queueStore) supply(concertID string, s queue.Supply, now time.Time) {
	q.t.Helper()
	if err := q.s.SetSupply(q.t.Context(), concertID, s, now); err != nil {
		q.t.Fatalf("SetSupply(%+v): %v", s, err)
	}
}

func testSupplyPaused(t *testing.T, q *queueStore) {
	s := rateSettings(10)
	ts := q.joinAll(openRoom(s), 40, qT0)
	m := &admissionModel{s: s, waiting: 40}
	q.stepBoth(m, qT0)
	q.stepBoth(m, qAt(500*time.Millisecond))
	rate := q.stats(qAt(500 * time.Millisecond)).Rate

	q.supply(qRoomID, queue.Supply{Held: true}, qAt(500*time.Millisecond))
	for i := 1; i <= 20; i++ {
		now := qAt(500*time.Millisecond + time.Duration(i)*100*time.Millisecond)
		wantAdmission(t, fmt.Sprintf("paused step %d", i), q.admit(now), queue.Admission{Leader: true})
	}
	st := q.stats(qAt(2500 * time.Millisecond))
	if !st.Paused || st.SoldOut || st.Rate != rate {
		t.Errorf("paused stats: got paused %v, sold out %v, rate %v, want paused, not sold out, rate %v kept", st.Paused, st.SoldOut, st.Rate, rate)
	}
	wantState(t, "waiting while paused", q.status(ts[39], qAt(2500*time.Millisecond)), queue.Waiting, int64(40-m.admitted))

	// Seats come back: the credit grew to its cap of one second's worth,
	// no more, and admission resumes where the model says.
	q.supply(qRoomID, queue.Supply{Available: true, Held: true}, qAt(2500*time.Millisecond))
	m.bucket.Credit, m.bucket.Last = 10, qAt(2500*time.Millisecond)
	m.last = qAt(2500 * time.Millisecond)
	if n := q.stepBoth(m, qAt(2500*time.Millisecond)); n != 10 {
		t.Errorf("first step after the pause: got %d admitted, want 10", n)
	}
	for i := 1; i <= 10; i++ {
		q.stepBoth(m, qAt(2500*time.Millisecond+time.Duration(i)*100*time.Millisecond))
	}
	if st := q.stats(qAt(4 * time.Second)); st.Paused || st.AdmittedTotal != m.admitted {
		t.Errorf("after the pause: got paused %v, %d admitted, want not paused, %d", st.Paused, st.AdmittedTotal, m.admitted)
	}
}

func testSupplySoldOut(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(1))
	ts := q.joinAll(room, 3, qT0)
	q.admit(qT0) // fanID(1) is admitted
	closed := closedRoom(rateSettings(1))
	closed.ConcertID = qOther
	pre, _ := q.join(closed, fanID(1), qT0)

	q.supply(qRoomID, queue.Supply{}, qAt(time.Second))
	q.supply(qOther, queue.Supply{}, qAt(time.Second))
	now := qAt(2 * time.Second)
	wantState(t, "waiting", q.status(ts[1], now), queue.SoldOut, 0)
	wantState(t, "prequeue", q.status(pre.Ticket, now), queue.SoldOut, 0)
	wantState(t, "admitted", q.status(ts[0], now), queue.Admitted, 0)
	_, err := q.s.Use(t.Context(), ts[2], now)
	wantQueueCode(t, "Use while waiting", err, boxoffice.CodeSoldOut)
	_, err = q.s.Use(t.Context(), pre.Ticket, now)
	wantQueueCode(t, "Use in the prequeue", err, boxoffice.CodeSoldOut)
	wantState(t, "Use of a session", q.use(ts[0], now), queue.Admitted, 0)

	_, _, err = joinOne(t.Context(), q.s, room, fanID(9), now)
	wantQueueCode(t, "new join", err, boxoffice.CodeSoldOut)
	_, _, err = joinOne(t.Context(), q.s, room, fanID(2), now)
	wantQueueCode(t, "join of a waiting fan", err, boxoffice.CodeSoldOut)
	if st, created := q.join(room, fanID(1), now); created || st.Ticket != ts[0] || st.State != queue.Admitted {
		t.Errorf("join of an admitted fan: got %v %s created %v, want %v admitted", st.Ticket, st.State, created, ts[0])
	}

	wantAdmission(t, "step while sold out", q.admit(qAt(10*time.Second)), queue.Admission{Leader: true})
	st := q.stats(qAt(10 * time.Second))
	if !st.SoldOut || !st.Paused || st.Waiting != 2 || st.Active != 1 {
		t.Errorf("stats: got %+v, want sold out and paused, 2 waiting, 1 active", st)
	}
	// Waiting places keep their heartbeats while sold out.
	q.status(ts[1], qAt(50*time.Second))
	wantState(t, "heartbeat while sold out", q.status(ts[1], qAt(100*time.Second)), queue.SoldOut, 0)
	wantState(t, "without heartbeat", q.status(ts[2], qAt(100*time.Second)), queue.Expired, 0)
}

func testSupplyReturns(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	ts := q.joinAll(room, 3, qT0)
	q.supply(qRoomID, queue.Supply{}, qT0)
	wantAdmission(t, "step while sold out", q.admit(qT0), queue.Admission{Leader: true})
	// Holds lapse elsewhere and seats come back.
	q.supply(qRoomID, queue.Supply{Available: true}, qAt(time.Second))
	wantState(t, "waiting again", q.status(ts[1], qAt(time.Second)), queue.Waiting, 2)
	if st := q.stats(qAt(time.Second)); st.SoldOut || st.Paused {
		t.Errorf("stats: got sold out %v, paused %v, want neither", st.SoldOut, st.Paused)
	}
	st, created := q.join(room, fanID(4), qAt(time.Second))
	if !created {
		t.Errorf("join: got created false, want true")
	}
	wantState(t, "new join", st, queue.Waiting, 4)
	if a := q.admit(qAt(time.Second)); a.Admitted != 4 {
		t.Errorf("step: got %d admitted, want 4", a.Admitted)
	}
}

func testSupplyOlder(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	ts := q.joinAll(room, 2, qT0)
	q.supply(qRoomID, queue.Supply{}, qAt(2*time.Second))
	q.supply(qRoomID, queue.Supply{Available: true}, qAt(time.Second)) // read earlier, arrived later
	wantState(t, "after an older report", q.status(ts[0], qAt(3*time.Second)), queue.SoldOut, 0)
	q.supply(qRoomID, queue.Supply{Available: true}, qAt(2*time.Second))
	wantState(t, "after a report as recent", q.status(ts[0], qAt(3*time.Second)), queue.Waiting, 1)
}

func testSupplyNotFound(t *testing.T, q *queueStore) {
	err := q.s.SetSupply(t.Context(), qOther, queue.Supply{Available: true}, qT0)
	wantQueueCode(t, "SetSupply of unknown room", err, boxoffice.CodeNotFound)
}
