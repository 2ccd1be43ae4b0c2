package storetest

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// runQueueEnd checks Store.End and Store.Kept, and that a Service ending a
// room keeps in its Archive what the store answered: the Archive here is
// recordArchive, which keeps a Record as it is handed over (the archives of
// the SQL stores have their own suite, RunRoomArchive).
func runQueueEnd(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("End", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("RemovesEveryState", testEndRemoves)
		run("UnknownRoomDoesNothing", testEndUnknown)
		run("KeptListsEveryRoom", testEndKept)
		run("ArchiveAnswersTheSame", testEndArchiveSame)
		run("SoldOutRoomEndsAfterItsSessions", testEndSoldOut)
		run("EndedRoomIsNotBuiltAgain", testEndNotRebuilt)
	})
}

// busyRoom fills the suite's room: 10 fans joined before the opening (the
// draw), 10 after it, some admitted over three steps, one of the first
// and one of the later fans left. It returns the instant of its last step.
func busyRoom(t *testing.T, q *queueStore) (queue.Room, time.Time) {
	t.Helper()
	room := roomOpeningAt(time.Second, rateSettings(4))
	ts := q.joinAll(room, 10, qT0)
	at := qAt(time.Second)
	for i := 10; i < 20; i++ {
		st, _ := q.join(room, fanID(i+1), at)
		ts = append(ts, st.Ticket)
	}
	for i := range 3 {
		at = qAt(time.Second + time.Duration(i)*time.Second)
		q.admit(at)
	}
	q.leave(ts[0], at)
	q.leave(ts[15], at)
	return room, at
}

func testEndRemoves(t *testing.T, q *queueStore) {
	room, at := busyRoom(t, q)
	if st := q.stats(at); st.AdmittedTotal == 0 || !st.Drawn {
		t.Fatalf("before the end: got %+v, want admissions and a draw", st)
	}
	if err := q.s.End(t.Context(), qRoomID); err != nil {
		t.Fatalf("End: %v", err)
	}
	ctx := t.Context()
	tk := queue.Ticket{ConcertID: qRoomID, UserID: fanID(2), Seq: 2}
	_, err := q.s.Stats(ctx, qRoomID, at)
	wantQueueCode(t, "Stats", err, boxoffice.CodeNotFound)
	_, err = q.s.Status(ctx, tk, at)
	wantQueueCode(t, "Status", err, boxoffice.CodeNotFound)
	_, err = q.s.Use(ctx, tk, at)
	wantQueueCode(t, "Use", err, boxoffice.CodeNotFound)
	_, err = q.s.Admit(ctx, qRoomID, "owner-a", qLease, at)
	wantQueueCode(t, "Admit", err, boxoffice.CodeNotFound)
	_, _, err = q.s.Draw(ctx, qRoomID)
	wantQueueCode(t, "Draw", err, boxoffice.CodeNotFound)
	_, err = q.s.Admissions(ctx, qRoomID, 1, 100)
	wantQueueCode(t, "Admissions", err, boxoffice.CodeNotFound)
	err = q.s.SetSupply(ctx, qRoomID, queue.Supply{Available: true}, at)
	wantQueueCode(t, "SetSupply", err, boxoffice.CodeNotFound)
	_, _, err = joinOne(ctx, q.s, room, "newcomer", at)
	wantQueueCode(t, "Join", err, boxoffice.CodeNotFound)
	if err := q.s.Leave(ctx, tk.ConcertID, []queue.Ticket{tk}, at); err != nil {
		t.Errorf("Leave in an ended room: %v", err)
	}
	if err := q.s.Configure(ctx, room); err != nil {
		t.Errorf("Configure of an ended room: %v", err)
	}
	wantKept(t, q.s)
	if rooms, err := q.s.Rooms(ctx); err != nil || len(rooms) != 0 {
		t.Errorf("Rooms: got %v, %v, want none", rooms, err)
	}
	// Nothing of the room is left: built again from nothing, it is empty,
	// undrawn, without a log, and numbers joins from 1.
	q.create(room, at)
	if st := q.stats(at); !reflect.DeepEqual(st, queue.Stats{}) {
		t.Errorf("Stats of the room built again: got %+v, want zero", st)
	}
	if users, _, err := q.s.Draw(ctx, qRoomID); err != nil || users != nil {
		t.Errorf("Draw of the room built again: got %v, %v, want none", users, err)
	}
	if log, err := q.s.Admissions(ctx, qRoomID, 1, 100); err != nil || len(log) != 0 {
		t.Errorf("Admissions of the room built again: got %v, %v, want none", log, err)
	}
	if st, _ := q.join(room, fanID(2), at); st.Seq != 1 {
		t.Errorf("first join of the room built again: got seq %d, want 1", st.Seq)
	}
}

