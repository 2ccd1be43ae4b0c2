package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// RunQueueStore checks that the stores newStore returns meet the contract of
// queue.Store. newStore is called once per subtest and must return an empty
// store that is cleaned up with t.Cleanup.
//
// The suite passes explicit instants built from a fixed, whole-millisecond
// base. Stores may keep times to the millisecond (rounding down); the suite
// probes each boundary at the instant itself and 1ns before it, which
// rounds to the millisecond before. The boundaries it fixes:
//   - a waiting place whose last heartbeat (join or Status) is IdleSeconds
//     old has ended at that instant, like a seat hold at its expiry: Status
//     reads Expired and Stats no longer counts it, whether or not an
//     admission step has removed it yet;
//   - a session has ended at its SessionExpiresAt;
//   - a lease taken at now for d is another owner's from now+d on.
//
// Admission follows queue.Allowance exactly, within the bounds of one step
// that RunQueueStoreLimits checks. A room's bucket and measured
// rate change only in steps at or after its opening; the rate is folded with
// queue.MeasureRate over the time since the previous such step, in steps
// that found fans waiting (after dropping idle places) and were not paused.
// The abandonment rate is folded in every step, over the time since the
// previous step, when fans were waiting or had abandoned since.
//
// The suite's rooms carry a fixed draw seed: order is checked against
// queue.DrawOrder. The uniformity of the draw itself is a property of
// queue.DrawKey, tested in package queue.
func RunQueueStore(t *testing.T, newStore func(t *testing.T) queue.Store) {
	runQueueTickets(t, newStore)
	runQueueAdmission(t, newStore)
	runQueueFigures(t, newStore)
	runQueueProof(t, newStore)
	runQueueEnd(t, newStore)
	t.Run("Race", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("DistinctUsersGetSeqsWithoutGaps", testRaceDistinctUsers)
		run("SameUserGetsOneSeq", testRaceSameUser)
		run("MaxActiveNeverExceeded", testRaceMaxActive)
		run("PrequeueJoinsDrawnInOrder", testRacePrequeue)
	})
}

// runQueueTickets checks the life of one ticket: joining, its status,
// using and ending its session.
func runQueueTickets(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("Join", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("Created", testJoinCreated)
		run("SeqInArrivalOrder", testJoinArrivalOrder)
		run("ManyInOneCall", testJoinMany)
		run("Existing", testJoinExisting)
		run("KnownRoomKeepsSettings", testJoinKeepsSettings)
		run("NewSeqAfterLeave", testJoinAfterLeave)
		run("NewSeqAfterIdleDrop", testJoinAfterIdleDrop)
		run("NewSeqAfterIdleLimit", testJoinAfterIdleLimit)
		run("NewSeqAfterSessionExpiry", testJoinAfterSessionExpiry)
		run("AdmittedSession", testJoinAdmitted)
	})
	t.Run("Status", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("Prequeue", testStatusPrequeue)
		run("WaitingFromOpening", testStatusOpening)
		run("Admitted", testStatusAdmitted)
		run("ExpiredAtSessionEnd", testStatusSessionEnd)
		run("ExpiredAfterLeave", testStatusAfterLeave)
		run("ExpiredForOtherSeq", testStatusOtherSeq)
		run("HeartbeatKeepsPlace", testStatusHeartbeat)
		run("ExpiredAtIdleLimit", testStatusIdleLimit)
		run("ErrNotFound", testStatusNotFound)
	})
	t.Run("Use", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("ErrNotAdmitted", testUseNotAdmitted)
		run("ExtendsSession", testUseExtends)
		run("ErrQueueTokenExpired/AtExpiry", testUseAtExpiry)
		run("ErrQueueTokenExpired/AfterLeave", testUseAfterLeave)
		run("ErrQueueTokenExpired/OtherSeq", testUseOtherSeq)
		run("ErrNotFound/UnknownRoom", testUseUnknownRoom)
	})
	t.Run("MaxSession", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("UsedSessionEndsAtMax", testMaxSessionUsed)
		run("ExpiresAtEarlierEnd", testMaxSessionEarlier)
		run("FreesMaxActiveSlot", testMaxSessionFreesSlot)
		run("FixedAtAdmission", testMaxSessionConfigure)
		run("RestoreKeepsEnd", testMaxSessionRestore)
	})
	t.Run("Leave", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("WaitingPlaceMovesOthersUp", testLeaveWaiting)
		run("SessionEnds", testLeaveSession)
		run("EndedTicketDoesNothing", testLeaveEnded)
		run("ManyInOneCall", testLeaveMany)
	})
}

// runQueueAdmission checks the steps that admit fans and the rooms' settings
// they follow.
func runQueueAdmission(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("Admit", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("Rate", testAdmitRate)
		run("RateFraction", testAdmitRateFraction)
		run("RateWindowAfterIdle", testAdmitRateWindow)
		run("ReportsTickets", testAdmitReportsTickets)
		run("FIFO", testAdmitFIFO)
		run("NothingBeforeOpening", testAdmitBeforeOpening)
		run("MaxActive", testAdmitMaxActive)
		run("RateAndMaxActive", testAdmitRateAndMaxActive)
		run("Lease", testAdmitLease)
		run("DroppedAndEnded", testAdmitDroppedEnded)
		run("SweepsManyIdle", testAdmitSweepsMany)
		run("ErrNotFound", testAdmitNotFound)
	})
	t.Run("Configure", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("ChangesStrategyForNextStep", testConfigureStrategy)
		run("KeepsPlaces", testConfigureKeepsPlaces)
		run("LaterOpening", testConfigureLaterOpening)
		run("LeavesUnknownRoomAlone", testConfigureUnknown)
		run("IgnoresOlderVersion", testConfigureVersion)
	})
	t.Run("Restore", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("RebuildsRoom", testRestoreRebuilds)
		run("RecordedDraw", testRestoreDraw)
		run("LeavesExistingRoom", testRestoreExisting)
		run("ErrUnavailable/OtherOwner", testRestoreOtherOwner)
		run("LoadError", testRestoreLoadError)
	})
	t.Run("Stats", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("Counts", testStatsCounts)
		run("Rate", testStatsRate)
		run("ErrNotFound", testStatsNotFound)
	})
	subRunner(t, newStore)("Rooms", testRooms)
	t.Run("Lottery", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("DrawOrderThenArrivalOrder", testLotteryOrder)
		run("DrawMadeAtFirstStepFromOpening", testLotteryDrawMade)
		run("RejoinKeepsDrawKey", testLotteryRejoin)
		run("JoinAfterDrawQueuesBehind", testLotteryJoinAfterDraw)
		run("ErrNotFound", testLotteryNotFound)
	})
	t.Run("Supply", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("PausedWhileNoSeatAvailable", testSupplyPaused)
		run("SoldOut", testSupplySoldOut)
		run("SoldOutClearsWhenSeatsReturn", testSupplyReturns)
		run("OlderReportIgnored", testSupplyOlder)
		run("ErrNotFound", testSupplyNotFound)
	})
}

