package redis

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/boxoffice/boxoffice/batch"
	"github.com/boxoffice/boxoffice/queue"
)

var (
	//go:embed lua/clock.lua
	clockLua string
	//go:embed lua/room.lua
	roomLua string
	//go:embed lua/join.lua
	joinLua string
	//go:embed lua/statuses.lua
	statusesLua string
	//go:embed lua/use.lua
	useLua string
	//go:embed lua/leave.lua
	leaveLua string
	//go:embed lua/admit.lua
	admitLua string
	//go:embed lua/stats.lua
	statsLua string
	//go:embed lua/supply.lua
	supplyLua string
	//go:embed lua/admissions.lua
	admissionsLua string
	//go:embed lua/configure.lua
	configureLua string
	//go:embed lua/restore.lua
	restoreLua string

	joinScript       = goredis.NewScript(clockLua + constantsLua() + roomLua + joinLua)
	statusesScript   = goredis.NewScript(clockLua + roomLua + statusesLua)
	useScript        = goredis.NewScript(clockLua + roomLua + useLua)
	leaveScript      = goredis.NewScript(roomLua + leaveLua)
	admitScript      = goredis.NewScript(clockLua + constantsLua() + admitLua)
	statsScript      = goredis.NewScript(clockLua + statsLua)
	supplyScript     = goredis.NewScript(clockLua + supplyLua)
	admissionsScript = goredis.NewScript(admissionsLua)
	configureScript  = goredis.NewScript(configureLua)
	restoreScript    = goredis.NewScript(clockLua + restoreLua)
)

// constantsLua declares the queue package's constants the scripts share:
// DRAW_SPAN and WAIT_BOUNDS, queue.WaitBounds in milliseconds.
func constantsLua() string {
	var b strings.Builder
	fmt.Fprintf(&b, "local DRAW_SPAN = %d\nlocal PERIOD = %d\nlocal WAIT_BOUNDS = {", queue.DrawSpan, queue.RatePeriod.Milliseconds())
	for i, d := range queue.WaitBounds {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(d.Milliseconds(), 10))
	}
	b.WriteString("}\n")
	return b.String()
}

// QueueStore is a queue.Store in Redis, shared by any number of instances.
//
// A room's keys are <prefix>wr:{<concertID>}:meta (hash: settings, opening,
// seq counter, bucket, measured rates, totals, supply, draw flag), :waiting
// (sorted set: user by draw key or queue.DrawSpan + seq), :seen (user by
// last heartbeat, ms), :active (user by session end, ms, never past its
// absolute end), :users (hash: user → seq:joinedMs of the live ticket, and
// :endMs, its absolute end, once it is a session with one), :draw (sorted set: the prequeue
// places by draw key, frozen once the draw is made), :waits (hash: wait
// histogram bucket → count), :lease (hash: owner, until) and :log (list:
// the latest admissions, seq|atMs|prequeue|user), and while the room is
// being rebuilt :claim (hash: owner, until). A proof of work spent for the
// room is a key of its own, :proof:<name>, expiring with its challenge. The
// hash tag puts them in one cluster slot. <prefix>wr:rooms, a set, indexes the rooms; no script
// touches it: a room is indexed before its meta hash is written, so every
// room that exists is indexed.
//
// Seqs come from a counter inside the join script, so order after the
// opening is arrival at Redis. Places with one draw key are ordered by user
// ID bytes. Times are kept to the millisecond.
type QueueStore struct {
	client goredis.UniversalClient
	prefix string
	index  string

	keys   sync.Map // concert ID → []string, see roomKeys
	cached atomic.Int64

	// The hot calls of concurrent requests for one room are gathered into
	// one script run each: see package batch.
	statuses *batch.Group[string, ticketReq, ticketResp]
	uses     *batch.Group[string, ticketReq, ticketResp]
	times    *batch.Group[string, struct{}, time.Time]

	sweepBatch, admitLimit, logLen int

	// serverTime: decide with Redis's clock, not the callers'.
	serverTime bool
}

var _ queue.Store = (*QueueStore)(nil)

