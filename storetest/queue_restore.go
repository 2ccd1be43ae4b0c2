package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// snapshotOf returns a loader of snap that fails the test if called twice.
func snapshotOf(t *testing.T, snap queue.Snapshot) func(context.Context) (queue.Snapshot, error) {
	calls := 0
	return func(context.Context) (queue.Snapshot, error) {
		calls++
		if calls > 1 {
			t.Errorf("load called %d times, want once", calls)
		}
		return snap, nil
	}
}

func (q *queueStore) restore(room queue.Room, load func(context.Context) (queue.Snapshot, error), now time.Time) {
	q.t.Helper()
	if err := q.s.Restore(q.t.Context(), room, load, "restorer", time.Minute, now); err != nil {
		q.t.Fatalf("Restore: %v", err)
	}
}

// restoredPlaces are four waiting places, two of them drawn before the
// opening, and a session; seqs go up to 9.
func restoredPlaces(room queue.Room) []queue.Place {
	key := func(u string) int64 { return int64(queue.DrawKey(room.Seed, queue.EntryID(room.ConcertID, u))) }
	return []queue.Place{
		{UserID: fanID(7), Seq: 7, Key: queue.DrawSpan + 7, JoinedAt: qAt(-time.Minute)},
		{UserID: fanID(2), Seq: 2, Key: key(fanID(2)), JoinedAt: qAt(-2 * time.Hour)},
		{UserID: fanID(3), Seq: 3, Key: key(fanID(3)), JoinedAt: qAt(-2 * time.Hour)},
		{UserID: fanID(9), Seq: 9, Key: queue.DrawSpan + 9, JoinedAt: qAt(-time.Second)},
		{UserID: fanID(5), Seq: 5, Key: queue.DrawSpan + 5, JoinedAt: qAt(-30 * time.Minute), Admitted: true},
	}
}

func testRestoreRebuilds(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(2))
	room.Version = 4
	places := restoredPlaces(room)
	log := []queue.AdmissionRecord{
		{N: 6, UserID: fanID(1), Seq: 1, At: qAt(-40 * time.Minute)},
		{N: 7, UserID: fanID(5), Seq: 5, At: qAt(-20 * time.Minute)},
	}
	now := qAt(time.Second)
	q.restore(room, snapshotOf(t, queue.Snapshot{Seq: 12, Places: places, Log: log, Admitted: 7}), now)

	// Waiting places in key order, each with a fresh heartbeat at now.
	order := usersInDrawOrder(room, []string{fanID(2), fanID(3)})
	order = append(order, fanID(7), fanID(9))
	for i, u := range order {
		p := places[slices.IndexFunc(places, func(p queue.Place) bool { return p.UserID == u })]
		st := q.status(queue.Ticket{ConcertID: qRoomID, UserID: u, Seq: p.Seq}, now)
		wantState(t, "restored "+u, st, queue.Waiting, int64(i+1))
		wantRoom(t, "restored room", st.Room, room)
	}
	// A fresh session of SessionSeconds from now.
	st := q.status(queue.Ticket{ConcertID: qRoomID, UserID: fanID(5), Seq: 5}, now)
	wantState(t, "restored session", st, queue.Admitted, 0)
	wantInstant(t, "restored session end", st.SessionExpiresAt, now.Add(600*time.Second))
	wantState(t, "ticket of an older seq", q.status(queue.Ticket{ConcertID: qRoomID, UserID: fanID(5), Seq: 4}, now), queue.Expired, 0)

	// New joins are numbered after the journal's seq and wait behind.
	nst, created := q.join(room, fanID(20), now)
	if !created || nst.Seq != 13 {
		t.Errorf("join after restore: got seq %d created %v, want 13 created", nst.Seq, created)
	}
	wantState(t, "join after restore", nst, queue.Waiting, 5)

	// The log goes on from the journal's numbering.
	recs, err := q.s.Admissions(t.Context(), qRoomID, 1, 10)
	if err != nil || len(recs) != 2 || recs[0] != log[0] || recs[1] != log[1] {
		t.Errorf("admission log: got %+v, %v, want %+v", recs, err, log)
	}
	// The first period after a rebuild admits nobody: the period before
	// the loss may have admitted its fill.
	if a := q.admit(now.Add(500 * time.Millisecond)); a.Admitted != 0 {
		t.Errorf("step in the first period: got %d admitted, want 0", a.Admitted)
	}
	a := q.admit(now.Add(1100 * time.Millisecond))
	if a.Admitted != 2 || a.First != 8 || !slices.Equal(a.Seqs, []int64{seqOf(places, order[0]), seqOf(places, order[1])}) {
		t.Errorf("step after the first period: got %+v, want 2 admitted from N 8, the drawn places first", a)
	}
	if recs, _ := q.s.Admissions(t.Context(), qRoomID, 8, 10); len(recs) != 2 || recs[0].UserID != order[0] || !recs[0].Prequeue {
		t.Errorf("log after the step: got %+v, want %s first, from the draw", recs, order[0])
	}
	if s := q.stats(now.Add(1100 * time.Millisecond)); s.Active != 3 || s.Waiting != 3 || s.AdmittedTotal != 9 {
		t.Errorf("stats: got %+v, want 3 active, 3 waiting, 9 admitted in all", counts(s))
	}
}

