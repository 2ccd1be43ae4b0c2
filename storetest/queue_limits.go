package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice/queue"
)

// RunQueueStoreLimits checks how a queue.Store bounds one admission step.
// newStore must return empty stores whose step removes at most 2 idle places
// and 2 lapsed sessions and admits at most 3 fans. What a step leaves is
// done by later steps; admission credit a step could not use is kept.
func RunQueueStoreLimits(t *testing.T, newStore func(t *testing.T) queue.Store) {
	run := subRunner(t, newStore)
	run("IdlePlacesInBatches", testLimitIdle)
	run("LapsedSessionsInBatches", testLimitLapsed)
	run("AdmitLimitKeepsCredit", testLimitCredit)
	run("EndedPlaceAtHeadStopsStep", testLimitEndedHead)
	run("DrawWaitsForIdleSweep", testLimitDraw)
	run("AdmissionLogKeepsLatest", testLimitLog)
}

func testLimitIdle(t *testing.T, q *queueStore) {
	q.joinAll(closedRoom(rateSettings(10)), 5, qT0)
	for i, want := range []int64{2, 2, 1, 0} {
		now := qAt(60*time.Second + time.Duration(i)*time.Millisecond)
		wantAdmission(t, now.Sub(qT0).String(), q.admit(now), queue.Admission{Leader: true, Dropped: want})
		if s := q.stats(now); s.Waiting != 0 {
			t.Errorf("waiting at %v: got %d, want 0", now.Sub(qT0), s.Waiting)
		}
	}
	if s := q.stats(qAt(time.Minute)); s.DroppedTotal != 5 {
		t.Errorf("dropped total: got %d, want 5", s.DroppedTotal)
	}
}

func testLimitLapsed(t *testing.T, q *queueStore) {
	s := maxActiveSettings(10)
	s.SessionSeconds, s.IdleSeconds = 30, 3600
	room := openRoom(s)
	q.joinAll(room, 5, qT0)
	wantAdmission(t, "first step", q.admit(qT0), queue.Admission{Leader: true, Admitted: 3})
	wantAdmission(t, "second step", q.admit(qAt(time.Millisecond)), queue.Admission{Leader: true, Admitted: 2})
	for i := 6; i <= 8; i++ {
		q.join(room, fanID(i), qAt(time.Second))
	}
	// All five sessions have lapsed; the three unswept still count as
	// active (a Use with an earlier clock could extend them), which leaves
	// room for three.
	now := qAt(31 * time.Second)
	wantAdmission(t, "after sessions end", q.admit(now), queue.Admission{Leader: true, Admitted: 3, Ended: 2})
	wantAdmission(t, "next step", q.admit(now.Add(time.Millisecond)), queue.Admission{Leader: true, Ended: 2})
	wantAdmission(t, "last step", q.admit(now.Add(2*time.Millisecond)), queue.Admission{Leader: true, Ended: 1})
	if st := q.stats(now); st.Active != 3 || st.Waiting != 0 {
		t.Errorf("stats: got %+v, want 3 active, 0 waiting", st)
	}
}

func testLimitCredit(t *testing.T, q *queueStore) {
	q.joinAll(openRoom(rateSettings(10)), 20, qT0)
	wantAdmission(t, "first step", q.admit(qT0), queue.Admission{Leader: true, Admitted: 1})
	// Five seconds on the bucket holds its cap, 10, admitted 3 per step.
	now := qAt(5 * time.Second)
	for i, want := range []int64{3, 3, 3, 1, 0} {
		wantAdmission(t, fmt.Sprintf("step %d", i+1), q.admit(now), queue.Admission{Leader: true, Admitted: want})
	}
}

func testLimitEndedHead(t *testing.T, q *queueStore) {
	room := openRoom(maxActiveSettings(10))
	ts := q.joinAll(room, 6, qT0)
	q.status(ts[4], qAt(50*time.Second))
	q.status(ts[5], qAt(50*time.Second))
	// Four places are idle; the sweep takes two and two stay at the head.
	now := qAt(60 * time.Second)
	wantAdmission(t, "first step", q.admit(now), queue.Admission{Leader: true, Dropped: 2})
	wantAdmission(t, "second step", q.admit(now.Add(time.Millisecond)), queue.Admission{Leader: true, Dropped: 2, Admitted: 2})
	wantState(t, "fifth", q.status(ts[4], now), queue.Admitted, 0)
}

func testLimitDraw(t *testing.T, q *queueStore) {
	room := roomOpeningAt(60*time.Second, rateSettings(10))
	ts := q.joinAll(room, 5, qT0)
	q.status(ts[0], qAt(30*time.Second))
	// Four places are idle at the opening; the first step drops two and
	// may not draw with idle places left.
	now := qAt(60 * time.Second)
	wantAdmission(t, "first step", q.admit(now), queue.Admission{Leader: true, Dropped: 2})
	if d := q.draw(qRoomID); d != nil {
		t.Errorf("draw with idle places left: got %v, want nil", d)
	}
	wantAdmission(t, "second step", q.admit(now.Add(time.Millisecond)), queue.Admission{Leader: true, Dropped: 2, Admitted: 1})
	if d := q.draw(qRoomID); len(d) != 1 || d[0] != ts[0].UserID {
		t.Errorf("draw: got %v, want [%s]", d, ts[0].UserID)
	}
}

func testLimitLog(t *testing.T, q *queueStore) {
	room := openRoom(maxActiveSettings(10))
	ts := q.joinAll(room, 6, qT0)
	q.admit(qT0)
	q.admit(qAt(time.Millisecond))
	got, err := q.s.Admissions(t.Context(), qRoomID, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].N != 3 || got[0].UserID != ts[2].UserID || got[3].N != 6 || got[3].UserID != ts[5].UserID {
		t.Errorf("log: got %+v, want admissions 3 to 6", got)
	}
}