// UseServerTime makes the store decide every instant with Redis's own
// clock (TIME, read inside each script) instead of the now its callers
// pass: session ends, idle drops, the opening's boundary between the draw
// and first come, first served, and the admission period are then one
// clock for every instance, whatever each instance's clock says. Call it
// before the store is used.
func (s *QueueStore) UseServerTime() { s.serverTime = true }

// instant is the script argument of now: its milliseconds, or T for
// Redis's clock.
func (s *QueueStore) instant(now time.Time) any {
	if s.serverTime {
		return "T"
	}
	return now.UnixMilli()
}

// NewQueueStore returns a store keeping its keys under prefix, which must
// not contain braces.
func NewQueueStore(client goredis.UniversalClient, prefix string) *QueueStore {
	s := &QueueStore{client: client, prefix: prefix, index: prefix + "wr:rooms",
		sweepBatch: queue.SweepPerStep, admitLimit: queue.MaxAdmitPerStep, logLen: queue.AdmissionLogLen}
	s.statuses = batch.New(hotBatch, hotTimeout, s.runStatuses)
	s.uses = batch.New(hotBatch, hotTimeout, s.runUses)
	s.times = batch.New(hotBatch, hotTimeout, s.runTimes)
	return s
}

// hotBatch bounds the requests one script run serves, so that no run holds
// Redis for more than a few milliseconds; hotTimeout bounds a run.
const (
	hotBatch   = 128
	hotTimeout = 5 * time.Second
)

// ticketReq is a request of the batched calls; ticketResp its answer.
// (Joins are gathered by queue.Service, which journals them too.)
type (
	ticketReq struct {
		t   queue.Ticket
		now time.Time
	}
	ticketResp struct {
		st  queue.Status
		err error
	}
)

// maxCachedRooms bounds the cache of key names.
const maxCachedRooms = 4096

// Indexes of roomKeys. Scripts declare a prefix of the list, or all of it.
const (
	kMeta = iota
	kWaiting
	kSeen
	kActive
	kUsers
	kDraw
	kWaits
	kLease
	kLog
	kClaim
)

// roomKeys returns the room's keys in the order every script declares
// them: meta, waiting, seen, active, users, draw, waits, lease, log, claim.
func (s *QueueStore) roomKeys(concertID string) []string {
	if v, ok := s.keys.Load(concertID); ok {
		return v.([]string)
	}
	base := s.prefix + "wr:{" + concertID + "}:"
	k := []string{base + "meta", base + "waiting", base + "seen", base + "active", base + "users",
		base + "draw", base + "waits", base + "lease", base + "log", base + "claim"}
	if s.cached.Load() < maxCachedRooms {
		if _, loaded := s.keys.LoadOrStore(concertID, k); !loaded {
			s.cached.Add(1)
		}
	}
	return k
}

// Configure sets a room's settings and opening, unless its version is
// newer. A room the store does not have is left alone.
func (s *QueueStore) Configure(ctx context.Context, room queue.Room) error {
	args := append([]any{room.Version}, settingsFields(room)...)
	err := configureScript.Run(ctx, s.client, s.roomKeys(room.ConcertID)[:kMeta+1], args...).Err()
	if err != nil {
		return failWrite("configure waiting room", err)
	}
	return nil
}

// settingsFields are the meta hash fields of room's settings and opening.
func settingsFields(room queue.Room) []any {
	st := room.Settings
	return []any{"st", string(st.Strategy), "aps", st.AdmitPerSecond, "max", st.MaxActive,
		"ses", st.SessionSeconds, "idle", st.IdleSeconds, "open", room.OpensAt.UnixMilli(),
		"maxs", st.MaxSessionSeconds}
}

// restoreChunk is how many records one restore script run writes.
const restoreChunk = 1000