// runQueueFigures checks the figures a room reports: abandonment, waits,
// estimates, statuses and admissions, and the service over the store.
func runQueueFigures(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("Abandonment", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("Counted", testAbandonCounted)
		run("RateMeasured", testAbandonRate)
	})
	t.Run("Waits", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("FromJoinOrOpening", testWaits)
	})
	t.Run("Estimate", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("ConvergesWithoutAbandonment", testEstimateSteady)
		run("ConvergesWithLeaves", testEstimateLeaves)
		run("ConvergesWithIdleDrops", testEstimateIdle)
	})
	t.Run("Statuses", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("SameAsStatus", testStatusesSame)
		run("ManyTickets", testStatusesMany)
		run("ErrNotFound", testStatusesNotFound)
	})
	t.Run("Admissions", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("LogInOrder", testAdmissionsLog)
		run("ErrNotFound", testAdmissionsNotFound)
	})
	t.Run("Service", func(t *testing.T) {
		run := subRunner(t, newStore)
		run("JoinKeysDrawWithSeed", testServiceSeed)
		run("ReportsSupplyOfLedRooms", testServiceSupply)
		run("ReportsSupplySeldomWhereNobodyWaits", testServiceSupplyIdle)
		run("RefreshesSettingsOfLedRooms", testServiceSettings)
	})
}

func subRunner(t *testing.T, newStore func(t *testing.T) queue.Store) func(string, func(*testing.T, *queueStore)) {
	return func(name string, f func(*testing.T, *queueStore)) {
		t.Run(name, func(t *testing.T) {
			f(t, &queueStore{t: t, s: newStore(t)})
		})
	}
}

// qT0 is the suite's base instant; every room below opens an hour before it
// unless it says otherwise.
var qT0 = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	qRoomID = "01970000-0000-7000-8000-000000000001"
	qOther  = "01970000-0000-7000-8000-000000000002"
	qLease  = time.Second
)

// QueueRooms are the concert IDs of the rooms the queue suites use, so that
// an adapter may choose where they live (on a cluster, which node serves
// them).
var QueueRooms = []string{qRoomID, qOther}

func qAt(d time.Duration) time.Time { return qT0.Add(d) }

func rateSettings(perSecond float64) queue.Settings {
	return queue.Settings{Strategy: queue.Rate, AdmitPerSecond: perSecond, SessionSeconds: 600, IdleSeconds: 60, MaxSessionSeconds: 900}
}

func maxActiveSettings(n int64) queue.Settings {
	return queue.Settings{Strategy: queue.MaxActive, MaxActive: n, SessionSeconds: 600, IdleSeconds: 60, MaxSessionSeconds: 900}
}

// qSeed is the draw seed of the suite's rooms.
var qSeed = []byte("storetest draw seed")

func openRoom(s queue.Settings) queue.Room {
	return queue.Room{ConcertID: qRoomID, OpensAt: qT0.Add(-time.Hour), Settings: s, Seed: qSeed}
}

// closedRoom opens a day after qT0: fans wait, nobody is admitted.
func closedRoom(s queue.Settings) queue.Room {
	return queue.Room{ConcertID: qRoomID, OpensAt: qT0.Add(24 * time.Hour), Settings: s, Seed: qSeed}
}

func fanID(i int) string { return fmt.Sprintf("user-%04d", i) }

// queueStore wraps a store under test; every helper fails the test on an
// unexpected error.
type queueStore struct {
	t *testing.T
	s queue.Store
}

// join joins userID to room, creating the room first (as a Restore of
// nothing) if the store does not have it.
func (q *queueStore) join(room queue.Room, userID string, now time.Time) (queue.Status, bool) {
	q.t.Helper()
	st, created, err := joinOne(q.t.Context(), q.s, room, userID, now)
	if boxoffice.ErrorCode(err) == boxoffice.CodeNotFound {
		q.create(room, now)
		st, created, err = joinOne(q.t.Context(), q.s, room, userID, now)
	}
	if err != nil {
		q.t.Fatalf("Join(%s) at %v: %v", userID, now, err)
	}
	return st, created
}

// joinAll joins n users fanID(1)..fanID(n) at now and returns their tickets.
func (q *queueStore) joinAll(room queue.Room, n int, now time.Time) []queue.Ticket {
	q.t.Helper()
	ts := make([]queue.Ticket, n)
	for i := range ts {
		st, _ := q.join(room, fanID(i+1), now)
		ts[i] = st.Ticket
	}
	return ts
}

func (q *queueStore) status(tk queue.Ticket, now time.Time) queue.Status {
	q.t.Helper()
	st, err := q.s.Status(q.t.Context(), tk, now)
	if err != nil {
		q.t.Fatalf("Status(%v) at %v: %v", tk, now, err)
	}
	return st
}

func (q *queueStore) use(tk queue.Ticket, now time.Time) queue.Status {
	q.t.Helper()
	st, err := q.s.Use(q.t.Context(), tk, now)
	if err != nil {
		q.t.Fatalf("Use(%v) at %v: %v", tk, now, err)
	}
	return st
}

func (q *queueStore) leave(tk queue.Ticket, now time.Time) {
	q.t.Helper()
	if err := q.s.Leave(q.t.Context(), tk.ConcertID, []queue.Ticket{tk}, now); err != nil {
		q.t.Fatalf("Leave(%v): %v", tk, err)
	}
}

// admitAs runs an admission step as owner, and checks that a step it leads
// counts the places Stats counted as waiting right before it.
func (q *queueStore) admitAs(owner string, now time.Time) queue.Admission {
	q.t.Helper()
	before, statsErr := q.s.Stats(q.t.Context(), qRoomID, now)
	a, err := q.s.Admit(q.t.Context(), qRoomID, owner, qLease, now)
	if err != nil {
		q.t.Fatalf("Admit(%s) at %v: %v", owner, now, err)
	}
	if statsErr == nil && a.Leader && a.Waiting != before.Waiting {
		q.t.Errorf("Admit(%s) at %v: got %d waiting at the step, want the %d Stats counted", owner, now, a.Waiting, before.Waiting)
	}
	return a
}

func (q *queueStore) admit(now time.Time) queue.Admission {
	q.t.Helper()
	a := q.admitAs("owner-a", now)
	if !a.Leader {
		q.t.Fatalf("Admit at %v: Leader false, want true", now)
	}
	return a
}

func (q *queueStore) stats(now time.Time) queue.Stats {
	q.t.Helper()
	s, err := q.s.Stats(q.t.Context(), qRoomID, now)
	if err != nil {
		q.t.Fatalf("Stats at %v: %v", now, err)
	}
	return s
}

// create makes room exist in the store, empty.
func (q *queueStore) create(room queue.Room, now time.Time) {
	q.t.Helper()
	newRoom(q.t, q.s, room, now)
}

// newRoom makes room exist in s, empty: a Restore of nothing.
func newRoom(tb testing.TB, s queue.Store, room queue.Room, now time.Time) {
	tb.Helper()
	err := s.Restore(tb.Context(), room, func(context.Context) (queue.Snapshot, error) { return queue.Snapshot{}, nil }, "storetest", qLease, now)
	if err != nil {
		tb.Fatalf("Restore of a new room: %v", err)
	}
}

func (q *queueStore) configure(room queue.Room) {
	q.t.Helper()
	if err := q.s.Configure(q.t.Context(), room); err != nil {
		q.t.Fatalf("Configure: %v", err)
	}
}

// wantState checks a status's state and position.
func wantState(t *testing.T, what string, st queue.Status, state queue.State, position int64) {
	t.Helper()
	if st.State != state || st.Position != position {
		t.Errorf("%s: got %s at position %d, want %s at position %d", what, st.State, st.Position, state, position)
	}
}

func wantQueueCode(t *testing.T, what string, err error, code boxoffice.Code) {
	t.Helper()
	if got := boxoffice.ErrorCode(err); got != code {
		t.Errorf("%s: got error %v (code %q), want code %s", what, err, got, code)
	}
}

