package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// RoomArchiveEnv is the archive of one fresh, empty database and, when
// the archive reads admission logs and draws from it, the database's
// journal.
type RoomArchiveEnv struct {
	Archive queue.Archive
	Journal queue.Journal // nil when the archive keeps them itself
}

// RunRoomArchive checks that the archives newEnv returns keep the
// queue.Archive contract: a room ends grace after it could, once, by one
// caller, and its record reads back as it was handed over. With a journal,
// the suite journals the room as a Service would have, but for the last
// admission steps and the draw, which the archive must take from the
// record. The archive is used without a shared clock: the instants passed
// decide.
func RunRoomArchive(t *testing.T, newEnv func(t *testing.T) RoomArchiveEnv) {
	run := func(name string, f func(*testing.T, RoomArchiveEnv)) {
		t.Run(name, func(t *testing.T) { f(t, newEnv(t)) })
	}
	run("UnknownRoom", testArchiveUnknown)
	run("DueAfterGrace", testArchiveGrace)
	run("SinceZeroIsNow", testArchiveSinceNow)
	run("FirstInstantStays", testArchiveFirstInstant)
	run("KeepsRecord", testArchiveKeeps)
	run("EmptyAndMissingDraw", testArchiveDraws)
	run("RecordErrorLeavesRoom", testArchiveRecordError)
	run("OneCallerPerRoom", testArchiveRace)
}

// emptyRecord is a record function for a room with nothing to keep.
func emptyRecord(context.Context, string, int64) (queue.Record, error) { return queue.Record{}, nil }

func archiveEnd(t *testing.T, a queue.Archive, grace time.Duration, now time.Time, want string) {
	t.Helper()
	got, err := a.End(t.Context(), grace, nil, now, emptyRecord)
	if err != nil || got != want {
		t.Fatalf("End at %v: got %q, %v, want %q", now, got, err, want)
	}
}

func wantEnded(t *testing.T, a queue.Archive, ids []string, want ...string) {
	t.Helper()
	got, err := a.Ended(t.Context(), ids)
	if err != nil {
		t.Fatalf("Ended: %v", err)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("Ended(%v): got %v, want %v", ids, got, want)
	}
}

func testArchiveUnknown(t *testing.T, env RoomArchiveEnv) {
	a, ctx := env.Archive, t.Context()
	_, err := a.Stats(ctx, qRoomID)
	wantQueueCode(t, "Stats", err, boxoffice.CodeNotFound)
	_, _, err = a.Draw(ctx, qRoomID)
	wantQueueCode(t, "Draw", err, boxoffice.CodeNotFound)
	_, err = a.Admissions(ctx, qRoomID, 1, 10)
	wantQueueCode(t, "Admissions", err, boxoffice.CodeNotFound)
	_, err = a.Stats(ctx, "not-a-concert")
	wantQueueCode(t, "Stats of a malformed id", err, boxoffice.CodeNotFound)
	wantEnded(t, a, nil)
	wantEnded(t, a, []string{qRoomID, "not-a-concert"})
	archiveEnd(t, a, 0, qT0, "")
}

func testArchiveGrace(t *testing.T, env RoomArchiveEnv) {
	a := env.Archive
	must(t, "Endable", a.Endable(t.Context(), qRoomID, qT0, qT0))
	archiveEnd(t, a, time.Hour, qAt(time.Hour-time.Millisecond), "")
	wantEnded(t, a, []string{qRoomID})
	_, err := a.Stats(t.Context(), qRoomID)
	wantQueueCode(t, "Stats of a room not ended yet", err, boxoffice.CodeNotFound)
	archiveEnd(t, a, time.Hour, qAt(time.Hour), qRoomID)
	wantEnded(t, a, []string{qRoomID, qOther}, qRoomID)
	archiveEnd(t, a, time.Hour, qAt(2*time.Hour), "")
	// Recording an ended room as endable again changes nothing.
	must(t, "Endable", a.Endable(t.Context(), qRoomID, qT0, qAt(3*time.Hour)))
	archiveEnd(t, a, time.Hour, qAt(5*time.Hour), "")
}

func testArchiveSinceNow(t *testing.T, env RoomArchiveEnv) {
	a := env.Archive
	must(t, "Endable", a.Endable(t.Context(), qRoomID, time.Time{}, qAt(time.Minute)))
	archiveEnd(t, a, time.Hour, qAt(time.Hour), "")
	archiveEnd(t, a, time.Hour, qAt(time.Hour+time.Minute), qRoomID)
}