// Restore builds the room from the snapshot load returns if Redis does not
// have it: it claims the room, clears what an earlier attempt left, writes
// the places, sessions, draw and log in runs of restoreChunk records,
// and writes its meta hash last, which makes it exist. The room is indexed
// before anything else.
// Errors: UNAVAILABLE while another owner's claim lasts.
func (s *QueueStore) Restore(ctx context.Context, room queue.Room, load func(context.Context) (queue.Snapshot, error), owner string, lease time.Duration, now time.Time) error {
	k := s.roomKeys(room.ConcertID)
	run := func(step string, args ...any) (string, error) {
		a := append([]any{step, owner, s.instant(now)}, args...)
		res, err := restoreScript.Run(ctx, s.client, k, a...).Text()
		if err != nil {
			return "", fail("rebuild waiting room", err)
		}
		if res == "L" {
			return "", queue.RebuildingError()
		}
		return res, nil
	}
	// Indexed first: a room that exists is always indexed, and a lost
	// index comes back with the next rebuild of each room.
	if err := s.client.SAdd(ctx, s.index, room.ConcertID).Err(); err != nil {
		return fail("index waiting room", err)
	}
	res, err := run("begin", lease.Milliseconds())
	switch {
	case err != nil:
		return err
	case res == "E":
		return nil
	case res == "B":
		return queue.RebuildingError()
	}
	snap, err := load(ctx)
	if err != nil {
		return err
	}
	w := &restoreRecords{run: run}
	if err := w.write(room, snap); err != nil {
		return err
	}
	// Credit empty and the window full: a rebuilt room admits no more in
	// its first period than the period allows.
	var limit any = "-"
	if snap.Seq > 0 {
		limit = room.Settings.RateLimit()
	}
	fields := append([]any{limit}, settingsFields(room)...)
	fields = append(fields, "ver", room.Version, "seq", snap.Seq, "admitted", snap.Admitted)
	if snap.Drawn {
		fields = append(fields, "drawn", "1", "drawnAt", snap.DrawnAt.UnixMilli())
	}
	_, err = run("finish", fields...)
	return err
}

// restoreHeader is how many arguments of a restore run come before its
// records: the room's session and maximum session, in milliseconds.
const restoreHeader = 2

// restoreRecords writes the records of a snapshot with run, in runs of
// restoreChunk records.
type restoreRecords struct {
	run  func(step string, args ...any) (string, error)
	recs []any
}

// write writes the places, draw and log of snap, and flushes the last run.
func (w *restoreRecords) write(room queue.Room, snap queue.Snapshot) error {
	w.recs = make([]any, 0, restoreHeader+4*restoreChunk)
	w.recs = append(w.recs, room.Settings.Session().Milliseconds(), int64(room.Settings.MaxSessionSeconds)*1000)
	var err error
	for _, p := range snap.Places {
		ticket := strconv.FormatInt(p.Seq, 10) + ":" + strconv.FormatInt(p.JoinedAt.UnixMilli(), 10)
		if p.Admitted {
			// The session's absolute end: 0 for none, - for one from now
			// when its admission is not known.
			var end any = "-"
			if e := room.Settings.SessionEnd(p.AdmittedAt); room.Settings.MaxSessionSeconds <= 0 {
				end = 0
			} else if !p.AdmittedAt.IsZero() {
				end = e.UnixMilli()
			}
			err = w.add("A", p.UserID, ticket, end)
		} else {
			err = w.add("W", p.UserID, p.Key, ticket)
		}
		if err == nil && !snap.Drawn && p.Key < queue.DrawSpan {
			err = w.add("D", p.UserID, p.Key, "-")
		}
		if err != nil {
			return err
		}
	}
	for _, u := range snap.Draw {
		if err := w.add("D", u, queue.DrawKey(room.Seed, queue.EntryID(room.ConcertID, u)), "-"); err != nil {
			return err
		}
	}
	for _, r := range snap.Log {
		prequeue := "0"
		if r.Prequeue {
			prequeue = "1"
		}
		e := strconv.FormatInt(r.Seq, 10) + "|" + strconv.FormatInt(r.At.UnixMilli(), 10) + "|" + prequeue + "|" + r.UserID
		if err := w.add("L", e, "-", "-"); err != nil {
			return err
		}
	}
	return w.flush(true)
}