func wantInstant(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func wantRoom(t *testing.T, what string, got, want queue.Room) {
	t.Helper()
	if got.ConcertID != want.ConcertID || !got.OpensAt.Equal(want.OpensAt) || got.Settings != want.Settings {
		t.Errorf("%s: got room %+v, want %+v", what, got, want)
	}
}

// counts keeps the counters of s.
func counts(s queue.Stats) queue.Stats {
	return queue.Stats{Waiting: s.Waiting, Active: s.Active, AdmittedTotal: s.AdmittedTotal, DroppedTotal: s.DroppedTotal, AbandonedTotal: s.AbandonedTotal}
}

// drawRanks returns the 1-based rank of each ticket's user in the draw of
// the suite's room, among ts.
func drawRanks(ts []queue.Ticket) map[string]int64 { return drawRanksWith(qSeed, ts) }

// drawRanksWith is drawRanks for a draw with seed.
func drawRanksWith(seed []byte, ts []queue.Ticket) map[string]int64 {
	entries := make([]string, len(ts))
	users := make(map[string]string, len(ts))
	for i, tk := range ts {
		entries[i] = queue.EntryID(tk.ConcertID, tk.UserID)
		users[entries[i]] = tk.UserID
	}
	rank := make(map[string]int64, len(ts))
	for i, e := range queue.DrawOrder(seed, entries) {
		rank[users[e]] = int64(i + 1)
	}
	return rank
}

// wantAdmission compares the counts of two admissions.
func wantAdmission(t *testing.T, what string, got, want queue.Admission) {
	t.Helper()
	type counts struct {
		Leader                   bool
		Admitted, Dropped, Ended int64
	}
	g := counts{got.Leader, got.Admitted, got.Dropped, got.Ended}
	w := counts{want.Leader, want.Admitted, want.Dropped, want.Ended}
	if g != w {
		t.Errorf("%s: got %+v, want %+v", what, g, w)
	}
}

func wantRate(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s: got rate %v, want %v", what, got, want)
	}
}

// admitOne admits the only waiting fan of an open RATE room at now.
func (q *queueStore) admitOne(room queue.Room, now time.Time) queue.Ticket {
	q.t.Helper()
	st, _ := q.join(room, fanID(1), now)
	if a := q.admit(now); a.Admitted != 1 {
		q.t.Fatalf("Admit: got %d admitted, want 1", a.Admitted)
	}
	return st.Ticket
}

// --- Join

func testJoinCreated(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	st, created := q.join(room, fanID(1), qT0)
	if !created {
		t.Errorf("first join: got created false, want true")
	}
	if st.Ticket != (queue.Ticket{ConcertID: qRoomID, UserID: fanID(1), Seq: 1}) {
		t.Errorf("first join: got ticket %v, want %s/%s#1", st.Ticket, qRoomID, fanID(1))
	}
	wantState(t, "first join", st, queue.Waiting, 1)
	wantRoom(t, "first join", st.Room, room)
	if !st.SessionExpiresAt.IsZero() || st.Rate != 0 {
		t.Errorf("first join: got session end %v and rate %v, want zero", st.SessionExpiresAt, st.Rate)
	}
	st, created = q.join(room, fanID(2), qT0)
	if !created || st.Seq != 2 {
		t.Errorf("second user: got seq %d created %v, want seq 2 created true", st.Seq, created)
	}
	wantState(t, "second user", st, queue.Waiting, 2)
}

func testJoinArrivalOrder(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	var last int64
	for i := 1; i <= 5; i++ {
		st, _ := q.join(room, fanID(i), qAt(time.Duration(5-i)*time.Millisecond))
		if st.Seq <= last {
			t.Errorf("join %d: got seq %d, want above %d", i, st.Seq, last)
		}
		wantState(t, fmt.Sprintf("join %d", i), st, queue.Waiting, int64(i))
		last = st.Seq
	}
}

func testJoinExisting(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	first, _ := q.join(room, fanID(1), qT0)
	q.join(room, fanID(2), qT0)
	st, created := q.join(room, fanID(1), qAt(time.Second))
	if created || st.Ticket != first.Ticket {
		t.Errorf("second join: got %v created %v, want %v created false", st.Ticket, created, first.Ticket)
	}
	wantState(t, "second join", st, queue.Waiting, 1)
}

func testJoinKeepsSettings(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(5))
	q.join(room, fanID(1), qT0)
	other := closedRoom(maxActiveSettings(9))
	st, _ := q.join(other, fanID(2), qT0)
	wantRoom(t, "join with other settings", st.Room, room)
	wantState(t, "join with other settings", st, queue.Waiting, 2)
	wantRoom(t, "status", q.status(st.Ticket, qT0).Room, room)
}

func testJoinAfterLeave(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	old, _ := q.join(room, fanID(1), qT0)
	q.leave(old.Ticket, qT0)
	st, created := q.join(room, fanID(1), qAt(time.Second))
	if !created || st.Seq <= old.Seq {
		t.Errorf("join after leave: got seq %d created %v, want seq above %d created true", st.Seq, created, old.Seq)
	}
	wantState(t, "new ticket", q.status(st.Ticket, qAt(time.Second)), queue.Waiting, 1)
	wantState(t, "old ticket", q.status(old.Ticket, qAt(time.Second)), queue.Expired, 0)
	wantState(t, "old ticket a day later", q.status(old.Ticket, qAt(24*time.Hour)), queue.Expired, 0)
	_, err := q.s.Use(t.Context(), old.Ticket, qAt(time.Second))
	wantQueueCode(t, "Use of old ticket", err, boxoffice.CodeQueueTokenExpired)
}

func testJoinAfterIdleDrop(t *testing.T, q *queueStore) {
	room := closedRoom(rateSettings(10))
	old, _ := q.join(room, fanID(1), qT0)
	wantAdmission(t, "step at idle limit", q.admit(qAt(60*time.Second)), queue.Admission{Leader: true, Dropped: 1})
	st, created := q.join(room, fanID(1), qAt(61*time.Second))
	if !created || st.Seq <= old.Seq {
		t.Errorf("join after drop: got seq %d created %v, want seq above %d created true", st.Seq, created, old.Seq)
	}
	wantState(t, "new ticket", st, queue.Prequeue, 0)
	wantState(t, "old ticket", q.status(old.Ticket, qAt(61*time.Second)), queue.Expired, 0)
}

func testJoinAfterIdleLimit(t *testing.T, q *queueStore) {
	room := closedRoom(rateSettings(10))
	old, _ := q.join(room, fanID(1), qT0)
	q.join(room, fanID(2), qAt(30*time.Second))
	st, created := q.join(room, fanID(1), qAt(60*time.Second))
	if !created || st.Seq <= old.Seq {
		t.Errorf("join at idle limit: got seq %d created %v, want seq above %d created true", st.Seq, created, old.Seq)
	}
	wantState(t, "new ticket", st, queue.Prequeue, 0)
	if st.Prequeued != 2 {
		t.Errorf("new ticket: got %d prequeued, want 2", st.Prequeued)
	}
	wantState(t, "old ticket", q.status(old.Ticket, qAt(60*time.Second)), queue.Expired, 0)
	if s := q.stats(qAt(60 * time.Second)); s.Waiting != 2 || s.DroppedTotal != 1 {
		t.Errorf("stats: got %d waiting, %d dropped, want 2 and 1", s.Waiting, s.DroppedTotal)
	}
}

