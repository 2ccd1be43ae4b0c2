package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// roomOpeningAt is a RATE room of the suite that opens at qT0+d.
func roomOpeningAt(d time.Duration, s queue.Settings) queue.Room {
	room := openRoom(s)
	room.OpensAt = qAt(d)
	return room
}

// drawOrder returns the user IDs of ts in the order of the suite's draw.
func drawOrder(ts []queue.Ticket) []string {
	rank := drawRanks(ts)
	users := make([]string, len(ts))
	for _, tk := range ts {
		users[rank[tk.UserID]-1] = tk.UserID
	}
	return users
}

func (q *queueStore) draw(concertID string) []string {
	q.t.Helper()
	d, _ := q.drawAt(concertID)
	return d
}

func (q *queueStore) drawAt(concertID string) ([]string, time.Time) {
	q.t.Helper()
	d, at, err := q.s.Draw(q.t.Context(), concertID)
	if err != nil {
		q.t.Fatalf("Draw: %v", err)
	}
	if (d == nil) != at.IsZero() {
		q.t.Errorf("Draw: got users %v made at %v; a draw has both or neither", d, at)
	}
	return d, at
}

// admissions reads the whole admission log.
func (q *queueStore) admissions(concertID string) []queue.AdmissionRecord {
	q.t.Helper()
	var all []queue.AdmissionRecord
	for {
		page, err := q.s.Admissions(q.t.Context(), concertID, int64(len(all))+1, queue.MaxAdmissionsPage)
		if err != nil {
			q.t.Fatalf("Admissions: %v", err)
		}
		all = append(all, page...)
		if len(page) < queue.MaxAdmissionsPage {
			return all
		}
	}
}

func admittedUsers(log []queue.AdmissionRecord) []string {
	users := make([]string, len(log))
	for i, a := range log {
		users[i] = a.UserID
	}
	return users
}

func testLotteryOrder(t *testing.T, q *queueStore) {
	room := roomOpeningAt(10*time.Second, rateSettings(10))
	early := q.joinAll(room, 30, qT0)
	var late []queue.Ticket
	for i := range 5 {
		// Joined at and after the opening, with falling clocks: arrival order.
		st, _ := q.join(room, fmt.Sprintf("late-%d", i), qAt(11*time.Second-time.Duration(i)*time.Millisecond))
		late = append(late, st.Ticket)
	}
	if d := q.draw(qRoomID); d != nil {
		t.Errorf("draw before the opening: got %v, want nil", d)
	}
	rank := drawRanks(early)
	now := qAt(12 * time.Second)
	for _, tk := range early {
		wantState(t, tk.UserID, q.status(tk, now), queue.Waiting, rank[tk.UserID])
	}
	for i, tk := range late {
		wantState(t, tk.UserID, q.status(tk, now), queue.Waiting, int64(31+i))
	}

	want := drawOrder(early)
	for _, tk := range late {
		want = append(want, tk.UserID)
	}
	for i := range 10 {
		q.admit(now.Add(time.Duration(i) * time.Second))
	}
	log := q.admissions(qRoomID)
	if got := admittedUsers(log); !slices.Equal(got, want) {
		t.Errorf("admission order: got %v, want %v (draw order, then arrival)", got, want)
	}
	for i, a := range log {
		if a.N != int64(i+1) || a.Prequeue != (i < 30) {
			t.Errorf("admission %d: got N %d prequeue %v, want N %d prequeue %v", i+1, a.N, a.Prequeue, i+1, i < 30)
		}
	}
	if got := q.draw(qRoomID); !slices.Equal(got, drawOrder(early)) {
		t.Errorf("draw: got %v, want %v", got, drawOrder(early))
	}
}