func testArchiveFirstInstant(t *testing.T, env RoomArchiveEnv) {
	a := env.Archive
	must(t, "Endable", a.Endable(t.Context(), qRoomID, qT0, qT0))
	must(t, "Endable later", a.Endable(t.Context(), qRoomID, qAt(2*time.Hour), qAt(2*time.Hour)))
	archiveEnd(t, a, time.Hour, qAt(time.Hour), qRoomID)
}

// archivedRoom is a room as a store answered it at its end: 12 admissions
// in four steps, the first five of the 5 drawn fans.
func archivedRoom() queue.Record {
	rec := queue.Record{DrawnAt: qAt(time.Second)}
	for i := range 5 {
		rec.Draw = append(rec.Draw, fanID(100+i))
	}
	steps := []int{2, 3, 4, 3}
	n := int64(1)
	for i, k := range steps {
		at := qAt(time.Second + time.Duration(i)*1500*time.Millisecond)
		for range k {
			r := queue.AdmissionRecord{N: n, Seq: 40 + n, At: at, UserID: fanID(int(n))}
			if n <= 5 {
				r.UserID, r.Seq, r.Prequeue = rec.Draw[n-1], n, true
			}
			rec.Log = append(rec.Log, r)
			n++
		}
	}
	rec.Stats = queue.Stats{Waiting: 7, Active: 3, AdmittedTotal: 12, DroppedTotal: 2, AbandonedTotal: 5,
		Rate: 2.625, AbandonRate: 0.3125, Paused: true, SoldOut: true, Drawn: true}
	for _, r := range rec.Log {
		rec.Stats.Waits.Add(r.At.Sub(qT0))
	}
	rec.Stats.Waits[len(rec.Stats.Waits)-1] = 1
	return rec
}

// journalRoom journals rec's places and its first two admission steps.
func journalRoom(t *testing.T, j queue.Journal, rec queue.Record) {
	t.Helper()
	ctx := t.Context()
	var places []queue.Place
	for _, r := range rec.Log {
		key := queue.DrawSpan + r.Seq
		if r.Prequeue {
			key = int64(r.Seq) * 1000
		}
		places = append(places, queue.Place{UserID: r.UserID, Seq: r.Seq, Key: key, JoinedAt: qT0})
	}
	must(t, "Joined", j.Joined(ctx, qRoomID, places))
	seqs := func(log []queue.AdmissionRecord) []int64 {
		var s []int64
		for _, r := range log {
			s = append(s, r.Seq)
		}
		return s
	}
	must(t, "Admitted", j.Admitted(ctx, qRoomID, 1, seqs(rec.Log[:2]), rec.Log[0].At))
	must(t, "Admitted", j.Admitted(ctx, qRoomID, 3, seqs(rec.Log[2:5]), rec.Log[2].At))
}

func testArchiveKeeps(t *testing.T, env RoomArchiveEnv) {
	a, ctx := env.Archive, t.Context()
	rec := archivedRoom()
	wantFrom := int64(1)
	if env.Journal != nil {
		journalRoom(t, env.Journal, rec)
		wantFrom = 6
	}
	must(t, "Endable", a.Endable(ctx, qRoomID, qT0, qT0))
	var gotFrom int64
	id, err := a.End(ctx, time.Minute, nil, qAt(time.Hour), func(_ context.Context, id string, from int64) (queue.Record, error) {
		gotFrom = from
		r := rec
		r.Log = rec.Log[from-1:]
		return r, nil
	})
	if err != nil || id != qRoomID {
		t.Fatalf("End: got %q, %v, want %s", id, err, qRoomID)
	}
	if gotFrom != wantFrom {
		t.Errorf("End asked for the log from %d, want %d", gotFrom, wantFrom)
	}
	if st, err := a.Stats(ctx, qRoomID); err != nil || !reflect.DeepEqual(st, rec.Stats) {
		t.Errorf("Stats: got %+v, %v, want %+v", st, err, rec.Stats)
	}
	if users, at, err := a.Draw(ctx, qRoomID); err != nil || !slices.Equal(users, rec.Draw) || !at.Equal(rec.DrawnAt) {
		t.Errorf("Draw: got %v at %v, %v, want %v at %v", users, at, err, rec.Draw, rec.DrawnAt)
	}
	page := func(from int64, limit int, want []queue.AdmissionRecord) {
		t.Helper()
		got, err := a.Admissions(ctx, qRoomID, from, limit)
		if err != nil || len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Errorf("Admissions(%d, %d): got %+v, %v, want %+v", from, limit, got, err, want)
		}
	}
	page(1, 100, rec.Log)
	page(4, 3, rec.Log[3:6])
	page(11, 10, rec.Log[10:])
	page(13, 10, nil)
	if env.Journal != nil {
		// The journal's places are live, but the room has ended.
		wantRooms(t, env.Journal)
	}
}