// flush runs the records gathered once they fill a run, or when force.
func (w *restoreRecords) flush(force bool) error {
	if len(w.recs) == restoreHeader || (!force && len(w.recs) < restoreHeader+4*restoreChunk) {
		return nil
	}
	_, err := w.run("add", w.recs...)
	w.recs = w.recs[:restoreHeader]
	return err
}

// add gathers one record.
func (w *restoreRecords) add(kind string, a, b, c any) error {
	w.recs = append(w.recs, kind, a, b, c)
	return w.flush(false)
}

// Join gives each of users a place at the back of the room, in order, or
// returns the live place or session the user has; one script run serves
// each hotBatch of them. Errors: NOT_FOUND for an unknown room; per user,
// SOLD_OUT.
func (s *QueueStore) Join(ctx context.Context, room queue.Room, users []string, now time.Time) ([]queue.Joined, error) {
	out := make([]queue.Joined, 0, len(users))
	for start := 0; start < len(users); start += hotBatch {
		js, err := s.join(ctx, room, users[start:min(start+hotBatch, len(users))], now)
		if err != nil {
			return nil, err
		}
		out = append(out, js...)
	}
	return out, nil
}

// join runs the join script for users.
func (s *QueueStore) join(ctx context.Context, room queue.Room, users []string, now time.Time) ([]queue.Joined, error) {
	concertID := room.ConcertID
	args := make([]any, 0, 3*len(users))
	for _, u := range users {
		key := queue.DrawKey(room.Seed, queue.EntryID(concertID, u))
		args = append(args, u, s.instant(now), strconv.FormatUint(key, 10))
	}
	res, err := joinScript.Run(ctx, s.client, s.roomKeys(concertID)[:kDraw+1], args...).StringSlice()
	if err != nil {
		return nil, failWrite("join waiting room", err)
	}
	if len(res) == 1 && res[0] == "F" {
		return nil, queue.NoRoomError(concertID)
	}
	if len(res) != len(users)+1 {
		return nil, malformed("join", strings.Join(res, "\n"))
	}
	var base queue.Status
	f := fields{s: res[0]}
	parseRoom(&f, concertID, &base)
	if f.bad || f.s != "" {
		return nil, malformed("join", res[0])
	}
	out := make([]queue.Joined, len(users))
	for i, u := range users {
		v := res[i+1]
		if v == "S" {
			out[i].Err = queue.SoldOutError()
			continue
		}
		st := base
		f := fields{s: v}
		parsePlace(&f, &st, concertID, u)
		created := f.next()
		st.Key = f.int()
		if f.bad || f.s != "" || created == "" {
			return nil, malformed("join", v)
		}
		out[i] = queue.Joined{Status: st, Created: created == "1"}
	}
	return out, nil
}

// Status returns t's standing and records a heartbeat for a waiting place.
// Concurrent calls for one room run as one script. Errors: NOT_FOUND for
// an unknown room.
func (s *QueueStore) Status(ctx context.Context, t queue.Ticket, now time.Time) (queue.Status, error) {
	r, err := s.statuses.Do(ctx, t.ConcertID, ticketReq{t: t, now: now})
	if err != nil {
		return queue.Status{}, fail("queue status", err)
	}
	return r.st, r.err
}

// Statuses is Status for each ticket, one script run per
// queue.StatusBatch tickets. Errors: NOT_FOUND for an unknown room.
func (s *QueueStore) Statuses(ctx context.Context, concertID string, tks []queue.Ticket, now time.Time) ([]queue.Status, error) {
	out := make([]queue.Status, 0, len(tks))
	reqs := make([]ticketReq, 0, min(len(tks), queue.StatusBatch))
	// One run even for no tickets, to answer NOT_FOUND as Status would.
	for start := 0; start == 0 || start < len(tks); start += queue.StatusBatch {
		reqs = reqs[:0]
		for _, tk := range tks[start:min(start+queue.StatusBatch, len(tks))] {
			reqs = append(reqs, ticketReq{t: tk, now: now})
		}
		res, err := s.runStatuses(ctx, concertID, reqs)
		if err != nil {
			return nil, err
		}
		for _, r := range res {
			if r.err != nil {
				return nil, r.err
			}
			out = append(out, r.st)
		}
	}
	return out, nil
}

