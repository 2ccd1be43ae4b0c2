package redis

import (
	"context"
	_ "embed"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// Bounds of one admission step, so that no script blocks Redis for long: it
// removes at most sweepBatch idle places and, separately, sweepBatch lapsed
// sessions, oldest first, and admits at most admitLimit fans. What is left
// goes in later steps.
const (
	sweepBatch = 1000
	admitLimit = 10000
)

var (
	//go:embed lua/room.lua
	roomLua string
	//go:embed lua/join.lua
	joinLua string
	//go:embed lua/status.lua
	statusLua string
	//go:embed lua/use.lua
	useLua string
	//go:embed lua/leave.lua
	leaveLua string
	//go:embed lua/admit.lua
	admitLua string
	//go:embed lua/stats.lua
	statsLua string

	joinScript   = goredis.NewScript(roomLua + joinLua)
	statusScript = goredis.NewScript(roomLua + statusLua)
	useScript    = goredis.NewScript(roomLua + useLua)
	leaveScript  = goredis.NewScript(leaveLua)
	admitScript  = goredis.NewScript(admitLua)
	statsScript  = goredis.NewScript(statsLua)
)

// QueueStore is a queue.Store in Redis, shared by any number of instances.
//
// A room's keys are <prefix>wr:{<concertID>}:meta (hash: settings, opening,
// seq counter, bucket, measured rate, totals), :waiting (sorted set: user by
// seq), :seen (user by last heartbeat, ms), :active (user by session end,
// ms), :users (hash: user → seq of the live ticket) and :lease (hash: owner,
// until). The hash tag puts them in one cluster slot. <prefix>wr:rooms, a
// set, indexes the rooms; no script touches it.
//
// Order is arrival at Redis: seqs come from a counter inside the join
// script. Times are kept to the millisecond.
type QueueStore struct {
	client goredis.UniversalClient
	prefix string
	index  string

	keys   sync.Map // concert ID → []string, see roomKeys
	cached atomic.Int64

	sweepBatch, admitLimit int
}

var _ queue.Store = (*QueueStore)(nil)

// NewQueueStore returns a store keeping its keys under prefix, which must
// not contain braces.
func NewQueueStore(client goredis.UniversalClient, prefix string) *QueueStore {
	return &QueueStore{client: client, prefix: prefix, index: prefix + "wr:rooms", sweepBatch: sweepBatch, admitLimit: admitLimit}
}

// maxCachedRooms bounds the cache of key names.
const maxCachedRooms = 4096

// roomKeys returns the room's keys in the order every script declares
// them: meta, waiting, seen, active, users, lease.
func (s *QueueStore) roomKeys(concertID string) []string {
	if v, ok := s.keys.Load(concertID); ok {
		return v.([]string)
	}
	base := s.prefix + "wr:{" + concertID + "}:"
	k := []string{base + "meta", base + "waiting", base + "seen", base + "active", base + "users", base + "lease"}
	if s.cached.Load() < maxCachedRooms {
		if _, loaded := s.keys.LoadOrStore(concertID, k); !loaded {
			s.cached.Add(1)
		}
	}
	return k
}

// Configure sets a room's settings and opening, creating the room if needed.
func (s *QueueStore) Configure(ctx context.Context, room queue.Room) error {
	st := room.Settings
	err := s.client.HSet(ctx, s.roomKeys(room.ConcertID)[0],
		"st", string(st.Strategy), "aps", st.AdmitPerSecond, "max", st.MaxActive,
		"ses", st.SessionSeconds, "idle", st.IdleSeconds, "open", room.OpensAt.UnixMilli()).Err()
	if err != nil {
		return fail("configure waiting room", err)
	}
	return nil
}

// Join gives userID a place at the back of the room or returns the live
// place or session the user has.
func (s *QueueStore) Join(ctx context.Context, room queue.Room, userID string, now time.Time) (queue.Status, bool, error) {
	k := s.roomKeys(room.ConcertID)
	st := room.Settings
	res, err := joinScript.Run(ctx, s.client, k[:5], userID, now.UnixMilli(),
		string(st.Strategy), st.AdmitPerSecond, st.MaxActive, st.SessionSeconds, st.IdleSeconds, room.OpensAt.UnixMilli()).Text()
	if err != nil {
		return queue.Status{}, false, fail("join waiting room", err)
	}
	status, rest, ok := parseStanding(room.ConcertID, userID, res)
	if !ok || len(rest) != 3 {
		return queue.Status{}, false, malformed("join", res)
	}
	if rest[2] == '0' {
		// Index the room, then mark it indexed; until the mark is set every
		// join repeats this.
		if err := s.client.SAdd(ctx, s.index, room.ConcertID).Err(); err != nil {
			return queue.Status{}, false, fail("index waiting room", err)
		}
		if err := s.client.HSet(ctx, k[0], "ix", "1").Err(); err != nil {
			return queue.Status{}, false, fail("index waiting room", err)
		}
	}
	return status, rest[0] == '1', nil
}

// Status returns t's standing and records a heartbeat for a waiting place.
// Errors: NOT_FOUND for an unknown room.
func (s *QueueStore) Status(ctx context.Context, t queue.Ticket, now time.Time) (queue.Status, error) {
	res, err := statusScript.Run(ctx, s.client, s.roomKeys(t.ConcertID)[:5], t.UserID, t.Seq, now.UnixMilli()).Text()
	if err != nil {
		return queue.Status{}, fail("queue status", err)
	}
	if res == "F" {
		return queue.Status{}, notFound(t.ConcertID)
	}
	st, rest, ok := parseStanding(t.ConcertID, t.UserID, res)
	if !ok || rest != "" {
		return queue.Status{}, malformed("status", res)
	}
	return st, nil
}

// Use extends an admitted session to now+SessionSeconds.
// Errors: QUEUE_TOKEN_EXPIRED, NOT_ADMITTED with Position.
func (s *QueueStore) Use(ctx context.Context, t queue.Ticket, now time.Time) (queue.Status, error) {
	res, err := useScript.Run(ctx, s.client, s.roomKeys(t.ConcertID)[:5], t.UserID, t.Seq, now.UnixMilli()).Text()
	if err != nil {
		return queue.Status{}, fail("use queue session", err)
	}
	switch {
	case res == "X":
		return queue.Status{}, boxoffice.Errorf(boxoffice.CodeQueueTokenExpired, "the queue session has ended")
	case strings.HasPrefix(res, "N|"):
		pos, err := strconv.ParseInt(res[2:], 10, 64)
		if err != nil {
			return queue.Status{}, malformed("use", res)
		}
		return queue.Status{}, &boxoffice.Error{Code: boxoffice.CodeNotAdmitted, Message: "still waiting in the queue", Position: pos}
	}
	st, rest, ok := parseStanding(t.ConcertID, t.UserID, res)
	if !ok || rest != "" {
		return queue.Status{}, malformed("use", res)
	}
	return st, nil
}

// Leave ends t's place or session; an ended ticket is left alone.
func (s *QueueStore) Leave(ctx context.Context, t queue.Ticket, _ time.Time) error {
	err := leaveScript.Run(ctx, s.client, s.roomKeys(t.ConcertID)[:5], t.UserID, t.Seq).Err()
	if err != nil {
		return fail("leave waiting room", err)
	}
	return nil
}

// Admit runs one admission step if owner holds or takes the room's lease.
// Errors: NOT_FOUND for an unknown room.
func (s *QueueStore) Admit(ctx context.Context, concertID, owner string, lease time.Duration, now time.Time) (queue.Admission, error) {
	res, err := admitScript.Run(ctx, s.client, s.roomKeys(concertID), owner, lease.Milliseconds(), now.UnixMilli(),
		s.sweepBatch, queue.RateHalfLife.Seconds(), s.admitLimit).Text()
	if err != nil {
		return queue.Admission{}, fail("admission step", err)
	}
	switch res {
	case "F":
		return queue.Admission{}, notFound(concertID)
	case "0":
		return queue.Admission{}, nil
	}
	f := fields{s: res}
	a := queue.Admission{Leader: f.next() == "1"}
	a.Admitted, a.Dropped, a.Ended = f.int(), f.int(), f.int()
	if !a.Leader || f.bad || f.s != "" {
		return queue.Admission{}, malformed("admit", res)
	}
	return a, nil
}

// Stats describes the room at now. Errors: NOT_FOUND for an unknown room.
func (s *QueueStore) Stats(ctx context.Context, concertID string, now time.Time) (queue.Stats, error) {
	res, err := statsScript.Run(ctx, s.client, s.roomKeys(concertID)[:4], now.UnixMilli()).Text()
	if err != nil {
		return queue.Stats{}, fail("waiting room stats", err)
	}
	if res == "F" {
		return queue.Stats{}, notFound(concertID)
	}
	f := fields{s: res}
	st := queue.Stats{Waiting: f.int(), Active: f.int(), AdmittedTotal: f.int(), DroppedTotal: f.int(), Rate: f.float()}
	if f.bad || f.s != "" {
		return queue.Stats{}, malformed("stats", res)
	}
	return st, nil
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
			cmds[i] = p.Exists(ctx, k[1], k[3])
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

// parseStanding reads a standing reply (see lua/room.lua) and returns what
// follows it.
func parseStanding(concertID, userID, res string) (st queue.Status, rest string, ok bool) {
	f := fields{s: res}
	state := f.next()
	st.Ticket = queue.Ticket{ConcertID: concertID, UserID: userID, Seq: f.int()}
	st.Position = f.int()
	end := f.int()
	st.Rate = f.float()
	st.Room.ConcertID = concertID
	st.Room.Settings.Strategy = strategy(f.next())
	st.Room.Settings.AdmitPerSecond = f.float()
	st.Room.Settings.MaxActive = f.int()
	st.Room.Settings.SessionSeconds = int(f.int())
	st.Room.Settings.IdleSeconds = int(f.int())
	st.Room.OpensAt = time.UnixMilli(f.int()).UTC()
	switch state {
	case "P":
		st.State = queue.Prequeue
	case "W":
		st.State = queue.Waiting
	case "A":
		st.State = queue.Admitted
		st.SessionExpiresAt = time.UnixMilli(end).UTC()
	case "E":
		st.State = queue.Expired
	default:
		return queue.Status{}, "", false
	}
	return st, f.s, !f.bad
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

func notFound(concertID string) error {
	return boxoffice.Errorf(boxoffice.CodeNotFound, "concert %s has no waiting room", concertID)
}

func malformed(script, res string) error {
	return errors.New("redis: malformed " + script + " reply " + strconv.Quote(res))
}