func wantKept(t *testing.T, s queue.Store, want ...string) {
	t.Helper()
	got, err := s.Kept(t.Context())
	if err != nil {
		t.Fatalf("Kept: %v", err)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("Kept: got %v, want %v", got, want)
	}
}

func testEndUnknown(t *testing.T, q *queueStore) {
	other := openRoom(rateSettings(10))
	other.ConcertID = qOther
	q.join(other, fanID(1), qT0)
	if err := q.s.End(t.Context(), qRoomID); err != nil {
		t.Fatalf("End of an unknown room: %v", err)
	}
	if err := q.s.End(t.Context(), qRoomID); err != nil {
		t.Fatalf("End again: %v", err)
	}
	wantKept(t, q.s, qOther)
	if st, err := q.s.Stats(t.Context(), qOther, qT0); err != nil || st.Waiting != 1 {
		t.Errorf("the other room: got %+v, %v, want its fan waiting", st, err)
	}
}

func testEndKept(t *testing.T, q *queueStore) {
	wantKept(t, q.s)
	room := openRoom(rateSettings(10))
	st, _ := q.join(room, fanID(1), qT0)
	other := room
	other.ConcertID = qOther
	q.create(other, qT0)
	wantKept(t, q.s, qRoomID, qOther)
	q.leave(st.Ticket, qT0)
	// Empty rooms have no places to admit, but they are kept until ended.
	if rooms, _ := q.s.Rooms(t.Context()); len(rooms) != 0 {
		t.Errorf("Rooms: got %v, want none", rooms)
	}
	wantKept(t, q.s, qRoomID, qOther)
	if err := q.s.End(t.Context(), qOther); err != nil {
		t.Fatal(err)
	}
	wantKept(t, q.s, qRoomID)
}

// endService is a Service on q's store whose concerts' last dates start at
// closes, with a recordArchive and a grace of 10 minutes.
func endService(q *queueStore, clock boxoffice.Clock, closes time.Time, supply func(context.Context, string) (queue.Supply, error)) (*queue.Service, *recordArchive) {
	svc := queue.NewService(q.s, clock, "svc", 100*time.Millisecond, nil, func(string) []byte { return qSeed }, supply)
	a := newRecordArchive()
	svc.Archive = a
	svc.Grace = 10 * time.Minute
	svc.Closes = func(context.Context, string) (time.Time, error) { return closes, nil }
	return svc, a
}

// serviceView is what operators read of a room through a Service.
type serviceView struct {
	Stats   queue.Stats
	Draw    []string
	DrawnAt time.Time
	Log     []queue.AdmissionRecord
	Page    []queue.AdmissionRecord // from 3, 4 entries
}

func viewOf(t *testing.T, svc *queue.Service) serviceView {
	t.Helper()
	var v serviceView
	var err error
	if v.Stats, err = svc.Stats(t.Context(), qRoomID); err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if v.Draw, v.DrawnAt, err = svc.Draw(t.Context(), qRoomID); err != nil {
		t.Fatalf("Draw: %v", err)
	}
	if v.Log, err = svc.Admissions(t.Context(), qRoomID, 1, queue.MaxAdmissionsPage); err != nil {
		t.Fatalf("Admissions: %v", err)
	}
	if v.Page, err = svc.Admissions(t.Context(), qRoomID, 3, 4); err != nil {
		t.Fatalf("Admissions: %v", err)
	}
	return v
}