// ticketArgs lists user, seq, nowMs of each request. A ticket of another
// room gets seq 0, which no live place has.
func (s *QueueStore) ticketArgs(concertID string, reqs []ticketReq) []any {
	args := make([]any, 0, 3*len(reqs))
	for _, r := range reqs {
		seq := r.t.Seq
		if r.t.ConcertID != concertID {
			seq = 0
		}
		args = append(args, r.t.UserID, seq, s.instant(r.now))
	}
	return args
}

// runStatuses runs the statuses script for reqs, all of one room.
func (s *QueueStore) runStatuses(ctx context.Context, concertID string, reqs []ticketReq) ([]ticketResp, error) {
	res, err := statusesScript.Run(ctx, s.client, s.roomKeys(concertID)[:kUsers+1], s.ticketArgs(concertID, reqs)...).StringSlice()
	if err != nil {
		return nil, fail("queue status", err)
	}
	if len(res) == 1 && res[0] == "F" {
		return nil, queue.NoRoomError(concertID)
	}
	if len(res) != len(reqs)+1 {
		return nil, malformed("statuses", strings.Join(res, "\n"))
	}
	out := make([]ticketResp, len(reqs))
	var room queue.Status
	f := fields{s: res[0]}
	parseRoom(&f, concertID, &room)
	if f.bad || f.s != "" {
		return nil, malformed("statuses", res[0])
	}
	for i, r := range reqs {
		f = fields{s: res[i+1]}
		st := room
		parsePlace(&f, &st, concertID, r.t.UserID)
		st.Ticket = r.t
		if f.bad || f.s != "" {
			return nil, malformed("statuses", res[i+1])
		}
		out[i].st = st
	}
	return out, nil
}

// Use extends an admitted session to now+SessionSeconds, never past its
// absolute end. Concurrent calls
// for one room run as one script. Errors: QUEUE_TOKEN_EXPIRED,
// NOT_ADMITTED with Position, SOLD_OUT, NOT_FOUND for an unknown room.
func (s *QueueStore) Use(ctx context.Context, t queue.Ticket, now time.Time) (queue.Status, error) {
	r, err := s.uses.Do(ctx, t.ConcertID, ticketReq{t: t, now: now})
	if err != nil {
		return queue.Status{}, fail("use queue session", err)
	}
	return r.st, r.err
}

// runUses runs the use script for reqs, all of one room.
func (s *QueueStore) runUses(ctx context.Context, concertID string, reqs []ticketReq) ([]ticketResp, error) {
	res, err := useScript.Run(ctx, s.client, s.roomKeys(concertID)[:kUsers+1], s.ticketArgs(concertID, reqs)...).StringSlice()
	if err != nil {
		return nil, fail("use queue session", err)
	}
	if len(res) == 1 && res[0] == "F" {
		return nil, queue.NoRoomError(concertID)
	}
	if len(res) != len(reqs)+1 {
		return nil, malformed("use", strings.Join(res, "\n"))
	}
	var room queue.Status
	f := fields{s: res[0]}
	parseRoom(&f, concertID, &room)
	if f.bad || f.s != "" {
		return nil, malformed("use", res[0])
	}
	out := make([]ticketResp, len(reqs))
	for i, r := range reqs {
		v := res[i+1]
		switch {
		case v == "X":
			out[i].err = queue.SessionEndedError()
		case v == "S":
			out[i].err = queue.SoldOutError()
		case strings.HasPrefix(v, "N|"):
			pos, err := strconv.ParseInt(v[2:], 10, 64)
			if err != nil {
				return nil, malformed("use", v)
			}
			out[i].err = queue.NotAdmittedError(pos)
		default:
			st := room
			f := fields{s: v}
			parsePlace(&f, &st, concertID, r.t.UserID)
			if f.bad || f.s != "" {
				return nil, malformed("use", v)
			}
			out[i].st = st
		}
	}
	return out, nil
}

