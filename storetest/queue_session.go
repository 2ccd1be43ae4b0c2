package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// The absolute end of a session: MaxSessionSeconds after its admission,
// however much it is used.

// sessionSettings: sessions last 60 s unused and end 300 s after admission.
func sessionSettings() queue.Settings {
	s := rateSettings(10)
	s.SessionSeconds, s.MaxSessionSeconds = 60, 300
	return s
}

func testMaxSessionUsed(t *testing.T, q *queueStore) {
	room := openRoom(sessionSettings())
	tk := q.joinAll(room, 1, qT0)[0]
	q.admit(qT0)
	st := q.status(tk, qT0)
	wantInstant(t, "expiry at admission", st.SessionExpiresAt, qAt(60*time.Second))
	wantInstant(t, "end at admission", st.SessionEndsAt, qAt(300*time.Second))
	for at := 30 * time.Second; at < 240*time.Second; at += 30 * time.Second {
		st := q.use(tk, qAt(at))
		wantInstant(t, "expiry after use at "+at.String(), st.SessionExpiresAt, qAt(at+60*time.Second))
		wantInstant(t, "end after use at "+at.String(), st.SessionEndsAt, qAt(300*time.Second))
	}
	// From 240 s on, a use would extend past the end: it stops there.
	st = q.use(tk, qAt(250*time.Second))
	wantInstant(t, "expiry after use near the end", st.SessionExpiresAt, qAt(300*time.Second))
	wantInstant(t, "status expiry near the end", q.status(tk, qAt(280*time.Second)).SessionExpiresAt, qAt(300*time.Second))
	st, _ = q.join(room, fanID(1), qAt(290*time.Second))
	wantState(t, "join again before the end", st, queue.Admitted, 0)
	wantInstant(t, "join again: expiry", st.SessionExpiresAt, qAt(300*time.Second))
	wantInstant(t, "join again: end", st.SessionEndsAt, qAt(300*time.Second))
	st = q.use(tk, qAt(300*time.Second-1))
	wantInstant(t, "expiry after use 1ns before the end", st.SessionExpiresAt, qAt(300*time.Second))

	_, err := q.s.Use(t.Context(), tk, qAt(300*time.Second))
	wantQueueCode(t, "Use at the end", err, boxoffice.CodeQueueTokenExpired)
	wantState(t, "status at the end", q.status(tk, qAt(300*time.Second)), queue.Expired, 0)
	if s := q.stats(qAt(300 * time.Second)); s.Active != 0 {
		t.Errorf("stats at the end: got %d active, want 0", s.Active)
	}
	a := q.admit(qAt(300 * time.Second))
	wantAdmission(t, "step at the end", a, queue.Admission{Leader: true, Ended: 1})
	if !slices.Equal(a.Gone, []int64{tk.Seq}) {
		t.Errorf("step at the end: got gone %v, want [%d]", a.Gone, tk.Seq)
	}
	// Joining again is a new place at the back, as after any ended session.
	if st, created := q.join(room, fanID(1), qAt(300*time.Second)); !created || st.Seq == tk.Seq || st.State != queue.Waiting {
		t.Errorf("join after the end: got %+v created %v, want a new waiting place", st, created)
	}
}

func testMaxSessionEarlier(t *testing.T, q *queueStore) {
	s := sessionSettings()
	s.MaxSessionSeconds = 45 // shorter than the 60 s of an unused session
	tk := q.joinAll(openRoom(s), 1, qT0)[0]
	q.admit(qAt(time.Second))
	st := q.status(tk, qAt(time.Second))
	wantState(t, "admitted", st, queue.Admitted, 0)
	wantInstant(t, "expiry", st.SessionExpiresAt, qAt(46*time.Second))
	wantInstant(t, "end", st.SessionEndsAt, qAt(46*time.Second))
	st = q.use(tk, qAt(2*time.Second))
	wantInstant(t, "expiry after use", st.SessionExpiresAt, qAt(46*time.Second))
	wantState(t, "1ns before the end", q.status(tk, qAt(46*time.Second-1)), queue.Admitted, 0)
	wantState(t, "at the end", q.status(tk, qAt(46*time.Second)), queue.Expired, 0)
}

