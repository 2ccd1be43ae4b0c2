package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

func (q *queueStore) statuses(tks []queue.Ticket, now time.Time) []queue.Status {
	q.t.Helper()
	sts, err := q.s.Statuses(q.t.Context(), qRoomID, tks, now)
	if err != nil {
		q.t.Fatalf("Statuses at %v: %v", now, err)
	}
	if len(sts) != len(tks) {
		q.t.Fatalf("Statuses of %d tickets: got %d, want %d", len(tks), len(sts), len(tks))
	}
	return sts
}

func testStatusesSame(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	ts := q.joinAll(room, 6, qT0)
	q.admit(qT0) // fanID(1) is admitted
	q.leave(ts[5], qT0)
	forged := queue.Ticket{ConcertID: qRoomID, UserID: ts[4].UserID, Seq: ts[4].Seq + 100}
	elsewhere := queue.Ticket{ConcertID: qOther, UserID: ts[3].UserID, Seq: ts[3].Seq}
	tks := []queue.Ticket{ts[0], ts[1], ts[2], ts[3], ts[5], forged, elsewhere}
	want := []struct {
		state    queue.State
		position int64
	}{{queue.Admitted, 0}, {queue.Waiting, 1}, {queue.Waiting, 2}, {queue.Waiting, 3}, {queue.Expired, 0}, {queue.Expired, 0}, {queue.Expired, 0}}

	now := qAt(30 * time.Second)
	got := q.statuses(tks, now)
	for i, st := range got {
		what := fmt.Sprintf("ticket %d (%v)", i, tks[i])
		if st.Ticket != tks[i] {
			t.Errorf("%s: got ticket %v, want %v", what, st.Ticket, tks[i])
		}
		wantState(t, what, st, want[i].state, want[i].position)
		if tks[i].ConcertID != qRoomID {
			continue
		}
		single := q.status(tks[i], now)
		if st.Waiting != single.Waiting || !st.SessionExpiresAt.Equal(single.SessionExpiresAt) || st.Rate != single.Rate {
			t.Errorf("%s: got %+v, want as Status: %+v", what, st, single)
		}
		wantRoom(t, what, st.Room, room)
	}
	// Statuses were heartbeats of the real places, not of the forged one.
	now = qAt(70 * time.Second)
	for i, w := range []queue.State{queue.Admitted, queue.Waiting, queue.Waiting, queue.Waiting} {
		wantState(t, "after heartbeat, "+ts[i].UserID, q.status(ts[i], now), w, int64(i))
	}
	wantState(t, "forged ticket's place", q.status(ts[4], now), queue.Expired, 0)
	if sts := q.statuses(nil, now); len(sts) != 0 {
		t.Errorf("no tickets: got %v, want none", sts)
	}
}

func testStatusesMany(t *testing.T, q *queueStore) {
	const n = 2500 // more than queue.StatusBatch
	room := closedRoom(rateSettings(10))
	ts := q.joinAll(room, n, qT0)
	slices.Reverse(ts)
	sts := q.statuses(ts, qAt(time.Second))
	for i, st := range sts {
		if st.Ticket != ts[i] || st.State != queue.Prequeue || st.Prequeued != n {
			t.Fatalf("ticket %d: got %v %s with %d prequeued, want %v %s with %d", i, st.Ticket, st.State, st.Prequeued, ts[i], queue.Prequeue, n)
		}
	}
	room.OpensAt = qAt(2 * time.Second)
	q.configure(room)
	rank := drawRanks(ts)
	for i, st := range q.statuses(ts, qAt(2*time.Second)) {
		wantState(t, ts[i].UserID, st, queue.Waiting, rank[ts[i].UserID])
	}
}

func testStatusesNotFound(t *testing.T, q *queueStore) {
	_, err := q.s.Statuses(t.Context(), qOther, []queue.Ticket{{ConcertID: qOther, UserID: fanID(1), Seq: 1}}, qT0)
	wantQueueCode(t, "Statuses in unknown room", err, boxoffice.CodeNotFound)
	_, err = q.s.Statuses(t.Context(), qOther, nil, qT0)
	wantQueueCode(t, "Statuses of no tickets in unknown room", err, boxoffice.CodeNotFound)
}

func testAdmissionsLog(t *testing.T, q *queueStore) {
	room := roomOpeningAt(10*time.Second, rateSettings(2))
	pre := q.joinAll(room, 3, qT0)
	var late []queue.Ticket
	for i := range 2 {
		st, _ := q.join(room, fmt.Sprintf("late-%d", i), qAt(11*time.Second))
		late = append(late, st.Ticket)
	}
	for _, s := range []time.Duration{10, 11, 12} {
		q.admit(qAt(s * time.Second))
	}
	var want []queue.AdmissionRecord
	for i, u := range drawOrder(pre) {
		want = append(want, queue.AdmissionRecord{UserID: u, Seq: ticketOf(pre, u).Seq, Prequeue: true, At: qAt(time.Duration(10+(i+1)/2) * time.Second)})
	}
	for _, tk := range late {
		want = append(want, queue.AdmissionRecord{UserID: tk.UserID, Seq: tk.Seq, At: qAt(12 * time.Second)})
	}
	for i := range want {
		want[i].N = int64(i + 1)
	}
	page := func(from int64, limit int, wantFrom, wantTo int) {
		t.Helper()
		got, err := q.s.Admissions(t.Context(), qRoomID, from, limit)
		if err != nil {
			t.Fatalf("Admissions(%d, %d): %v", from, limit, err)
		}
		w := want[wantFrom:wantTo]
		if len(got) != len(w) {
			t.Fatalf("Admissions(%d, %d): got %+v, want %+v", from, limit, got, w)
		}
		for i := range got {
			if got[i].N != w[i].N || got[i].UserID != w[i].UserID || got[i].Seq != w[i].Seq || got[i].Prequeue != w[i].Prequeue || !got[i].At.Equal(w[i].At) {
				t.Errorf("Admissions(%d, %d)[%d]: got %+v, want %+v", from, limit, i, got[i], w[i])
			}
		}
	}
	page(1, 10, 0, 5)
	page(0, 10, 0, 5)
	page(2, 2, 1, 3)
	page(5, 10, 4, 5)
	page(6, 10, 5, 5)
	page(1, 0, 0, 0)
}

func testAdmissionsNotFound(t *testing.T, q *queueStore) {
	_, err := q.s.Admissions(t.Context(), qOther, 1, 10)
	wantQueueCode(t, "Admissions of unknown room", err, boxoffice.CodeNotFound)
}