func endRooms(t *testing.T, svc *queue.Service, want ...string) {
	t.Helper()
	got, err := svc.EndRooms(t.Context())
	if err != nil {
		t.Fatalf("EndRooms: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("EndRooms: got %v, want %v", got, want)
	}
}

func testEndArchiveSame(t *testing.T, q *queueStore) {
	_, at := busyRoom(t, q)
	closes := at.Add(time.Hour)
	clock := boxoffice.NewManualClock(at)
	svc, archive := endService(q, clock, closes, nil)
	endRooms(t, svc) // the last date has not started
	clock.Set(closes.Add(10*time.Minute - time.Millisecond))
	endRooms(t, svc) // within the grace
	clock.Set(closes.Add(10 * time.Minute))
	before := viewOf(t, svc)
	if n := before.Stats.AdmittedTotal; n < 5 || int64(len(before.Log)) != n || len(before.Draw) != 10 || before.Stats.Waits.Count() != n || len(before.Page) != 4 {
		t.Fatalf("before the end: got %+v, want 5 or more admitted, each logged and counted in the waits, 10 drawn", before)
	}
	endRooms(t, svc, qRoomID)
	wantKept(t, q.s)
	if n := archive.records(); n != 1 {
		t.Errorf("records kept: got %d, want 1", n)
	}
	after := viewOf(t, svc)
	if !reflect.DeepEqual(after, before) {
		t.Errorf("after the end: got\n%+v\nwant as before:\n%+v", after, before)
	}
	// The end is done once: nothing more to end, nothing kept again.
	endRooms(t, svc)
	if n := archive.records(); n != 1 {
		t.Errorf("records kept after another EndRooms: got %d, want 1", n)
	}
}

func testEndSoldOut(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	ts := q.joinAll(room, 3, qT0)
	if a := q.admit(qT0); a.Admitted != 1 {
		t.Fatalf("first step: got %d admitted, want 1", a.Admitted)
	}
	clock := boxoffice.NewManualClock(qAt(5 * time.Minute))
	sold := func(context.Context, string) (queue.Supply, error) { return queue.Supply{}, nil }
	// The last date starts far later: only the sell-out can end the room.
	svc, _ := endService(q, clock, qT0.Add(30*24*time.Hour), sold)
	endRooms(t, svc) // a session is alive
	for _, tk := range ts {
		q.leave(tk, qAt(5*time.Minute))
	}
	endRooms(t, svc) // can end from now on
	clock.Set(qAt(15*time.Minute - time.Millisecond))
	endRooms(t, svc)
	clock.Set(qAt(15 * time.Minute))
	endRooms(t, svc, qRoomID)
	wantKept(t, q.s)
}

func testEndNotRebuilt(t *testing.T, q *queueStore) {
	room, at := busyRoom(t, q)
	clock := boxoffice.NewManualClock(at.Add(time.Hour))
	svc, _ := endService(q, clock, at, nil)
	// A journal that still has live places of the room, as it does of a
	// room whose last date passed with fans in it.
	svc.Journal = liveJournal{}
	svc.RoomOf = func(context.Context, string) (queue.Room, error) { return room, nil }
	endRooms(t, svc, qRoomID)
	tk := queue.Ticket{ConcertID: qRoomID, UserID: fanID(20), Seq: 20}
	if st, err := svc.Status(t.Context(), tk); boxoffice.ErrorCode(err) != boxoffice.CodeNotFound {
		t.Errorf("Status in an ended room: got %+v, %v, want NOT_FOUND", st, err)
	}
	_, err := svc.Use(t.Context(), tk)
	wantQueueCode(t, "Use in an ended room", err, boxoffice.CodeQueueTokenExpired)
	_, _, err = svc.Join(t.Context(), room, "newcomer")
	wantQueueCode(t, "Join of an ended room", err, boxoffice.CodeSoldOut)
	if _, ok, err := svc.Place(t.Context(), qRoomID, fanID(20)); ok || err != nil {
		t.Errorf("Place in an ended room: got %v, %v, want none", ok, err)
	}
	svc.Step(t.Context())
	wantKept(t, q.s)
	// A room built by a rebuild that raced the end is removed by the next
	// EndRooms.
	q.create(room, at)
	endRooms(t, svc)
	wantKept(t, q.s)
}

// liveJournal is a queue.Journal whose every room has one live place.
type liveJournal struct{}

func (liveJournal) Joined(context.Context, string, []queue.Place) error               { return nil }
func (liveJournal) Admitted(context.Context, string, int64, []int64, time.Time) error { return nil }
func (liveJournal) Ended(context.Context, string, []int64) error                      { return nil }
func (liveJournal) Drawn(context.Context, string, []string, time.Time) error          { return nil }
func (liveJournal) Rooms(context.Context) ([]string, error)                           { return []string{qRoomID}, nil }
func (liveJournal) Load(context.Context, string) (queue.Snapshot, error) {
	return queue.Snapshot{Seq: 30, Places: []queue.Place{{UserID: fanID(20), Seq: 20, Key: queue.DrawSpan + 20, JoinedAt: qT0}}}, nil
}

// recordArchive is a queue.Archive in memory that keeps each Record as it
// is handed over: what the suite compares with the store's answers.
type recordArchive struct {
	mu      sync.Mutex
	since   map[string]time.Time
	ended   map[string]queue.Record
	claimed map[string]bool
}

func newRecordArchive() *recordArchive {
	return &recordArchive{since: make(map[string]time.Time), ended: make(map[string]queue.Record), claimed: make(map[string]bool)}
}

func (a *recordArchive) records() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.ended)
}