// Leave ends the places or sessions of tickets, all of concertID's room,
// in one script run; an ended ticket, or one of another room, is left
// alone.
func (s *QueueStore) Leave(ctx context.Context, concertID string, tickets []queue.Ticket, _ time.Time) error {
	args := make([]any, 0, 2*len(tickets))
	for _, t := range tickets {
		if t.ConcertID == concertID {
			args = append(args, t.UserID, t.Seq)
		}
	}
	if len(args) == 0 {
		return nil
	}
	err := leaveScript.Run(ctx, s.client, s.roomKeys(concertID)[:kDraw+1], args...).Err()
	if err != nil {
		return failWrite("leave waiting room", err)
	}
	return nil
}

// Admit runs one admission step if owner holds or takes the room's lease.
// Errors: NOT_FOUND for an unknown room.
func (s *QueueStore) Admit(ctx context.Context, concertID, owner string, lease time.Duration, now time.Time) (queue.Admission, error) {
	res, err := admitScript.Run(ctx, s.client, s.roomKeys(concertID)[:kLog+1], owner, lease.Milliseconds(), s.instant(now),
		s.sweepBatch, queue.RateHalfLife.Seconds(), s.admitLimit, s.logLen).StringSlice()
	if err != nil {
		return queue.Admission{}, fail("admission step", err)
	}
	switch {
	case len(res) == 1 && res[0] == "F":
		return queue.Admission{}, queue.NoRoomError(concertID)
	case len(res) == 1 && res[0] == "0":
		return queue.Admission{}, nil
	case len(res) != 3:
		return queue.Admission{}, malformed("admit", strings.Join(res, "\n"))
	}
	f := fields{s: res[0]}
	a := queue.Admission{Leader: f.next() == "1"}
	a.Admitted, a.Dropped, a.Ended = f.int(), f.int(), f.int()
	a.At = time.UnixMilli(f.int()).UTC()
	a.First = f.int()
	a.Drew = f.next() == "1"
	a.Waiting = f.int()
	var bad bool
	a.Seqs, bad = parseSeqs(res[1])
	gone, bad2 := parseSeqs(res[2])
	a.Gone = gone
	if !a.Leader || f.bad || f.s != "" || bad || bad2 || int64(len(a.Seqs)) != a.Admitted {
		return queue.Admission{}, malformed("admit", strings.Join(res, "\n"))
	}
	return a, nil
}

// parseSeqs reads comma-separated seqs; bad reports a malformed list.
func parseSeqs(v string) (seqs []int64, bad bool) {
	if v == "" {
		return nil, false
	}
	for p := range strings.SplitSeq(v, ",") {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, true
		}
		seqs = append(seqs, n)
	}
	return seqs, false
}

// flag is a bool as a script's argument: 1 or 0.
func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SetSupply records what the concert has left to sell. Errors: NOT_FOUND.
func (s *QueueStore) SetSupply(ctx context.Context, concertID string, sup queue.Supply, now time.Time) error {
	res, err := supplyScript.Run(ctx, s.client, s.roomKeys(concertID)[:kMeta+1], flag(sup.Available), flag(sup.Held), s.instant(now)).Text()
	if err != nil {
		return fail("set supply", err)
	}
	if res == "F" {
		return queue.NoRoomError(concertID)
	}
	return nil
}