func seqOf(places []queue.Place, userID string) int64 {
	for _, p := range places {
		if p.UserID == userID {
			return p.Seq
		}
	}
	return 0
}

func testRestoreDraw(t *testing.T, q *queueStore) {
	room := roomOpeningAt(-time.Minute, rateSettings(10))
	places := restoredPlaces(room)
	drawnAt := qAt(-time.Minute)
	// The recorded draw, which names a fan who has since left, stays as it
	// was; the places in it are not drawn again.
	draw := usersInDrawOrder(room, []string{fanID(3), fanID(1), fanID(2)})
	q.restore(room, snapshotOf(t, queue.Snapshot{Seq: 9, Places: places, Drawn: true, DrawnAt: drawnAt, Draw: draw}), qT0)
	got, at := q.drawAt(qRoomID)
	if !slices.Equal(got, draw) || !at.Equal(drawnAt) {
		t.Errorf("draw: got %v at %v, want %v at %v", got, at, draw, drawnAt)
	}
	if a := q.admit(qAt(2 * time.Second)); a.Drew {
		t.Errorf("step after restoring a drawn room: got Drew, want the draw kept")
	}

	// A room not yet drawn draws at its first step from the opening, from
	// the restored prequeue places.
	other := roomOpeningAt(time.Second, rateSettings(10))
	other.ConcertID = qOther
	q.restore(other, snapshotOf(t, queue.Snapshot{Seq: 9, Places: restoredPlaces(other)}), qT0)
	a, err := q.s.Admit(t.Context(), qOther, "owner", qLease, qAt(2*time.Second))
	if err != nil || !a.Drew {
		t.Fatalf("first step from the opening: got %+v, %v, want the draw made", a, err)
	}
	d, _, err := q.s.Draw(t.Context(), qOther)
	if want := usersInDrawOrder(other, []string{fanID(2), fanID(3)}); err != nil || !slices.Equal(d, want) {
		t.Errorf("draw made after restore: got %v, %v, want %v", d, err, want)
	}
}

func testRestoreExisting(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	ts := q.joinAll(room, 2, qT0)
	load := func(context.Context) (queue.Snapshot, error) {
		t.Errorf("load called for a room the store has")
		return queue.Snapshot{}, nil
	}
	q.restore(openRoom(maxActiveSettings(3)), load, qT0)
	st := q.status(ts[1], qT0)
	wantState(t, "place after a restore of an existing room", st, queue.Waiting, 2)
	wantRoom(t, "room after a restore of an existing room", st.Room, room)
}

func testRestoreOtherOwner(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	var inner error
	load := func(ctx context.Context) (queue.Snapshot, error) {
		inner = q.s.Restore(ctx, room, snapshotOf(t, queue.Snapshot{}), "other", time.Minute, qT0)
		if _, _, err := joinOne(ctx, q.s, room, fanID(1), qT0); boxoffice.ErrorCode(err) != boxoffice.CodeNotFound {
			t.Errorf("join while the room is rebuilt: got %v, want NOT_FOUND", err)
		}
		return queue.Snapshot{Seq: 1, Places: []queue.Place{{UserID: fanID(1), Seq: 1, Key: queue.DrawSpan + 1, JoinedAt: qT0}}}, nil
	}
	q.restore(room, load, qT0)
	wantQueueCode(t, "Restore by another owner meanwhile", inner, boxoffice.CodeUnavailable)
	wantState(t, "restored place", q.status(queue.Ticket{ConcertID: qRoomID, UserID: fanID(1), Seq: 1}, qT0), queue.Waiting, 1)
}

func testRestoreLoadError(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	failure := boxoffice.Unavailable("database", errors.New("down"))
	err := q.s.Restore(t.Context(), room, func(context.Context) (queue.Snapshot, error) { return queue.Snapshot{}, failure }, "a", time.Minute, qT0)
	if !errors.Is(err, boxoffice.ErrUnavailable) {
		t.Errorf("Restore with a failing load: got %v, want UNAVAILABLE", err)
	}
	_, err = q.s.Stats(t.Context(), qRoomID, qT0)
	wantQueueCode(t, "stats after a failed restore", err, boxoffice.CodeNotFound)
	// The claim of the failed attempt does not stop the same owner.
	q.s.Restore(t.Context(), room, snapshotOf(t, queue.Snapshot{}), "a", time.Minute, qT0)
	q.join(room, fanID(1), qT0)
}