func testMaxSessionFreesSlot(t *testing.T, q *queueStore) {
	s := maxActiveSettings(1)
	s.SessionSeconds, s.MaxSessionSeconds, s.IdleSeconds = 60, 100, 3600
	ts := q.joinAll(openRoom(s), 2, qT0)
	wantAdmission(t, "first step", q.admit(qT0), queue.Admission{Leader: true, Admitted: 1})
	q.use(ts[0], qAt(50*time.Second))
	q.use(ts[0], qAt(99*time.Second))
	wantAdmission(t, "1ns before the end", q.admit(qAt(100*time.Second-1)), queue.Admission{Leader: true})
	wantAdmission(t, "at the end", q.admit(qAt(100*time.Second)), queue.Admission{Leader: true, Admitted: 1, Ended: 1})
	if st := q.stats(qAt(100 * time.Second)); counts(st) != (queue.Stats{Active: 1, AdmittedTotal: 2}) {
		t.Errorf("stats: got %+v, want 1 active, 2 admitted", counts(st))
	}
	_, err := q.s.Use(t.Context(), ts[0], qAt(100*time.Second))
	wantQueueCode(t, "Use of the ended session", err, boxoffice.CodeQueueTokenExpired)
	st := q.status(ts[1], qAt(100*time.Second))
	wantState(t, "second fan", st, queue.Admitted, 0)
	wantInstant(t, "second fan's end", st.SessionEndsAt, qAt(200*time.Second))
}

func testMaxSessionConfigure(t *testing.T, q *queueStore) {
	room := openRoom(sessionSettings())
	ts := q.joinAll(room, 2, qT0)
	q.admit(qT0) // one a step at 10/s, from a bucket of one
	room.Settings.MaxSessionSeconds = 1000
	room.Version = 1
	q.configure(room)
	wantInstant(t, "session admitted before the change", q.use(ts[0], qAt(10*time.Second)).SessionEndsAt, qAt(300*time.Second))
	q.admit(qAt(time.Second))
	wantInstant(t, "session admitted after the change", q.use(ts[1], qAt(10*time.Second)).SessionEndsAt, qAt(1001*time.Second))
	if st := q.status(ts[1], qAt(10*time.Second)); st.Room.Settings.MaxSessionSeconds != 1000 {
		t.Errorf("room settings: got maxSessionSeconds %d, want 1000", st.Room.Settings.MaxSessionSeconds)
	}
}

func testMaxSessionRestore(t *testing.T, q *queueStore) {
	room := openRoom(sessionSettings())
	now := qAt(time.Second)
	places := []queue.Place{
		// Admitted 200 s before now: 100 s left.
		{UserID: fanID(1), Seq: 1, Key: queue.DrawSpan + 1, JoinedAt: qAt(-time.Hour), Admitted: true, AdmittedAt: now.Add(-200 * time.Second)},
		// Admitted 400 s before now: ended while the room was gone.
		{UserID: fanID(2), Seq: 2, Key: queue.DrawSpan + 2, JoinedAt: qAt(-time.Hour), Admitted: true, AdmittedAt: now.Add(-400 * time.Second)},
		// Admission not known: the end counts from now.
		{UserID: fanID(3), Seq: 3, Key: queue.DrawSpan + 3, JoinedAt: qAt(-time.Hour), Admitted: true},
	}
	q.restore(room, snapshotOf(t, queue.Snapshot{Seq: 3, Places: places, Admitted: 3}), now)
	tk := func(i int) queue.Ticket { return queue.Ticket{ConcertID: qRoomID, UserID: fanID(i), Seq: int64(i)} }

	st := q.status(tk(1), now)
	wantState(t, "restored session", st, queue.Admitted, 0)
	wantInstant(t, "restored session's expiry", st.SessionExpiresAt, now.Add(60*time.Second))
	wantInstant(t, "restored session's end", st.SessionEndsAt, now.Add(100*time.Second))
	wantInstant(t, "use near the end", q.use(tk(1), now.Add(50*time.Second)).SessionExpiresAt, now.Add(100*time.Second))
	_, err := q.s.Use(t.Context(), tk(1), now.Add(100*time.Second))
	wantQueueCode(t, "Use at the restored end", err, boxoffice.CodeQueueTokenExpired)

	wantState(t, "session past its end", q.status(tk(2), now), queue.Expired, 0)
	_, err = q.s.Use(t.Context(), tk(2), now)
	wantQueueCode(t, "Use of a session past its end", err, boxoffice.CodeQueueTokenExpired)

	wantInstant(t, "end of a session admitted at an unknown instant", q.status(tk(3), now).SessionEndsAt, now.Add(300*time.Second))

	// The step ends the session past its end, as any lapsed one.
	a := q.admit(now.Add(2 * time.Second))
	if a.Ended != 1 || !slices.Equal(a.Gone, []int64{2}) {
		t.Errorf("first step: got %+v, want the session past its end ended", a)
	}
}