// Stats describes the room at now. Errors: NOT_FOUND for an unknown room.
func (s *QueueStore) Stats(ctx context.Context, concertID string, now time.Time) (queue.Stats, error) {
	res, err := statsScript.Run(ctx, s.client, s.roomKeys(concertID)[:kWaits+1], s.instant(now)).Text()
	if err != nil {
		return queue.Stats{}, fail("waiting room stats", err)
	}
	if res == "F" {
		return queue.Stats{}, queue.NoRoomError(concertID)
	}
	f := fields{s: res}
	st := queue.Stats{Waiting: f.int(), Active: f.int(), AdmittedTotal: f.int(), DroppedTotal: f.int(),
		AbandonedTotal: f.int(), Rate: f.float(), AbandonRate: f.float()}
	if avail, held := f.next(), f.next(); avail != "-" {
		a, err1 := strconv.ParseInt(avail, 10, 64)
		h, err2 := strconv.ParseInt(held, 10, 64)
		f.bad = f.bad || err1 != nil || err2 != nil
		st.Paused = a <= 0
		st.SoldOut = a <= 0 && h <= 0
	}
	st.Drawn = f.next() == "1"
	for f.s != "" && !f.bad {
		b, c := f.int(), f.int()
		if b < 0 || b >= int64(len(st.Waits)) {
			f.bad = true
			break
		}
		st.Waits[b] = c
	}
	if f.bad {
		return queue.Stats{}, malformed("stats", res)
	}
	return st, nil
}

// drawPage is how many user IDs Draw reads per round trip.
const drawPage = 10000

// Draw returns the room's draw, nil before it is made. It reads the frozen
// draw set in pages of 10,000. Errors: NOT_FOUND.
func (s *QueueStore) Draw(ctx context.Context, concertID string) ([]string, time.Time, error) {
	k := s.roomKeys(concertID)
	m, err := s.client.HMGet(ctx, k[kMeta], "st", "drawn", "drawnAt").Result()
	if err != nil {
		return nil, time.Time{}, fail("read draw", err)
	}
	if m[0] == nil {
		return nil, time.Time{}, queue.NoRoomError(concertID)
	}
	if m[1] != "1" {
		return nil, time.Time{}, nil
	}
	atMs, _ := m[2].(string)
	ms, err := strconv.ParseInt(atMs, 10, 64)
	if err != nil {
		return nil, time.Time{}, malformed("draw", atMs)
	}
	at := time.UnixMilli(ms).UTC()
	ids := []string{}
	for {
		page, err := s.client.ZRange(ctx, k[kDraw], int64(len(ids)), int64(len(ids)+drawPage-1)).Result()
		if err != nil {
			return nil, time.Time{}, fail("read draw", err)
		}
		ids = append(ids, page...)
		if len(page) < drawPage {
			return ids, at, nil
		}
	}
}

// Admissions returns a page of the admission log. Errors: NOT_FOUND.
func (s *QueueStore) Admissions(ctx context.Context, concertID string, from int64, limit int) ([]queue.AdmissionRecord, error) {
	k := s.roomKeys(concertID)
	limit = min(limit, queue.MaxAdmissionsPage)
	res, err := admissionsScript.Run(ctx, s.client, []string{k[kMeta], k[kLog]}, from, limit).StringSlice()
	if err != nil {
		return nil, fail("read admission log", err)
	}
	if len(res) == 0 {
		return nil, malformed("admissions", "")
	}
	if res[0] == "F" {
		return nil, queue.NoRoomError(concertID)
	}
	n, err := strconv.ParseInt(res[0], 10, 64)
	if err != nil {
		return nil, malformed("admissions", res[0])
	}
	if len(res) == 1 {
		return nil, nil
	}
	out := make([]queue.AdmissionRecord, len(res)-1)
	for i, e := range res[1:] {
		f := fields{s: e}
		r := queue.AdmissionRecord{N: n + int64(i), Seq: f.int()}
		r.At = time.UnixMilli(f.int()).UTC()
		r.Prequeue = f.next() == "1"
		r.UserID = f.s
		if f.bad || r.UserID == "" {
			return nil, malformed("admissions", e)
		}
		out[i] = r
	}
	return out, nil
}

// Rooms lists, sorted, the rooms that have places or sessions. It takes two
// round trips: the index, then one pipeline over the indexed rooms.
func (s *QueueStore) Rooms(ctx context.Context) ([]string, error) {
	ids, err := s.client.SMembers(ctx, s.index).Result()
	if err != nil {
		return nil, fail("list waiting rooms", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make([]*goredis.IntCmd, len(ids))
	_, err = s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			k := s.roomKeys(id)
			cmds[i] = p.Exists(ctx, k[kWaiting], k[kActive])
		}
		return nil
	})
	if err != nil {
		return nil, fail("list waiting rooms", err)
	}
	live := ids[:0]
	for i, id := range ids {
		if cmds[i].Val() > 0 {
			live = append(live, id)
		}
	}
	slices.Sort(live)
	return live, nil
}