func (a *recordArchive) Endable(_ context.Context, id string, since, now time.Time) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if since.IsZero() {
		since = now
	}
	if _, ok := a.since[id]; !ok {
		a.since[id] = since
	}
	return nil
}

func (a *recordArchive) End(ctx context.Context, grace time.Duration, skip []string, now time.Time,
	record func(context.Context, string, int64) (queue.Record, error)) (string, error) {
	a.mu.Lock()
	var id string
	for c, since := range a.since {
		_, done := a.ended[c]
		if !done && !a.claimed[c] && !slices.Contains(skip, c) && !now.Before(since.Add(grace)) {
			id = c
			break
		}
	}
	if id == "" {
		a.mu.Unlock()
		return "", nil
	}
	a.claimed[id] = true
	a.mu.Unlock()
	rec, err := record(ctx, id, 1)
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.claimed, id)
	if err != nil {
		return id, err
	}
	a.ended[id] = rec
	return id, nil
}

func (a *recordArchive) Ended(_ context.Context, ids []string) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, id := range ids {
		if _, ok := a.ended[id]; ok {
			out = append(out, id)
		}
	}
	return out, nil
}

func (a *recordArchive) record(id string) (queue.Record, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rec, ok := a.ended[id]
	if !ok {
		return queue.Record{}, queue.NoRoomError(id)
	}
	return rec, nil
}

func (a *recordArchive) Stats(_ context.Context, id string) (queue.Stats, error) {
	rec, err := a.record(id)
	return rec.Stats, err
}

func (a *recordArchive) Draw(_ context.Context, id string) ([]string, time.Time, error) {
	rec, err := a.record(id)
	return rec.Draw, rec.DrawnAt, err
}

func (a *recordArchive) Admissions(_ context.Context, id string, from int64, limit int) ([]queue.AdmissionRecord, error) {
	rec, err := a.record(id)
	if err != nil {
		return nil, err
	}
	var out []queue.AdmissionRecord
	for _, r := range rec.Log {
		if r.N >= from && len(out) < min(limit, queue.MaxAdmissionsPage) {
			out = append(out, r)
		}
	}
	return out, nil
}