func testJoinAfterSessionExpiry(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	old := q.admitOne(room, qT0)
	end := qAt(600 * time.Second)
	st, created := q.join(room, fanID(1), end)
	if !created || st.Seq <= old.Seq {
		t.Errorf("join at session end: got seq %d created %v, want seq above %d created true", st.Seq, created, old.Seq)
	}
	wantState(t, "new ticket", st, queue.Waiting, 1)
	wantState(t, "old ticket", q.status(old, end), queue.Expired, 0)
	if s := q.stats(end); s.Active != 0 || s.Waiting != 1 {
		t.Errorf("stats: got %d active, %d waiting, want 0 and 1", s.Active, s.Waiting)
	}
}

func testJoinAdmitted(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	tk := q.admitOne(room, qT0)
	st, created := q.join(room, fanID(1), qAt(time.Second))
	if created || st.Ticket != tk {
		t.Errorf("join while admitted: got %v created %v, want %v created false", st.Ticket, created, tk)
	}
	wantState(t, "join while admitted", st, queue.Admitted, 0)
	wantInstant(t, "session end", st.SessionExpiresAt, qAt(600*time.Second))
}

// --- Status

func testStatusPrequeue(t *testing.T, q *queueStore) {
	room := closedRoom(rateSettings(10))
	ts := q.joinAll(room, 3, qT0)
	for _, tk := range ts {
		// There is no order before the draw.
		st := q.status(tk, qAt(time.Second))
		wantState(t, tk.UserID, st, queue.Prequeue, 0)
		if st.Prequeued != 3 || st.Waiting != 3 {
			t.Errorf("%s: got %d prequeued, %d waiting, want 3 and 3", tk.UserID, st.Prequeued, st.Waiting)
		}
		wantRoom(t, tk.UserID, st.Room, room)
	}
}

func testStatusOpening(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	room.OpensAt = qAt(10 * time.Second)
	ts := q.joinAll(room, 2, qT0)
	wantState(t, "1ns before opening", q.status(ts[1], qAt(10*time.Second-1)), queue.Prequeue, 0)
	// From the opening on, places are in draw order.
	rank := drawRanks(ts)
	for _, tk := range ts {
		st := q.status(tk, qAt(10*time.Second))
		wantState(t, "at opening, "+tk.UserID, st, queue.Waiting, rank[tk.UserID])
		if st.Waiting != 2 || st.Prequeued != 0 {
			t.Errorf("at opening, %s: got %d waiting, %d prequeued, want 2 and 0", tk.UserID, st.Waiting, st.Prequeued)
		}
	}
}

func testStatusAdmitted(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	ts := q.joinAll(room, 2, qT0)
	q.admit(qAt(time.Second))
	st := q.status(ts[0], qAt(2*time.Second))
	wantState(t, "admitted", st, queue.Admitted, 0)
	wantInstant(t, "session end", st.SessionExpiresAt, qAt(601*time.Second))
	wantState(t, "next in line", q.status(ts[1], qAt(2*time.Second)), queue.Waiting, 1)
}

func testStatusSessionEnd(t *testing.T, q *queueStore) {
	tk := q.admitOne(openRoom(rateSettings(10)), qT0)
	end := qAt(600 * time.Second)
	wantState(t, "1ns before session end", q.status(tk, end.Add(-1)), queue.Admitted, 0)
	wantState(t, "at session end", q.status(tk, end), queue.Expired, 0)
	wantState(t, "after session end", q.status(tk, end.Add(time.Hour)), queue.Expired, 0)
}

func testStatusAfterLeave(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	ts := q.joinAll(room, 2, qT0)
	q.leave(ts[0], qAt(time.Second))
	st := q.status(ts[0], qAt(time.Second))
	wantState(t, "left place", st, queue.Expired, 0)
	if st.Ticket != ts[0] {
		t.Errorf("left place: got ticket %v, want %v", st.Ticket, ts[0])
	}
	wantRoom(t, "left place", st.Room, room)
	wantState(t, "next", q.status(ts[1], qAt(time.Second)), queue.Waiting, 1)
}

func testStatusOtherSeq(t *testing.T, q *queueStore) {
	room := closedRoom(rateSettings(10))
	ts := q.joinAll(room, 2, qT0)
	forged := []queue.Ticket{
		{ConcertID: qRoomID, UserID: fanID(1), Seq: ts[0].Seq + 1},
		{ConcertID: qRoomID, UserID: fanID(1), Seq: ts[1].Seq + 5},
		{ConcertID: qRoomID, UserID: fanID(1), Seq: 0},
		{ConcertID: qRoomID, UserID: fanID(3), Seq: ts[0].Seq},
	}
	for _, tk := range forged {
		// Forged tickets are no heartbeat for the real place.
		wantState(t, tk.String(), q.status(tk, qAt(59*time.Second)), queue.Expired, 0)
	}
	wantAdmission(t, "step at idle limit", q.admit(qAt(60*time.Second)), queue.Admission{Leader: true, Dropped: 2})
}

func testStatusHeartbeat(t *testing.T, q *queueStore) {
	room := closedRoom(rateSettings(10))
	ts := q.joinAll(room, 2, qT0)
	wantState(t, "heartbeat", q.status(ts[0], qAt(59*time.Second)), queue.Prequeue, 0)
	wantAdmission(t, "step 60s after join", q.admit(qAt(60*time.Second)), queue.Admission{Leader: true, Dropped: 1})
	wantState(t, "kept place", q.status(ts[0], qAt(60*time.Second)), queue.Prequeue, 0)
	wantState(t, "idle place", q.status(ts[1], qAt(60*time.Second)), queue.Expired, 0)
	// The last heartbeat was at 60s.
	wantAdmission(t, "step 1ns before idle limit", q.admit(qAt(120*time.Second-1)), queue.Admission{Leader: true})
	wantAdmission(t, "step at idle limit", q.admit(qAt(120*time.Second)), queue.Admission{Leader: true, Dropped: 1})
	wantState(t, "dropped place", q.status(ts[0], qAt(120*time.Second)), queue.Expired, 0)
}

func testStatusIdleLimit(t *testing.T, q *queueStore) {
	room := closedRoom(rateSettings(10))
	ts := q.joinAll(room, 2, qT0)
	if s := q.stats(qAt(60*time.Second - 1)); s.Waiting != 2 {
		t.Errorf("1ns before idle limit: got %d waiting, want 2", s.Waiting)
	}
	if s := q.stats(qAt(60 * time.Second)); s.Waiting != 0 {
		t.Errorf("at idle limit, before any step: got %d waiting, want 0", s.Waiting)
	}
	wantState(t, "at idle limit", q.status(ts[0], qAt(60*time.Second)), queue.Expired, 0)
	_, err := q.s.Use(t.Context(), ts[1], qAt(60*time.Second))
	wantQueueCode(t, "Use at idle limit", err, boxoffice.CodeQueueTokenExpired)
	// A late heartbeat does not bring the place back.
	wantState(t, "after idle limit", q.status(ts[1], qAt(61*time.Second)), queue.Expired, 0)
}

func testStatusNotFound(t *testing.T, q *queueStore) {
	_, err := q.s.Status(t.Context(), queue.Ticket{ConcertID: qOther, UserID: fanID(1), Seq: 1}, qT0)
	wantQueueCode(t, "Status in unknown room", err, boxoffice.CodeNotFound)
}

// --- Use

