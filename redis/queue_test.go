package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/storetest"
)

func testURL() string {
	if u := os.Getenv("BOXOFFICE_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// testClient connects to the test Redis, skipping the test when it is
// unreachable, unless CI=true.
func testClient(tb testing.TB) goredis.UniversalClient {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Open(ctx, testURL())
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("redis at BOXOFFICE_TEST_REDIS_URL: %v", err)
		}
		tb.Skipf("redis not reachable (set BOXOFFICE_TEST_REDIS_URL): %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// testPrefix returns a fresh key prefix whose keys are deleted when tb ends.
func testPrefix(tb testing.TB, c goredis.UniversalClient) string {
	tb.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	prefix := "boxoffice-test:" + hex.EncodeToString(b) + ":"
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("scan test keys: %v", err)
		}
		for _, k := range keys {
			if err := c.Del(ctx, k).Err(); err != nil {
				tb.Errorf("delete test key %s: %v", k, err)
			}
		}
	})
	return prefix
}

func TestQueueStore(t *testing.T) {
	storetest.RunQueueStore(t, func(t *testing.T) queue.Store {
		c := testClient(t)
		return NewQueueStore(c, testPrefix(t, c))
	})
}

func TestQueueStoreShared(t *testing.T) {
	storetest.RunQueueStoreShared(t, func(t *testing.T, n int) []queue.Store {
		// One client per instance, as separate processes would have.
		first := testClient(t)
		prefix := testPrefix(t, first)
		stores := []queue.Store{NewQueueStore(first, prefix)}
		for len(stores) < n {
			stores = append(stores, NewQueueStore(testClient(t), prefix))
		}
		return stores
	})
}

// crc16 is the CRC16-CCITT (XMODEM) that Redis Cluster uses for key slots.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// slot is the cluster slot of key, honouring a {hash tag}.
func slot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return crc16(key) % 16384
}

// scriptKeys records the keys of every script run through a client.
type scriptKeys struct {
	mu   sync.Mutex
	runs [][]string
}