func testArchiveDraws(t *testing.T, env RoomArchiveEnv) {
	a, ctx := env.Archive, t.Context()
	must(t, "Endable", a.Endable(ctx, qRoomID, qT0, qT0))
	must(t, "Endable", a.Endable(ctx, qOther, qAt(time.Second), qT0))
	_, err := a.End(ctx, 0, nil, qAt(time.Hour), func(context.Context, string, int64) (queue.Record, error) {
		return queue.Record{Draw: []string{}, DrawnAt: qAt(time.Second), Stats: queue.Stats{Drawn: true}}, nil
	})
	must(t, "End", err)
	archiveEnd(t, a, 0, qAt(time.Hour), qOther)
	if users, at, err := a.Draw(ctx, qRoomID); err != nil || users == nil || len(users) != 0 || !at.Equal(qAt(time.Second)) {
		t.Errorf("Draw of an empty draw: got %#v at %v, %v, want an empty, non-nil draw", users, at, err)
	}
	if users, at, err := a.Draw(ctx, qOther); err != nil || users != nil || !at.IsZero() {
		t.Errorf("Draw of a room without one: got %#v at %v, %v, want none", users, at, err)
	}
	if st, err := a.Stats(ctx, qOther); err != nil || !reflect.DeepEqual(st, queue.Stats{}) {
		t.Errorf("Stats of an empty record: got %+v, %v, want zero", st, err)
	}
	if log, err := a.Admissions(ctx, qOther, 1, 10); err != nil || len(log) != 0 {
		t.Errorf("Admissions of an empty record: got %v, %v, want none", log, err)
	}
}

var errUnreachable = errors.New("the store is unreachable")

func testArchiveRecordError(t *testing.T, env RoomArchiveEnv) {
	a, ctx := env.Archive, t.Context()
	must(t, "Endable", a.Endable(ctx, qRoomID, qT0, qT0))
	id, err := a.End(ctx, 0, nil, qAt(time.Hour), func(context.Context, string, int64) (queue.Record, error) {
		return queue.Record{}, errUnreachable
	})
	if id != qRoomID || !errors.Is(err, errUnreachable) {
		t.Fatalf("End with a failing record: got %q, %v, want %s and the record's error", id, err, qRoomID)
	}
	wantEnded(t, a, []string{qRoomID})
	if id, err := a.End(ctx, 0, []string{qRoomID}, qAt(time.Hour), emptyRecord); id != "" || err != nil {
		t.Errorf("End skipping the room: got %q, %v, want none", id, err)
	}
	archiveEnd(t, a, 0, qAt(time.Hour), qRoomID)
	wantEnded(t, a, []string{qRoomID}, qRoomID)
}

func testArchiveRace(t *testing.T, env RoomArchiveEnv) {
	a, ctx := env.Archive, t.Context()
	ids := make([]string, 5)
	for i := range ids {
		ids[i] = fmt.Sprintf("01970000-0000-7000-8000-0000000001%02d", i)
		must(t, "Endable", a.Endable(ctx, ids[i], qT0, qT0))
	}
	var (
		mu      sync.Mutex
		ended   []string
		records atomic.Int64
		wg      sync.WaitGroup
	)
	for range 6 {
		wg.Go(func() {
			for {
				id, err := a.End(ctx, 0, nil, qAt(time.Hour), func(context.Context, string, int64) (queue.Record, error) {
					records.Add(1)
					time.Sleep(5 * time.Millisecond) // hold the claim a while
					return queue.Record{}, nil
				})
				if err != nil {
					t.Errorf("End: %v", err)
					return
				}
				if id == "" {
					return
				}
				mu.Lock()
				ended = append(ended, id)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(ended)
	if !slices.Equal(ended, ids) || records.Load() != int64(len(ids)) {
		t.Errorf("six callers ending five rooms: got %v ended with %d records, want each room once: %v", ended, records.Load(), ids)
	}
}