func testUseNotAdmitted(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	room.OpensAt = qAt(30 * time.Second)
	ts := q.joinAll(room, 3, qT0)
	rank := drawRanks(ts)[ts[2].UserID]
	for _, tc := range []struct {
		now      time.Time
		position int64
	}{{qT0, 0}, {qAt(30 * time.Second), rank}} {
		_, err := q.s.Use(t.Context(), ts[2], tc.now)
		var e *boxoffice.Error
		if !errors.As(err, &e) || e.Code != boxoffice.CodeNotAdmitted || e.Position != tc.position {
			t.Errorf("Use while waiting at %v: got %v, want NOT_ADMITTED at position %d", tc.now, err, tc.position)
		}
		if !errors.Is(err, boxoffice.ErrNotAdmitted) {
			t.Errorf("errors.Is(%v, ErrNotAdmitted): got false, want true", err)
		}
	}
}

func testUseExtends(t *testing.T, q *queueStore) {
	tk := q.admitOne(openRoom(rateSettings(10)), qT0)
	st := q.use(tk, qAt(100*time.Second))
	wantState(t, "used", st, queue.Admitted, 0)
	wantInstant(t, "extended session end", st.SessionExpiresAt, qAt(700*time.Second))
	st = q.status(tk, qAt(600*time.Second))
	wantState(t, "at first session end", st, queue.Admitted, 0)
	wantInstant(t, "session end in status", st.SessionExpiresAt, qAt(700*time.Second))
	// A use with an earlier clock never shortens the session.
	st = q.use(tk, qAt(50*time.Second))
	wantInstant(t, "session end after earlier use", st.SessionExpiresAt, qAt(700*time.Second))
	_, err := q.s.Use(t.Context(), tk, qAt(700*time.Second))
	wantQueueCode(t, "Use at extended end", err, boxoffice.CodeQueueTokenExpired)
}

func testUseAtExpiry(t *testing.T, q *queueStore) {
	tk := q.admitOne(openRoom(rateSettings(10)), qT0)
	_, err := q.s.Use(t.Context(), tk, qAt(600*time.Second))
	wantQueueCode(t, "Use at session end", err, boxoffice.CodeQueueTokenExpired)

	room := openRoom(rateSettings(10))
	room.ConcertID = qOther
	room.Settings.MaxSessionSeconds = 3600 // beyond the extension checked
	st, _ := q.join(room, fanID(1), qT0)
	if a, err := q.s.Admit(t.Context(), qOther, "owner-a", qLease, qT0); err != nil || a.Admitted != 1 {
		t.Fatalf("Admit: got %+v, %v, want 1 admitted", a, err)
	}
	st = q.use(st.Ticket, qAt(600*time.Second-1))
	wantState(t, "Use 1ns before session end", st, queue.Admitted, 0)
	if !st.SessionExpiresAt.After(qAt(1199 * time.Second)) {
		t.Errorf("session end: got %v, want after %v", st.SessionExpiresAt, qAt(1199*time.Second))
	}
}

func testUseAfterLeave(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	tk := q.admitOne(room, qT0)
	q.leave(tk, qAt(time.Second))
	_, err := q.s.Use(t.Context(), tk, qAt(time.Second))
	wantQueueCode(t, "Use after leaving a session", err, boxoffice.CodeQueueTokenExpired)
	st, _ := q.join(room, fanID(2), qAt(2*time.Second))
	q.leave(st.Ticket, qAt(2*time.Second))
	_, err = q.s.Use(t.Context(), st.Ticket, qAt(2*time.Second))
	wantQueueCode(t, "Use after leaving a place", err, boxoffice.CodeQueueTokenExpired)
}

func testUseOtherSeq(t *testing.T, q *queueStore) {
	tk := q.admitOne(openRoom(rateSettings(10)), qT0)
	for _, forged := range []queue.Ticket{
		{ConcertID: qRoomID, UserID: tk.UserID, Seq: tk.Seq + 1},
		{ConcertID: qRoomID, UserID: tk.UserID, Seq: 0},
		{ConcertID: qRoomID, UserID: fanID(9), Seq: tk.Seq},
	} {
		_, err := q.s.Use(t.Context(), forged, qAt(time.Second))
		wantQueueCode(t, "Use of "+forged.String(), err, boxoffice.CodeQueueTokenExpired)
	}
	wantInstant(t, "real session end", q.status(tk, qAt(time.Second)).SessionExpiresAt, qAt(600*time.Second))
}

func testUseUnknownRoom(t *testing.T, q *queueStore) {
	_, err := q.s.Use(t.Context(), queue.Ticket{ConcertID: qOther, UserID: fanID(1), Seq: 1}, qT0)
	wantQueueCode(t, "Use in unknown room", err, boxoffice.CodeNotFound)
}

// --- Leave

func testLeaveWaiting(t *testing.T, q *queueStore) {
	room := closedRoom(rateSettings(10))
	ts := q.joinAll(room, 3, qT0)
	q.leave(ts[0], qAt(time.Second))
	wantState(t, "second", q.status(ts[1], qAt(time.Second)), queue.Prequeue, 0)
	if st := q.status(ts[2], qAt(time.Second)); st.Prequeued != 2 {
		t.Errorf("third: got %d prequeued, want 2", st.Prequeued)
	}
	if s := q.stats(qAt(time.Second)); s.Waiting != 2 || s.AbandonedTotal != 1 || s.DroppedTotal != 0 {
		t.Errorf("stats: got %d waiting, %d abandoned, %d dropped, want 2, 1 and 0", s.Waiting, s.AbandonedTotal, s.DroppedTotal)
	}
}

func testLeaveSession(t *testing.T, q *queueStore) {
	room := openRoom(maxActiveSettings(1))
	ts := q.joinAll(room, 2, qT0)
	q.admit(qT0)
	q.leave(ts[0], qAt(time.Second))
	wantState(t, "left session", q.status(ts[0], qAt(time.Second)), queue.Expired, 0)
	if s := q.stats(qAt(time.Second)); s.Active != 0 || s.Waiting != 1 || s.DroppedTotal != 0 {
		t.Errorf("stats after leaving: got %+v, want 0 active, 1 waiting, 0 dropped", s)
	}
	wantAdmission(t, "step after leave", q.admit(qAt(2*time.Second)), queue.Admission{Leader: true, Admitted: 1})
}

func testLeaveEnded(t *testing.T, q *queueStore) {
	room := closedRoom(rateSettings(10))
	ts := q.joinAll(room, 2, qT0)
	q.leave(ts[0], qT0)
	q.leave(ts[0], qT0)
	q.leave(queue.Ticket{ConcertID: qRoomID, UserID: fanID(2), Seq: ts[1].Seq + 1}, qT0)
	q.leave(queue.Ticket{ConcertID: qOther, UserID: fanID(2), Seq: ts[1].Seq}, qT0)
	wantState(t, "place of other seq", q.status(ts[1], qT0), queue.Prequeue, 0)
	if s := q.stats(qT0); s.Waiting != 1 || s.AbandonedTotal != 1 {
		t.Errorf("stats: got %d waiting, %d abandoned, want 1 and 1", s.Waiting, s.AbandonedTotal)
	}
}