// parsePlace reads state|seq|position|sessionEndMs|waiting|sessionEndsAtMs
// into st.
func parsePlace(f *fields, st *queue.Status, concertID, userID string) {
	state := f.next()
	st.Ticket = queue.Ticket{ConcertID: concertID, UserID: userID, Seq: f.int()}
	st.Position = f.int()
	end := f.int()
	st.Waiting = f.int()
	endsAt := f.int()
	switch state {
	case "P":
		st.State, st.Prequeued = queue.Prequeue, st.Waiting
	case "W":
		st.State = queue.Waiting
	case "A":
		st.State = queue.Admitted
		st.SessionExpiresAt = time.UnixMilli(end).UTC()
		if endsAt > 0 {
			st.SessionEndsAt = time.UnixMilli(endsAt).UTC()
		}
	case "E":
		st.State = queue.Expired
	case "S":
		st.State = queue.SoldOut
	default:
		f.bad = true
	}
}

// parseRoom reads
// rate|abandonRate|strategy|admitPerSecond|maxActive|sessionSeconds|idleSeconds|opensAtMs|maxSessionSeconds
// into st.
func parseRoom(f *fields, concertID string, st *queue.Status) {
	st.Rate = f.float()
	st.AbandonRate = f.float()
	st.Room.ConcertID = concertID
	st.Room.Settings.Strategy = strategy(f.next())
	st.Room.Settings.AdmitPerSecond = f.float()
	st.Room.Settings.MaxActive = f.int()
	st.Room.Settings.SessionSeconds = int(f.int())
	st.Room.Settings.IdleSeconds = int(f.int())
	st.Room.OpensAt = time.UnixMilli(f.int()).UTC()
	st.Room.Settings.MaxSessionSeconds = int(f.int())
}

func strategy(s string) queue.Strategy {
	switch s {
	case string(queue.Rate):
		return queue.Rate
	case string(queue.MaxActive):
		return queue.MaxActive
	case string(queue.RateAndMaxActive):
		return queue.RateAndMaxActive
	}
	return queue.Strategy(strings.Clone(s))
}

// fields reads |-separated fields without allocating.
type fields struct {
	s   string
	bad bool
}

func (f *fields) next() string {
	v, rest, found := strings.Cut(f.s, "|")
	f.s = rest
	if !found {
		f.s = ""
	}
	return v
}

func (f *fields) int() int64 {
	v, err := strconv.ParseInt(f.next(), 10, 64)
	f.bad = f.bad || err != nil
	return v
}

func (f *fields) float() float64 {
	v, err := strconv.ParseFloat(f.next(), 64)
	f.bad = f.bad || err != nil
	return v
}

func malformed(script, res string) error {
	return errors.New("redis: malformed " + script + " reply " + strconv.Quote(res))
}

// RoomBytes returns the bytes a room's keys take in the Redis of client,
// whatever their prefix: the sum of MEMORY USAGE (every element counted)
// over the keys of the room's hash tag. It scans the key space, so it is
// for measurements, not for serving.
func RoomBytes(ctx context.Context, client goredis.UniversalClient, concertID string) (int64, error) {
	var total atomic.Int64
	scan := func(ctx context.Context, c goredis.UniversalClient) error {
		iter := c.Scan(ctx, 0, "*wr:{"+concertID+"}:*", 1000).Iterator()
		for iter.Next(ctx) {
			n, err := c.MemoryUsage(ctx, iter.Val(), 0).Result()
			if err != nil && !errors.Is(err, goredis.Nil) {
				return err
			}
			total.Add(n)
		}
		return iter.Err()
	}
	var err error
	if cc, ok := client.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, client)
	}
	if err != nil {
		return 0, fail("measure waiting room", err)
	}
	return total.Load(), nil
}
