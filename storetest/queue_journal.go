package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice/queue"
)

// RunQueueJournal checks that the journals newJournal returns keep the
// queue.Journal contract. Each subtest gets a fresh, empty journal.
func RunQueueJournal(t *testing.T, newJournal func(t *testing.T) queue.Journal) {
	run := func(name string, f func(*testing.T, queue.Journal)) {
		t.Run(name, func(t *testing.T) { f(t, newJournal(t)) })
	}
	run("UnknownRoom", testJournalUnknown)
	run("Places", testJournalPlaces)
	run("NewerTicketEndsOlder", testJournalNewerTicket)
	run("AdmittedAndLog", testJournalAdmitted)
	run("Ended", testJournalEnded)
	run("FirstDrawStays", testJournalDraw)
}

func journalPlace(i int, seq int64) queue.Place {
	return queue.Place{UserID: fanID(i), Seq: seq, Key: queue.DrawSpan + seq, JoinedAt: qAt(time.Duration(seq) * time.Millisecond)}
}

func load(t *testing.T, j queue.Journal, concertID string) queue.Snapshot {
	t.Helper()
	snap, err := j.Load(t.Context(), concertID)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return snap
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantRooms(t *testing.T, j queue.Journal, want ...string) {
	t.Helper()
	got, err := j.Rooms(t.Context())
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Rooms: got %v, %v, want %v", got, err, want)
	}
}

// sortedPlaces returns places ordered by seq.
func sortedPlaces(ps []queue.Place) []queue.Place {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b queue.Place) int { return int(a.Seq - b.Seq) })
	return ps
}

func testJournalUnknown(t *testing.T, j queue.Journal) {
	if snap := load(t, j, qRoomID); !snap.Empty() || len(snap.Places) != 0 || len(snap.Log) != 0 {
		t.Errorf("Load of an unknown room: got %+v, want empty", snap)
	}
	wantRooms(t, j)
}

func testJournalPlaces(t *testing.T, j queue.Journal) {
	ps := []queue.Place{journalPlace(1, 1), journalPlace(2, 2), journalPlace(3, 3)}
	ps[1].Key = 12345 // a drawn place
	must(t, "Joined", j.Joined(t.Context(), qRoomID, ps[:2]))
	must(t, "Joined", j.Joined(t.Context(), qRoomID, ps[2:]))
	// Recording a place again changes nothing.
	again := ps[0]
	again.JoinedAt = qAt(time.Hour)
	must(t, "Joined again", j.Joined(t.Context(), qRoomID, []queue.Place{again}))
	snap := load(t, j, qRoomID)
	if snap.Seq != 3 || snap.Empty() || !slices.Equal(sortedPlaces(snap.Places), ps) {
		t.Errorf("Load: got seq %d, places %+v, want 3 and %+v", snap.Seq, snap.Places, ps)
	}
	if other := load(t, j, qOther); !other.Empty() {
		t.Errorf("Load of another room: got %+v, want empty", other)
	}
	wantRooms(t, j, qRoomID)
}

func testJournalNewerTicket(t *testing.T, j queue.Journal) {
	must(t, "Joined", j.Joined(t.Context(), qRoomID, []queue.Place{journalPlace(1, 1)}))
	must(t, "Joined", j.Joined(t.Context(), qRoomID, []queue.Place{journalPlace(2, 2)}))
	must(t, "Joined", j.Joined(t.Context(), qRoomID, []queue.Place{journalPlace(1, 3)}))
	snap := load(t, j, qRoomID)
	if want := []queue.Place{journalPlace(2, 2), journalPlace(1, 3)}; !slices.Equal(sortedPlaces(snap.Places), want) {
		t.Errorf("places after a newer ticket: got %+v, want %+v", snap.Places, want)
	}
	// Ending the newer ticket does not bring the older one back.
	must(t, "Ended", j.Ended(t.Context(), qRoomID, []int64{3}))
	if snap := load(t, j, qRoomID); len(snap.Places) != 1 || snap.Places[0].Seq != 2 || snap.Seq != 3 {
		t.Errorf("places after the newer ticket ended: got %+v (seq %d), want seq 2 only, seq 3", snap.Places, snap.Seq)
	}
	// A room whose only user's newer ticket ended has nothing live.
	must(t, "Joined", j.Joined(t.Context(), qOther, []queue.Place{journalPlace(1, 1)}))
	must(t, "Joined", j.Joined(t.Context(), qOther, []queue.Place{journalPlace(1, 2)}))
	must(t, "Ended", j.Ended(t.Context(), qOther, []int64{2}))
	wantRooms(t, j, qRoomID)
}