// testLeaveMany ends a session and a waiting place in one call, which
// also carries a ticket twice, a stale seq and a ticket of another room:
// only the two live tickets of the room end.
func testLeaveMany(t *testing.T, q *queueStore) {
	room := openRoom(maxActiveSettings(2))
	ts := q.joinAll(room, 4, qT0)
	q.admit(qT0)
	wantState(t, "first", q.status(ts[0], qT0), queue.Admitted, 0)
	wantState(t, "second", q.status(ts[1], qT0), queue.Admitted, 0)
	at := qAt(time.Second)
	err := q.s.Leave(t.Context(), qRoomID, []queue.Ticket{
		ts[0],
		ts[2],
		ts[0],
		{ConcertID: qRoomID, UserID: ts[1].UserID, Seq: ts[1].Seq + 100},
		{ConcertID: qOther, UserID: ts[3].UserID, Seq: ts[3].Seq},
	}, at)
	if err != nil {
		t.Fatalf("Leave: %v", err)
	}
	wantState(t, "left session", q.status(ts[0], at), queue.Expired, 0)
	wantState(t, "left place", q.status(ts[2], at), queue.Expired, 0)
	wantState(t, "session of a stale seq", q.status(ts[1], at), queue.Admitted, 0)
	if st := q.status(ts[3], at); st.State != queue.Waiting {
		t.Errorf("place named with another room: got %s, want %s", st.State, queue.Waiting)
	}
	if s := q.stats(at); s.Active != 1 || s.Waiting != 1 || s.AbandonedTotal != 1 || s.DroppedTotal != 0 {
		t.Errorf("stats: got %d active, %d waiting, %d abandoned, %d dropped, want 1, 1, 1 and 0",
			s.Active, s.Waiting, s.AbandonedTotal, s.DroppedTotal)
	}
}

// --- Admit

// admissionModel replays the admission rules the way a store must apply
// them, for a room where nobody leaves or idles.
type admissionModel struct {
	s        queue.Settings
	bucket   queue.Bucket
	rate     float64
	last     time.Time
	stepped  bool
	waiting  int64
	active   int64
	admitted int64
}

func (m *admissionModel) step(now time.Time) int64 {
	n, b := queue.Allowance(m.s, m.bucket, m.waiting, m.active, now)
	m.bucket = b
	if m.waiting > 0 && m.stepped {
		m.rate = queue.MeasureRate(m.rate, n, now.Sub(m.last))
	}
	m.last, m.stepped = now, true
	m.waiting -= n
	m.active += n
	m.admitted += n
	return n
}

// stepBoth runs one step on the store and the model and compares them.
func (q *queueStore) stepBoth(m *admissionModel, now time.Time) int64 {
	q.t.Helper()
	want := m.step(now)
	a := q.admit(now)
	if a.Admitted != want {
		q.t.Errorf("step at +%v: got %d admitted, want %d", now.Sub(qT0), a.Admitted, want)
	}
	return a.Admitted
}

func testAdmitRate(t *testing.T, q *queueStore) {
	s := rateSettings(10)
	q.joinAll(openRoom(s), 100, qT0)
	m := &admissionModel{s: s, waiting: 100}
	var total int64
	for i := range 50 { // 10/s, stepped every 100ms for 5s
		total += q.stepBoth(m, qAt(time.Duration(i)*100*time.Millisecond))
	}
	if total != 50 {
		t.Errorf("5s at 10/s: got %d admitted, want 50", total)
	}
	// After a pause the credit is capped at one second's worth.
	if n := q.stepBoth(m, qAt(8*time.Second)); n != 10 {
		t.Errorf("after a 3s pause: got %d admitted, want 10", n)
	}
	if s := q.stats(qAt(8 * time.Second)); s.AdmittedTotal != 60 || s.Waiting != 40 || s.Active != 60 {
		t.Errorf("stats: got %+v, want 60 admitted, 40 waiting, 60 active", s)
	}
}

func testAdmitRateFraction(t *testing.T, q *queueStore) {
	s := rateSettings(2.5)
	q.joinAll(openRoom(s), 60, qT0)
	m := &admissionModel{s: s, waiting: 60}
	now := qT0
	for i := range 80 {
		q.stepBoth(m, now)
		now = now.Add(time.Duration(70+i%7*37) * time.Millisecond)
	}
	if s := q.stats(now); s.AdmittedTotal != m.admitted {
		t.Errorf("admitted total: got %d, want %d", s.AdmittedTotal, m.admitted)
	}
}

func testAdmitFIFO(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(3))
	// Joined with falling clocks: order is arrival, not the callers' time.
	var ts []queue.Ticket
	for i := range 12 {
		st, _ := q.join(room, fanID(i+1), qAt(time.Duration(12-i)*time.Millisecond))
		ts = append(ts, st.Ticket)
	}
	admitted := 0
	for step := range 5 {
		now := qAt(time.Duration(step) * time.Second)
		admitted += int(q.admit(now).Admitted)
		for i, tk := range ts {
			st := q.status(tk, now)
			if i < admitted {
				wantState(t, fmt.Sprintf("step %d, seq %d", step, tk.Seq), st, queue.Admitted, 0)
			} else {
				wantState(t, fmt.Sprintf("step %d, seq %d", step, tk.Seq), st, queue.Waiting, int64(i-admitted+1))
			}
		}
	}
	if admitted != 1+3+3+3+2 {
		t.Errorf("admitted: got %d, want 12", admitted)
	}
}

func testAdmitBeforeOpening(t *testing.T, q *queueStore) {
	s := rateSettings(10)
	room := openRoom(s)
	room.OpensAt = qAt(10 * time.Second)
	q.joinAll(room, 30, qT0)
	for _, now := range []time.Time{qT0, qAt(5 * time.Second), qAt(10*time.Second - 1)} {
		wantAdmission(t, fmt.Sprintf("step at +%v", now.Sub(qT0)), q.admit(now), queue.Admission{Leader: true})
	}
	// The bucket starts at the opening, so the first step admits one.
	m := &admissionModel{s: s, waiting: 30}
	for i := range 10 {
		q.stepBoth(m, qAt(10*time.Second+time.Duration(i)*100*time.Millisecond))
	}
	if m.admitted != 10 {
		t.Errorf("model: got %d admitted, want 10", m.admitted)
	}
}

func testAdmitMaxActive(t *testing.T, q *queueStore) {
	s := maxActiveSettings(3)
	s.IdleSeconds = 3600
	ts := q.joinAll(openRoom(s), 10, qT0)
	wantAdmission(t, "first step", q.admit(qT0), queue.Admission{Leader: true, Admitted: 3})
	wantAdmission(t, "full", q.admit(qAt(time.Second)), queue.Admission{Leader: true})
	q.leave(ts[0], qAt(2*time.Second))
	wantAdmission(t, "after a leave", q.admit(qAt(2*time.Second)), queue.Admission{Leader: true, Admitted: 1})
	q.use(ts[3], qAt(300*time.Second)) // ends at 900s
	// Sessions of ts[1], ts[2] end at 600s.
	wantAdmission(t, "1ns before session end", q.admit(qAt(600*time.Second-1)), queue.Admission{Leader: true})
	wantAdmission(t, "at session end", q.admit(qAt(600*time.Second)), queue.Admission{Leader: true, Admitted: 2, Ended: 2})
	if s := q.stats(qAt(600 * time.Second)); s.Active != 3 || s.Waiting != 4 || s.AdmittedTotal != 6 {
		t.Errorf("stats: got %+v, want 3 active, 4 waiting, 6 admitted", s)
	}
	wantState(t, "seventh", q.status(ts[6], qAt(600*time.Second)), queue.Waiting, 1)
}