func testLotteryDrawMade(t *testing.T, q *queueStore) {
	room := roomOpeningAt(10*time.Second, maxActiveSettings(2))
	ts := q.joinAll(room, 6, qT0)
	q.leave(ts[1], qAt(5*time.Second)) // before the draw: not in it
	wantAdmission(t, "step before the opening", q.admit(qAt(10*time.Second-1)), queue.Admission{Leader: true})
	if d := q.draw(qRoomID); d != nil {
		t.Errorf("draw before the opening: got %v, want nil", d)
	}
	// A leave at the opening, before the first step from it, is before the
	// draw too.
	q.leave(ts[2], qAt(10*time.Second))
	q.join(room, "late", qAt(10*time.Second))
	wantAdmission(t, "first step from the opening", q.admit(qAt(11*time.Second)), queue.Admission{Leader: true, Admitted: 2})
	drawn := []queue.Ticket{ts[0], ts[3], ts[4], ts[5]}
	want := drawOrder(drawn)
	got, at := q.drawAt(qRoomID)
	if !slices.Equal(got, want) {
		t.Fatalf("draw: got %v, want %v", got, want)
	}
	if !at.Equal(qAt(11 * time.Second)) {
		t.Errorf("draw made at %v, want the first step from the opening, %v", at, qAt(11*time.Second))
	}
	// The draw never changes: not by leaves, admissions or joins.
	q.leave(ticketOf(drawn, want[3]), qAt(12*time.Second))
	q.join(room, "later", qAt(12*time.Second))
	q.use(ticketOf(drawn, want[0]), qAt(12*time.Second))
	q.leave(ticketOf(drawn, want[1]), qAt(12*time.Second))
	q.admit(qAt(13 * time.Second))
	if got := q.draw(qRoomID); !slices.Equal(got, want) {
		t.Errorf("draw after leaves and steps: got %v, want %v", got, want)
	}

	// A room open before anyone joined makes an empty draw.
	other := openRoom(rateSettings(10))
	other.ConcertID = qOther
	q.create(other, qT0)
	if d, _, err := q.s.Draw(t.Context(), qOther); err != nil || d != nil {
		t.Errorf("draw of a room never stepped: got %v, %v, want nil", d, err)
	}
	q.join(other, fanID(1), qT0)
	if _, err := q.s.Admit(t.Context(), qOther, "owner-a", qLease, qT0); err != nil {
		t.Fatal(err)
	}
	if d, _, err := q.s.Draw(t.Context(), qOther); err != nil || d == nil || len(d) != 0 {
		t.Errorf("draw of a room opened empty: got %#v, %v, want an empty non-nil slice", d, err)
	}
}

func ticketOf(ts []queue.Ticket, userID string) queue.Ticket {
	for _, tk := range ts {
		if tk.UserID == userID {
			return tk
		}
	}
	return queue.Ticket{}
}

func testLotteryRejoin(t *testing.T, q *queueStore) {
	room := roomOpeningAt(10*time.Second, rateSettings(10))
	ts := q.joinAll(room, 8, qT0)
	rank := drawRanks(ts)
	for i := range ts {
		// Leaving and joining again before the draw takes a new seq but
		// the same draw key: the same place in the draw.
		q.leave(ts[i], qAt(time.Second))
		st, created := q.join(room, ts[i].UserID, qAt(2*time.Second))
		if !created || st.Seq <= ts[i].Seq {
			t.Fatalf("rejoin of %s: got seq %d created %v, want a new seq", ts[i].UserID, st.Seq, created)
		}
		ts[i] = st.Ticket
	}
	for _, tk := range ts {
		wantState(t, tk.UserID, q.status(tk, qAt(10*time.Second)), queue.Waiting, rank[tk.UserID])
	}
}

func testLotteryJoinAfterDraw(t *testing.T, q *queueStore) {
	room := roomOpeningAt(10*time.Second, maxActiveSettings(1))
	ts := q.joinAll(room, 3, qT0)
	q.admit(qAt(10 * time.Second))
	want := drawOrder(ts)
	// With the opening moved later after the draw, a new fan joins the
	// back, in arrival order, and the draw stays.
	room.OpensAt = qAt(time.Hour)
	q.configure(room)
	st, _ := q.join(room, "after-draw", qAt(20*time.Second))
	wantState(t, "after-draw before the new opening", st, queue.Prequeue, 0)
	room.OpensAt = qAt(15 * time.Second)
	q.configure(room)
	wantState(t, "after-draw", q.status(st.Ticket, qAt(21*time.Second)), queue.Waiting, 3)
	if got := q.draw(qRoomID); !slices.Equal(got, want) {
		t.Errorf("draw: got %v, want %v", got, want)
	}
}

func testLotteryNotFound(t *testing.T, q *queueStore) {
	_, _, err := q.s.Draw(t.Context(), qOther)
	wantQueueCode(t, "Draw of unknown room", err, boxoffice.CodeNotFound)
}

func testRacePrequeue(t *testing.T, q *queueStore) {
	const n = 200
	room := closedRoom(rateSettings(10))
	q.create(room, qT0)
	ts := make([]queue.Ticket, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			st, _, err := joinOne(t.Context(), q.s, room, fanID(i), qT0)
			if err != nil {
				t.Errorf("Join(%s): %v", fanID(i), err)
			}
			ts[i] = st.Ticket
		})
	}
	wg.Wait()
	room.OpensAt = qAt(time.Second)
	q.configure(room)
	rank := drawRanks(ts)
	for _, tk := range ts {
		wantState(t, tk.UserID, q.status(tk, qAt(time.Second)), queue.Waiting, rank[tk.UserID])
	}
}