// testAdmitReportsTickets checks the tickets a step reports.
func testAdmitReportsTickets(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	ts := q.joinAll(room, 4, qT0)
	a := q.admit(qT0)
	if !slices.Equal(a.Seqs, []int64{ts[0].Seq}) || a.First != 1 || !a.At.Equal(qT0) || len(a.Gone) != 0 || !a.Drew {
		t.Errorf("first step: got %+v, want seq %d from N 1 at %v, nothing gone, the draw made", a, ts[0].Seq, qT0)
	}
	q.status(ts[1], qAt(50*time.Second))
	q.status(ts[2], qAt(50*time.Second))
	a = q.admit(qAt(61 * time.Second))
	if !slices.Equal(a.Gone, []int64{ts[3].Seq}) || !slices.Equal(a.Seqs, []int64{ts[1].Seq, ts[2].Seq}) || a.First != 2 || a.Drew {
		t.Errorf("step after an idle drop: got %+v, want seq %d gone and %d, %d admitted from N 2", a, ts[3].Seq, ts[1].Seq, ts[2].Seq)
	}
	a = q.admit(qAt(700 * time.Second))
	if slices.Sort(a.Gone); !slices.Equal(a.Gone, []int64{ts[0].Seq, ts[1].Seq, ts[2].Seq}) || len(a.Seqs) != 0 {
		t.Errorf("step after the sessions lapsed: got %+v, want the three sessions gone", a)
	}
}

// testAdmitRateWindow checks that RATE admits at most its rate in any
// window of one period, even right after an idle stretch filled its credit.
func testAdmitRateWindow(t *testing.T, q *queueStore) {
	q.joinAll(openRoom(rateSettings(10)), 100, qT0)
	type step struct {
		at time.Duration
		n  int64
	}
	var steps []step
	stepAt := func(d time.Duration) {
		steps = append(steps, step{d, q.admit(qAt(d)).Admitted})
	}
	stepAt(0)
	for d := 5 * time.Second; d <= 8*time.Second; d += 100 * time.Millisecond {
		stepAt(d)
	}
	var total int64
	for i, s := range steps {
		total += s.n
		var sum int64
		for _, o := range steps[:i+1] {
			if o.at > s.at-time.Second {
				sum += o.n
			}
		}
		if sum > 10 {
			t.Errorf("window ending at +%v: got %d admitted, want at most 10", s.at, sum)
		}
	}
	if total != 1+4*10 {
		t.Errorf("admitted in all: got %d, want %d (1, then 10 at each of +5, +6, +7 and +8 s)", total, 1+4*10)
	}
}

// usersInDrawOrder returns users of room's concert in the order of a draw
// with room's seed.
func usersInDrawOrder(room queue.Room, users []string) []string {
	ts := make([]queue.Ticket, len(users))
	for i, u := range users {
		ts[i] = queue.Ticket{ConcertID: room.ConcertID, UserID: u}
	}
	rank := drawRanksWith(room.Seed, ts)
	out := make([]string, len(users))
	for _, u := range users {
		out[rank[u]-1] = u
	}
	return out
}

// joinOne is Store.Join of one user.
func joinOne(ctx context.Context, s queue.Store, room queue.Room, userID string, now time.Time) (queue.Status, bool, error) {
	js, err := s.Join(ctx, room, []string{userID}, now)
	if err != nil {
		return queue.Status{}, false, err
	}
	if len(js) != 1 {
		return queue.Status{}, false, fmt.Errorf("Join of one user: got %d answers", len(js))
	}
	return js[0].Status, js[0].Created, js[0].Err
}

// testJoinMany checks one Join of several users: answers in order, seqs
// in order, a user twice in one call gets one place.
func testJoinMany(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	q.create(room, qT0)
	q.join(room, fanID(9), qT0)
	js, err := q.s.Join(t.Context(), room, []string{fanID(1), fanID(9), fanID(2), fanID(1)}, qT0)
	if err != nil || len(js) != 4 {
		t.Fatalf("Join of four: got %d answers, %v, want 4", len(js), err)
	}
	want := []struct {
		user     string
		seq      int64
		created  bool
		position int64
	}{{fanID(1), 2, true, 2}, {fanID(9), 1, false, 1}, {fanID(2), 3, true, 3}, {fanID(1), 2, false, 2}}
	for i, w := range want {
		j := js[i]
		if j.Err != nil || j.UserID != w.user || j.Seq != w.seq || j.Created != w.created || j.Position != w.position {
			t.Errorf("answer %d: got %s seq %d created %v position %d (%v), want %s seq %d created %v position %d",
				i, j.UserID, j.Seq, j.Created, j.Position, j.Err, w.user, w.seq, w.created, w.position)
		}
	}
}