func testAdmitRateAndMaxActive(t *testing.T, q *queueStore) {
	s := queue.Settings{Strategy: queue.RateAndMaxActive, AdmitPerSecond: 2, MaxActive: 3, SessionSeconds: 600, IdleSeconds: 60}
	ts := q.joinAll(openRoom(s), 10, qT0)
	m := &admissionModel{s: s, waiting: 10}
	for i := range 4 {
		q.stepBoth(m, qAt(time.Duration(i)*500*time.Millisecond))
	}
	if m.active != 3 {
		t.Fatalf("model: got %d active, want 3", m.active)
	}
	q.leave(ts[0], qAt(2*time.Second))
	q.leave(ts[1], qAt(2*time.Second))
	m.active -= 2
	// The bucket holds 2 credits by now; only the free sessions limit.
	for i := range 4 {
		q.stepBoth(m, qAt(4*time.Second+time.Duration(i)*500*time.Millisecond))
	}
	if m.admitted != 5 {
		t.Errorf("model: got %d admitted, want 5", m.admitted)
	}
}

func testAdmitLease(t *testing.T, q *queueStore) {
	q.joinAll(openRoom(rateSettings(1)), 10, qT0)
	if a := q.admitAs("a", qT0); !a.Leader || a.Admitted != 1 {
		t.Errorf("a takes the lease: got %+v, want leader admitting 1", a)
	}
	wantAdmission(t, "b while a leads", q.admitAs("b", qAt(qLease/2)), queue.Admission{})
	wantAdmission(t, "b 1ns before a's lease ends", q.admitAs("b", qAt(qLease-1)), queue.Admission{})
	if s := q.stats(qAt(qLease)); s.AdmittedTotal != 1 {
		t.Errorf("admitted while b was refused: got %d, want 1", s.AdmittedTotal)
	}
	if a := q.admitAs("a", qAt(qLease-time.Millisecond)); !a.Leader {
		t.Errorf("a renews: got %+v, want leader", a)
	}
	wantAdmission(t, "b at a's first lease end", q.admitAs("b", qAt(qLease)), queue.Admission{})
	if a := q.admitAs("b", qAt(2*qLease-time.Millisecond)); !a.Leader || a.Admitted != 1 {
		t.Errorf("b at a's renewed lease end: got %+v, want leader admitting 1", a)
	}
	wantAdmission(t, "a while b leads", q.admitAs("a", qAt(2*qLease)), queue.Admission{})
}

func testAdmitDroppedEnded(t *testing.T, q *queueStore) {
	s := maxActiveSettings(2)
	s.SessionSeconds = 30
	ts := q.joinAll(openRoom(s), 5, qT0)
	wantAdmission(t, "first step", q.admit(qT0), queue.Admission{Leader: true, Admitted: 2})
	q.status(ts[2], qAt(50*time.Second))
	wantAdmission(t, "at idle limit", q.admit(qAt(60*time.Second)), queue.Admission{Leader: true, Admitted: 1, Dropped: 2, Ended: 2})
	if st := q.stats(qAt(60 * time.Second)); counts(st) != (queue.Stats{Active: 1, AdmittedTotal: 3, DroppedTotal: 2, AbandonedTotal: 2}) {
		t.Errorf("stats: got %+v, want 1 active, 3 admitted, 2 dropped and abandoned", counts(st))
	}
	wantState(t, "admitted after drops", q.status(ts[2], qAt(60*time.Second)), queue.Admitted, 0)
}

func testAdmitSweepsMany(t *testing.T, q *queueStore) {
	const n = 1200
	q.joinAll(closedRoom(rateSettings(10)), n, qT0)
	var dropped int64
	for i := 0; i < 10; i++ {
		a := q.admit(qAt(60*time.Second + time.Duration(i)*time.Millisecond))
		if a.Dropped == 0 {
			break
		}
		dropped += a.Dropped
	}
	if s := q.stats(qAt(61 * time.Second)); dropped != n || s.DroppedTotal != n || s.Waiting != 0 {
		t.Errorf("got %d dropped by steps, stats %+v, want %d dropped and none waiting", dropped, s, n)
	}
	if ids, err := q.s.Rooms(t.Context()); err != nil || len(ids) != 0 {
		t.Errorf("rooms: got %v, %v, want none", ids, err)
	}
}

func testAdmitNotFound(t *testing.T, q *queueStore) {
	_, err := q.s.Admit(t.Context(), qOther, "owner-a", qLease, qT0)
	wantQueueCode(t, "Admit in unknown room", err, boxoffice.CodeNotFound)
}

// --- Configure

func testConfigureStrategy(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(1))
	ts := q.joinAll(room, 10, qT0)
	wantAdmission(t, "RATE 1/s", q.admit(qT0), queue.Admission{Leader: true, Admitted: 1})
	room.Settings = maxActiveSettings(4)
	q.configure(room)
	wantAdmission(t, "MAX_ACTIVE 4", q.admit(qAt(100*time.Millisecond)), queue.Admission{Leader: true, Admitted: 3})
	wantRoom(t, "status after configure", q.status(ts[9], qAt(time.Second)).Room, room)
}

func testConfigureKeepsPlaces(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(1))
	ts := q.joinAll(room, 3, qT0)
	q.admit(qT0)
	room.Settings = rateSettings(7)
	room.Settings.SessionSeconds = 30
	q.configure(room)
	wantState(t, "admitted", q.status(ts[0], qAt(time.Second)), queue.Admitted, 0)
	wantState(t, "third", q.status(ts[2], qAt(time.Second)), queue.Waiting, 2)
	if s := q.stats(qAt(time.Second)); s.Waiting != 2 || s.Active != 1 || s.AdmittedTotal != 1 {
		t.Errorf("stats: got %+v, want 2 waiting, 1 active, 1 admitted", s)
	}
	// The new session length applies from the next use.
	wantInstant(t, "session end after use", q.use(ts[0], qAt(2*time.Second)).SessionExpiresAt, qAt(600*time.Second))
	wantInstant(t, "session end after later use", q.use(ts[0], qAt(580*time.Second)).SessionExpiresAt, qAt(610*time.Second))
}

func testConfigureLaterOpening(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	ts := q.joinAll(room, 2, qT0)
	room.OpensAt = qAt(time.Hour)
	q.configure(room)
	wantState(t, "after moving the opening", q.status(ts[1], qT0), queue.Prequeue, 0)
	wantAdmission(t, "step before the new opening", q.admit(qAt(time.Second)), queue.Admission{Leader: true})
}

func testConfigureUnknown(t *testing.T, q *queueStore) {
	q.configure(closedRoom(maxActiveSettings(5)))
	_, err := q.s.Stats(t.Context(), qRoomID, qT0)
	wantQueueCode(t, "stats of a room only configured", err, boxoffice.CodeNotFound)
}

func testConfigureVersion(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	room.Version = 3
	q.create(room, qT0)
	newer := openRoom(maxActiveSettings(7))
	newer.Version = 5
	q.configure(newer)
	older := openRoom(rateSettings(1))
	older.Version = 4
	q.configure(older)
	st, _ := q.join(openRoom(rateSettings(2)), fanID(1), qT0)
	wantRoom(t, "after versions 5 then 4", st.Room, newer)
	same := openRoom(maxActiveSettings(8))
	same.Version = 5
	q.configure(same)
	wantRoom(t, "after version 5 again", q.status(st.Ticket, qT0).Room, same)
}

// --- Stats