func testJournalAdmitted(t *testing.T, j queue.Journal) {
	for i := range 4 {
		p := journalPlace(i+1, int64(i+1))
		if i == 0 {
			p.Key = 7 // drawn
		}
		must(t, "Joined", j.Joined(t.Context(), qRoomID, []queue.Place{p}))
	}
	must(t, "Admitted", j.Admitted(t.Context(), qRoomID, 1, []int64{1, 3}, qAt(time.Second)))
	must(t, "Admitted", j.Admitted(t.Context(), qRoomID, 3, []int64{2}, qAt(2*time.Second)))
	snap := load(t, j, qRoomID)
	want := []queue.AdmissionRecord{
		{N: 1, UserID: fanID(1), Seq: 1, At: qAt(time.Second), Prequeue: true},
		{N: 2, UserID: fanID(3), Seq: 3, At: qAt(time.Second)},
		{N: 3, UserID: fanID(2), Seq: 2, At: qAt(2 * time.Second)},
	}
	if !slices.Equal(snap.Log, want) || snap.Admitted != 3 {
		t.Errorf("log: got %+v (admitted %d), want %+v (3)", snap.Log, snap.Admitted, want)
	}
	// The admission instant, from which a rebuilt room ends the session.
	admittedAt := map[int64]time.Time{1: qAt(time.Second), 2: qAt(2 * time.Second), 3: qAt(time.Second)}
	for _, p := range snap.Places {
		if p.Admitted != (p.Seq != 4) || !p.AdmittedAt.Equal(admittedAt[p.Seq]) {
			t.Errorf("place %d: got admitted %v at %v, want %v at %v", p.Seq, p.Admitted, p.AdmittedAt, p.Seq != 4, admittedAt[p.Seq])
		}
	}
	// An admitted ticket that ended stays in the log.
	must(t, "Ended", j.Ended(t.Context(), qRoomID, []int64{1}))
	if snap := load(t, j, qRoomID); len(snap.Log) != 3 || len(snap.Places) != 3 {
		t.Errorf("after an admitted ticket ended: got %d log entries, %d places, want 3 and 3", len(snap.Log), len(snap.Places))
	}
}

func testJournalEnded(t *testing.T, j queue.Journal) {
	must(t, "Joined", j.Joined(t.Context(), qRoomID, []queue.Place{journalPlace(1, 1)}))
	must(t, "Joined", j.Joined(t.Context(), qOther, []queue.Place{journalPlace(1, 1)}))
	must(t, "Ended", j.Ended(t.Context(), qRoomID, []int64{1, 99}))
	if snap := load(t, j, qRoomID); len(snap.Places) != 0 || snap.Seq != 1 || snap.Empty() {
		t.Errorf("after the only place ended: got %+v, want no places, seq 1", snap)
	}
	wantRooms(t, j, qOther)
	must(t, "Ended again", j.Ended(t.Context(), qRoomID, []int64{1}))
}

func testJournalDraw(t *testing.T, j queue.Journal) {
	if snap := load(t, j, qRoomID); snap.Drawn {
		t.Errorf("Drawn before any draw")
	}
	must(t, "Drawn", j.Drawn(t.Context(), qRoomID, []string{fanID(2), fanID(1)}, qAt(time.Second)))
	must(t, "Drawn again", j.Drawn(t.Context(), qRoomID, []string{fanID(3)}, qAt(2*time.Second)))
	snap := load(t, j, qRoomID)
	if !snap.Drawn || !snap.DrawnAt.Equal(qAt(time.Second)) || !slices.Equal(snap.Draw, []string{fanID(2), fanID(1)}) || snap.Empty() {
		t.Errorf("draw: got %v at %v (drawn %v), want the first", snap.Draw, snap.DrawnAt, snap.Drawn)
	}
	must(t, "empty Drawn", j.Drawn(t.Context(), qOther, []string{}, qAt(time.Second)))
	if snap := load(t, j, qOther); !snap.Drawn || snap.Draw == nil || len(snap.Draw) != 0 {
		t.Errorf("empty draw: got %#v (drawn %v), want an empty, non-nil draw", snap.Draw, snap.Drawn)
	}
}