func (h *scriptKeys) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *scriptKeys) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		args := cmd.Args()
		if name := strings.ToLower(cmd.Name()); (name == "evalsha" || name == "eval") && len(args) >= 3 {
			n := 0
			fmt.Sscan(fmt.Sprint(args[2]), &n)
			keys := make([]string, 0, n)
			for _, a := range args[3 : 3+n] {
				keys = append(keys, fmt.Sprint(a))
			}
			h.mu.Lock()
			h.runs = append(h.runs, keys)
			h.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

func (h *scriptKeys) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

func TestRoomKeysShareOneSlot(t *testing.T) {
	if got := crc16("123456789"); got != 0x31C3 {
		t.Fatalf("crc16(123456789): got %#x, want 0x31c3", got)
	}
	ctx := t.Context()
	c := testClient(t)
	hook := &scriptKeys{}
	c.AddHook(hook)
	prefix := testPrefix(t, c)
	s := NewQueueStore(c, prefix)

	const cid = "01970000-0000-7000-8000-0000000000aa"
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	settings := queue.Settings{Strategy: queue.MaxActive, MaxActive: 10, SessionSeconds: 600, IdleSeconds: 60}
	room := queue.Room{ConcertID: cid, OpensAt: now.Add(time.Second), Settings: settings, Seed: []byte("seed")}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	snap := queue.Snapshot{Seq: 1, Places: []queue.Place{{UserID: "z", Seq: 1, Key: queue.DrawSpan + 1, JoinedAt: now}}}
	must(s.Restore(ctx, room, func(context.Context) (queue.Snapshot, error) { return snap, nil }, "owner", time.Minute, now))
	must(s.Configure(ctx, room))
	a, _, err := joinOne(ctx, s, room, "a", now) // a prequeue place: draw set
	must(err)
	b, _, err := joinOne(ctx, s, room, "b", now)
	must(err)
	_, _, err = joinOne(ctx, s, room, "c", now)
	must(err)
	must(s.SetSupply(ctx, cid, queue.Supply{Available: true}, now))
	_, err = s.Admit(ctx, cid, "owner", time.Second, now.Add(time.Second)) // draw, admission, log, waits
	must(err)
	_, _, err = joinOne(ctx, s, room, "d", now.Add(time.Second)) // keeps waiting and seen
	must(err)
	_, err = s.Status(ctx, b.Ticket, now)
	must(err)
	_, err = s.Statuses(ctx, cid, []queue.Ticket{a.Ticket, b.Ticket}, now)
	must(err)
	_, err = s.Use(ctx, a.Ticket, now)
	must(err)
	_, err = s.Stats(ctx, cid, now)
	must(err)
	_, err = s.Admissions(ctx, cid, 1, 10)
	must(err)
	must(s.Leave(ctx, b.Ticket.ConcertID, []queue.Ticket{b.Ticket}, now))
	_, err = s.Rooms(ctx)
	must(err)
	_, _, err = s.Draw(ctx, cid)
	must(err)

	want := slot("{" + cid + "}")
	if len(hook.runs) != 16 {
		t.Errorf("script runs: got %d, want 16", len(hook.runs))
	}
	for _, keys := range hook.runs {
		for _, k := range keys {
			if got := slot(k); got != want || !strings.Contains(k, "{"+cid+"}") {
				t.Errorf("script key %s: got slot %d, want %d with hash tag {%s}", k, got, want, cid)
			}
		}
	}
	stored, err := c.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	roomKeys := 0
	for _, k := range stored {
		if k == prefix+"wr:rooms" {
			continue
		}
		roomKeys++
		if got := slot(k); got != want {
			t.Errorf("stored key %s: got slot %d, want %d", k, got, want)
		}
	}
	if roomKeys != 9 {
		t.Errorf("stored room keys: got %v, want meta, waiting, seen, active, users, draw, waits, lease and log", stored)
	}
}

func TestUnavailable(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	s := NewQueueStore(c, "boxoffice-test:")
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	room := queue.Room{ConcertID: "c", Settings: queue.DefaultSettings()}
	tk := queue.Ticket{ConcertID: "c", UserID: "u", Seq: 1}
	_, _, joinErr := joinOne(ctx, s, room, "u", now)
	_, statusErr := s.Status(ctx, tk, now)
	_, useErr := s.Use(ctx, tk, now)
	_, admitErr := s.Admit(ctx, "c", "o", time.Second, now)
	_, statsErr := s.Stats(ctx, "c", now)
	_, roomsErr := s.Rooms(ctx)
	_, statusesErr := s.Statuses(ctx, "c", []queue.Ticket{tk}, now)
	_, _, drawErr := s.Draw(ctx, "c")
	_, admissionsErr := s.Admissions(ctx, "c", 1, 10)
	for name, err := range map[string]error{
		"Configure": s.Configure(ctx, room), "Join": joinErr, "Status": statusErr, "Use": useErr,
		"Leave": s.Leave(ctx, tk.ConcertID, []queue.Ticket{tk}, now), "Admit": admitErr, "Stats": statsErr, "Rooms": roomsErr,
		"Statuses": statusesErr, "SetSupply": s.SetSupply(ctx, "c", queue.Supply{}, now), "Draw": drawErr,
		"Admissions": admissionsErr,
	} {
		if got := boxoffice.ErrorCode(err); got != boxoffice.CodeUnavailable {
			t.Errorf("%s: got %v (code %q), want UNAVAILABLE", name, err, got)
		}
	}
}

func TestOpen(t *testing.T) {
	t.Run("ErrUnavailable", func(t *testing.T) {
		for _, u := range []string{"redis://127.0.0.1:1/0?max_retries=-1", "redis://127.0.0.1:1?addr=127.0.0.1:2&max_retries=-1&dialer_retries=1"} {
			c, err := Open(t.Context(), u)
			if c != nil || boxoffice.ErrorCode(err) != boxoffice.CodeUnavailable {
				t.Errorf("Open(%s): got %v, %v, want UNAVAILABLE", u, c, err)
			}
		}
	})
	t.Run("Cluster", func(t *testing.T) {
		c, err := newClient("redis://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cc, ok := c.(*goredis.ClusterClient)
		if !ok {
			t.Fatalf("got %T, want *redis.ClusterClient", c)
		}
		if got := cc.Options().Addrs; len(got) != 3 {
			t.Errorf("cluster addresses: got %v, want 3", got)
		}
	})
	t.Run("Single", func(t *testing.T) {
		c, err := newClient("rediss://:pw@127.0.0.1:6380/2")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, ok := c.(*goredis.Client); !ok {
			t.Fatalf("got %T, want *redis.Client", c)
		}
	})
	t.Run("ErrMalformedURL", func(t *testing.T) {
		for _, u := range []string{"redis://user:secret@[::1", "http://127.0.0.1:6379"} {
			_, err := newClient(u)
			if err == nil || strings.Contains(err.Error(), "secret") {
				t.Errorf("newClient(%q): got %v, want an error that does not show the password", u, err)
			}
		}
	})
}

func benchStore(b *testing.B) queue.Store {
	c := testClient(b)
	return NewQueueStore(c, testPrefix(b, c))
}

func BenchmarkJoin(b *testing.B)   { storetest.BenchmarkQueueJoin(b, benchStore(b)) }
func BenchmarkStatus(b *testing.B) { storetest.BenchmarkQueueStatus(b, benchStore(b)) }
func BenchmarkUse(b *testing.B)    { storetest.BenchmarkQueueUse(b, benchStore(b)) }

func TestQueueStoreLimits(t *testing.T) {
	storetest.RunQueueStoreLimits(t, func(t *testing.T) queue.Store {
		c := testClient(t)
		s := NewQueueStore(c, testPrefix(t, c))
		s.sweepBatch, s.admitLimit, s.logLen = 2, 3, 4
		return s
	})
}

// TestServerTime checks that a store on Redis's clock decides every
// instant on it, whatever now its callers pass: callers here are hours
// off, in both directions.
func TestServerTime(t *testing.T) {
	ctx := t.Context()
	c := testClient(t)
	s := NewQueueStore(c, testPrefix(t, c))
	s.UseServerTime()
	empty := func(context.Context) (queue.Snapshot, error) { return queue.Snapshot{}, nil }
	ahead, behind := time.Now().Add(2*time.Hour), time.Now().Add(-2*time.Hour)
	newRoom := func(opensIn time.Duration, st queue.Settings) queue.Room {
		room := queue.Room{ConcertID: boxoffice.NewID(), OpensAt: time.Now().Add(opensIn), Settings: st, Seed: []byte("seed")}
		if err := s.Restore(ctx, room, empty, "test", time.Minute, behind); err != nil {
			t.Fatal(err)
		}
		return room
	}
	join := func(room queue.Room, user string, now time.Time) queue.Status {
		t.Helper()
		st, _, err := joinOne(ctx, s, room, user, now)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	t.Run("OpeningBoundary", func(t *testing.T) {
		closed := newRoom(time.Hour, queue.DefaultSettings())
		if st := join(closed, "early", ahead); st.State != queue.Prequeue || st.Key >= queue.DrawSpan {
			t.Errorf("join before the opening by a caller past it: got %s key %d, want PREQUEUE in the draw", st.State, st.Key)
		}
		open := newRoom(-time.Minute, queue.DefaultSettings())
		if st := join(open, "late", behind); st.State != queue.Waiting || st.Key < queue.DrawSpan {
			t.Errorf("join after the opening by a caller before it: got %s key %d, want WAITING first come, first served", st.State, st.Key)
		}
	})

	t.Run("SessionEnd", func(t *testing.T) {
		room := newRoom(-time.Minute, queue.Settings{Strategy: queue.Rate, AdmitPerSecond: 1, SessionSeconds: 600, IdleSeconds: 60})
		tk := join(room, "fan", ahead).Ticket
		a, err := s.Admit(ctx, room.ConcertID, "leader", time.Second, behind)
		if err != nil || a.Admitted != 1 {
			t.Fatalf("admit: got %+v, %v, want 1 admitted", a, err)
		}
		if d := a.At.Sub(time.Now()); d < -time.Second || d > time.Second {
			t.Errorf("admission instant: got %v, want Redis's now, about %v", a.At, time.Now())
		}
		st, err := s.Use(ctx, tk, ahead.Add(24*time.Hour))
		if err != nil {
			t.Fatalf("Use by a caller a day ahead: %v, want the session alive", err)
		}
		if d := st.SessionExpiresAt.Sub(time.Now().Add(600 * time.Second)); d < -time.Second || d > time.Second {
			t.Errorf("session end: got %v, want Redis's now + 600 s", st.SessionExpiresAt)
		}
	})

	t.Run("SessionAbsoluteEnd", func(t *testing.T) {
		st := queue.Settings{Strategy: queue.Rate, AdmitPerSecond: 1, SessionSeconds: 600, IdleSeconds: 60, MaxSessionSeconds: 300}
		room := newRoom(-time.Minute, st)
		tk := join(room, "fan", behind).Ticket
		if a, err := s.Admit(ctx, room.ConcertID, "leader", time.Second, behind); err != nil || a.Admitted != 1 {
			t.Fatalf("admit: got %+v, %v, want 1 admitted", a, err)
		}
		u, err := s.Use(ctx, tk, ahead.Add(24*time.Hour))
		if err != nil {
			t.Fatalf("Use by a caller a day ahead: %v, want the session alive", err)
		}
		if d := u.SessionEndsAt.Sub(time.Now().Add(300 * time.Second)); d < -time.Second || d > time.Second {
			t.Errorf("absolute end: got %v, want Redis's now + 300 s", u.SessionEndsAt)
		}
		if !u.SessionExpiresAt.Equal(u.SessionEndsAt) {
			t.Errorf("expiry: got %v, want the earlier absolute end %v", u.SessionExpiresAt, u.SessionEndsAt)
		}
	})

	t.Run("IdleDrop", func(t *testing.T) {
		room := newRoom(-time.Minute, queue.Settings{Strategy: queue.MaxActive, MaxActive: 1, SessionSeconds: 600, IdleSeconds: 1})
		tk := join(room, "fan", ahead).Ticket
		if st, err := s.Status(ctx, tk, ahead.Add(time.Hour)); err != nil || st.State != queue.Waiting {
			t.Errorf("status at once by a caller hours ahead: got %s, %v, want WAITING", st.State, err)
		}
		time.Sleep(1100 * time.Millisecond)
		if st, err := s.Status(ctx, tk, behind); err != nil || st.State != queue.Expired {
			t.Errorf("status after the idle limit by a caller hours behind: got %s, %v, want EXPIRED", st.State, err)
		}
	})

	t.Run("AdmissionPeriod", func(t *testing.T) {
		room := newRoom(-time.Minute, queue.Settings{Strategy: queue.Rate, AdmitPerSecond: 2, SessionSeconds: 600, IdleSeconds: 60})
		for i := range 10 {
			join(room, fmt.Sprintf("fan-%d", i), behind)
		}
		start := time.Now()
		var admitted int64
		for i := range 5 { // callers who think an hour passes between steps
			a, err := s.Admit(ctx, room.ConcertID, "leader", time.Second, ahead.Add(time.Duration(i)*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			admitted += a.Admitted
		}
		if time.Since(start) < time.Second && admitted > 2 {
			t.Errorf("admitted within one second of Redis's clock: got %d, want at most 2", admitted)
		}
	})
}

// joinOne is Join of one user.
func joinOne(ctx context.Context, s *QueueStore, room queue.Room, userID string, now time.Time) (queue.Status, bool, error) {
	js, err := s.Join(ctx, room, []string{userID}, now)
	if err != nil {
		return queue.Status{}, false, err
	}
	return js[0].Status, js[0].Created, js[0].Err
}

// TestSessionEndOfOlderRoom checks a room and a session made before the
// absolute end existed: a meta hash without maxs has no end; once settings
// with one arrive, a session admitted before gets its end from its next use.
func TestSessionEndOfOlderRoom(t *testing.T) {
	ctx := t.Context()
	c := testClient(t)
	s := NewQueueStore(c, testPrefix(t, c))
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	room := queue.Room{ConcertID: boxoffice.NewID(), OpensAt: now.Add(-time.Hour), Seed: []byte("seed"),
		Settings: queue.Settings{Strategy: queue.Rate, AdmitPerSecond: 1, SessionSeconds: 600, IdleSeconds: 60, MaxSessionSeconds: 300}}
	empty := func(context.Context) (queue.Snapshot, error) { return queue.Snapshot{}, nil }
	if err := s.Restore(ctx, room, empty, "test", time.Minute, now); err != nil {
		t.Fatal(err)
	}
	meta := s.roomKeys(room.ConcertID)[kMeta]
	if err := c.HDel(ctx, meta, "maxs").Err(); err != nil {
		t.Fatal(err)
	}
	st, _, err := joinOne(ctx, s, room, "fan", now)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := s.Admit(ctx, room.ConcertID, "leader", time.Second, now); err != nil || a.Admitted != 1 {
		t.Fatalf("admit: got %+v, %v, want 1 admitted", a, err)
	}
	u, err := s.Use(ctx, st.Ticket, now.Add(400*time.Second))
	if err != nil || !u.SessionEndsAt.IsZero() || !u.SessionExpiresAt.Equal(now.Add(1000*time.Second)) {
		t.Fatalf("Use without an end: got %+v, %v, want no end and expiry at +1000 s", u, err)
	}
	room.Version = 1
	if err := s.Configure(ctx, room); err != nil {
		t.Fatal(err)
	}
	u, err = s.Use(ctx, st.Ticket, now.Add(500*time.Second))
	if err != nil || !u.SessionEndsAt.Equal(now.Add(800*time.Second)) || !u.SessionExpiresAt.Equal(now.Add(800*time.Second)) {
		t.Fatalf("first use with an end: got %+v, %v, want end and expiry at +800 s", u, err)
	}
	if st, err := s.Status(ctx, st.Ticket, now.Add(700*time.Second)); err != nil || st.State != queue.Admitted || !st.SessionEndsAt.Equal(now.Add(800*time.Second)) {
		t.Errorf("status: got %+v, %v, want admitted, end at +800 s", st, err)
	}
	if _, err := s.Use(ctx, st.Ticket, now.Add(800*time.Second)); boxoffice.ErrorCode(err) != boxoffice.CodeQueueTokenExpired {
		t.Errorf("use at the end: got %v, want QUEUE_TOKEN_EXPIRED", err)
	}
}

// TestRoomBytes checks that RoomBytes sums MEMORY USAGE over one room's
// keys, whatever their prefix, and no other room's.
func TestRoomBytes(t *testing.T) {
	c := testClient(t)
	s := NewQueueStore(c, testPrefix(t, c))
	ctx := t.Context()
	rooms := []string{"01970000-0000-7000-8000-00000000b001", "01970000-0000-7000-8000-00000000b002"}
	for i, id := range rooms {
		room := queue.Room{ConcertID: id, OpensAt: time.Unix(0, 0), Settings: queue.Settings{Strategy: queue.Rate,
			AdmitPerSecond: 1, SessionSeconds: 60, IdleSeconds: 60}}
		err := s.Restore(ctx, room, func(context.Context) (queue.Snapshot, error) { return queue.Snapshot{}, nil }, "t", time.Second, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		users := make([]string, 10*(i+1))
		for j := range users {
			users[j] = fmt.Sprintf("fan-%d", j)
		}
		if _, err := s.Join(ctx, room, users, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	var want int64
	for _, k := range s.roomKeys(rooms[0]) {
		n, err := c.MemoryUsage(ctx, k, 0).Result()
		if err != nil && err != goredis.Nil {
			t.Fatal(err)
		}
		want += n
	}
	got, err := RoomBytes(ctx, c, rooms[0])
	if err != nil {
		t.Fatal(err)
	}
	if got != want || got == 0 {
		t.Errorf("RoomBytes: got %d, want %d (not 0)", got, want)
	}
}