func testStatsCounts(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	ts := q.joinAll(room, 6, qT0)
	q.admit(qT0)
	q.leave(ts[5], qT0)
	q.status(ts[1], qAt(30*time.Second))
	got := q.stats(qAt(30 * time.Second))
	if want := (queue.Stats{Waiting: 4, Active: 1, AdmittedTotal: 1, AbandonedTotal: 1}); counts(got) != want {
		t.Errorf("stats: got %+v, want %+v", counts(got), want)
	}
	// Three idle places end at 60s; the heartbeat of ts[1] keeps it. No
	// step has dropped them yet.
	got = q.stats(qAt(60 * time.Second))
	if want := (queue.Stats{Waiting: 1, Active: 1, AdmittedTotal: 1, AbandonedTotal: 1}); counts(got) != want {
		t.Errorf("stats at idle limit: got %+v, want %+v", counts(got), want)
	}
	q.admit(qAt(60 * time.Second))
	got = q.stats(qAt(60 * time.Second))
	if want := (queue.Stats{Waiting: 0, Active: 2, AdmittedTotal: 2, DroppedTotal: 3, AbandonedTotal: 4}); counts(got) != want {
		t.Errorf("stats after the step: got %+v, want %+v", counts(got), want)
	}
}

func testStatsRate(t *testing.T, q *queueStore) {
	s := rateSettings(10)
	ts := q.joinAll(openRoom(s), 25, qT0)
	m := &admissionModel{s: s, waiting: 25}
	now := qT0
	for i := range 40 {
		q.stepBoth(m, now)
		st := q.stats(now)
		wantRate(t, fmt.Sprintf("step %d", i), st.Rate, m.rate)
		if i == 30 {
			now = now.Add(5 * time.Second) // the queue is empty by now
		}
		now = now.Add(time.Duration(100+i%3*50) * time.Millisecond)
	}
	if m.rate == 0 {
		t.Fatalf("model: got rate 0, want a measurement")
	}
	wantRate(t, "status", q.status(ts[24], now).Rate, m.rate)
}

func testStatsNotFound(t *testing.T, q *queueStore) {
	_, err := q.s.Stats(t.Context(), qOther, qT0)
	wantQueueCode(t, "Stats of unknown room", err, boxoffice.CodeNotFound)
}

// --- Rooms

func testRooms(t *testing.T, q *queueStore) {
	rooms := func(want ...string) {
		t.Helper()
		got, err := q.s.Rooms(t.Context())
		if err != nil {
			t.Fatalf("Rooms: %v", err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("rooms: got %v, want %v", got, want)
		}
	}
	rooms()
	a := openRoom(rateSettings(10))
	b := a
	b.ConcertID = qOther
	c := a
	c.ConcertID = "01970000-0000-7000-8000-000000000003"
	q.configure(c)
	st, _ := q.join(a, fanID(1), qT0)
	q.join(b, fanID(1), qT0)
	rooms(qRoomID, qOther)
	q.admit(qT0)
	rooms(qRoomID, qOther)
	q.leave(st.Ticket, qT0)
	rooms(qOther)
}

// --- Races

func testRaceDistinctUsers(t *testing.T, q *queueStore) {
	const n = 200
	room := openRoom(rateSettings(10))
	q.create(room, qT0)
	sts := make([]queue.Status, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			st, created, err := joinOne(t.Context(), q.s, room, fanID(i), qT0)
			if err != nil || !created {
				t.Errorf("Join(%s): got created %v, %v, want created", fanID(i), created, err)
			}
			sts[i] = st
		})
	}
	wg.Wait()
	seqs := make([]int64, n)
	positions := make([]int64, n)
	for i, st := range sts {
		seqs[i], positions[i] = st.Seq, st.Position
		if st.Position != st.Seq {
			t.Errorf("%s: got position %d with seq %d, want them equal", st.UserID, st.Position, st.Seq)
		}
	}
	slices.Sort(seqs)
	slices.Sort(positions)
	for i := range n {
		if seqs[i] != int64(i+1) || positions[i] != int64(i+1) {
			t.Fatalf("sorted seqs and positions: got %v and %v, want 1..%d", seqs, positions, n)
		}
	}
}

func testRaceSameUser(t *testing.T, q *queueStore) {
	room := openRoom(rateSettings(10))
	q.create(room, qT0)
	var created atomic.Int64
	seqs := make([]int64, 20)
	var wg sync.WaitGroup
	for i := range seqs {
		wg.Go(func() {
			st, c, err := joinOne(t.Context(), q.s, room, fanID(1), qT0)
			if err != nil {
				t.Errorf("Join: %v", err)
			}
			if c {
				created.Add(1)
			}
			seqs[i] = st.Seq
		})
	}
	wg.Wait()
	if created.Load() != 1 {
		t.Errorf("created: got %d joins, want 1", created.Load())
	}
	for _, s := range seqs {
		if s != seqs[0] {
			t.Fatalf("seqs: got %v, want one value", seqs)
		}
	}
}

// activeSampler keeps the most sessions that Stats samples showed active.
type activeSampler struct {
	t            *testing.T
	samples, max atomic.Int64
}

func (a *activeSampler) sample(st queue.Stats, err error) {
	if err != nil {
		a.t.Errorf("Stats: %v", err)
		return
	}
	a.samples.Add(1)
	for m := a.max.Load(); st.Active > m && !a.max.CompareAndSwap(m, st.Active); m = a.max.Load() {
	}
}

// check fails the test when a sample showed more than limit sessions active.
func (a *activeSampler) check(limit int64) {
	if m := a.max.Load(); m > limit {
		a.t.Errorf("active sessions: got up to %d in %d samples, want at most %d", m, a.samples.Load(), limit)
	}
}

func testRaceMaxActive(t *testing.T, q *queueStore) {
	const limit, fans = 5, 300
	s := maxActiveSettings(limit)
	s.SessionSeconds = 1 // 200 calls
	ts := q.joinAll(openRoom(s), fans, qT0)

	var clock atomic.Int64 // each call moves the shared clock 5ms
	now := func() time.Time { return qAt(time.Duration(clock.Add(5)) * time.Millisecond) }
	ctx := t.Context()
	var stop atomic.Bool
	var workers, samplers sync.WaitGroup
	active := &activeSampler{t: t}
	for w := range 4 {
		workers.Go(func() {
			owner := fmt.Sprintf("owner-%d", w)
			for range 60 {
				if _, err := q.s.Admit(ctx, qRoomID, owner, 0, now()); err != nil {
					t.Errorf("Admit: %v", err)
				}
			}
		})
	}
	for w := range 2 {
		workers.Go(func() {
			for i := range 150 {
				tk := ts[(i*7+w*3)%fans]
				st, err := q.s.Status(ctx, tk, now())
				if err != nil {
					t.Errorf("Status: %v", err)
					continue
				}
				if st.State != queue.Admitted {
					continue
				}
				if w == 0 {
					_ = q.s.Leave(ctx, tk.ConcertID, []queue.Ticket{tk}, now())
				} else if _, err := q.s.Use(ctx, tk, now()); err != nil && boxoffice.ErrorCode(err) != boxoffice.CodeQueueTokenExpired {
					t.Errorf("Use: %v", err)
				}
			}
		})
	}
	for range 2 {
		samplers.Go(func() {
			for i := 0; i < 1000 && !stop.Load(); i++ {
				active.sample(q.s.Stats(ctx, qRoomID, now()))
			}
		})
	}
	workers.Wait()
	stop.Store(true)
	samplers.Wait()
	end := now()
	st, err := q.s.Stats(ctx, qRoomID, end)
	active.sample(st, err)
	active.check(limit)
	var admitted int64
	for _, tk := range ts {
		if q.status(tk, end).State == queue.Admitted {
			admitted++
		}
	}
	if admitted > limit || admitted != st.Active {
		t.Errorf("admitted tickets at the end: got %d (stats %d), want the same and at most %d", admitted, st.Active, limit)
	}
	if st.AdmittedTotal <= limit {
		t.Errorf("admitted total: got %d, want above %d (sessions refilled)", st.AdmittedTotal, limit)
	}
}
