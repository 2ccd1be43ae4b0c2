package redis

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/internal/testserver"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/storetest"
)

// TestCluster runs the queue contract suites and the broadcast on a real
// Redis Cluster (three masters, one replica each), with the suites' rooms
// moved so that every master serves some of them, then kills the master of
// a busy room.
func TestCluster(t *testing.T) {
	rc := testserver.StartRedisCluster(t)
	ctx := t.Context()
	masters, err := rc.Masters(ctx)
	if err != nil || len(masters) != 3 {
		t.Fatalf("masters: got %v, %v, want 3", masters, err)
	}
	open := func(t *testing.T) goredis.UniversalClient {
		t.Helper()
		c, err := Open(ctx, rc.URL())
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.(*goredis.ClusterClient); !ok {
			t.Fatalf("Open(%s): got %T, want a cluster client", rc.URL(), c)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	prefix := func() string { return "cluster-test:" + testserver.RandomHex(8) + ":" }

	// Each suite runs with its rooms on chosen masters (the shared and the
	// limits suites use only the first room); together they use all three. Moving a room's slot between suites also sends the
	// clients MOVED answers for it.
	suites := []struct {
		name  string
		on    []int // master of each of the first storetest.QueueRooms
		suite func(t *testing.T)
	}{
		{"QueueStore", []int{0, 1}, func(t *testing.T) {
			storetest.RunQueueStore(t, func(t *testing.T) queue.Store { return NewQueueStore(open(t), prefix()) })
		}},
		{"QueueStoreShared", []int{2}, func(t *testing.T) {
			storetest.RunQueueStoreShared(t, func(t *testing.T, n int) []queue.Store {
				p := prefix()
				stores := make([]queue.Store, n)
				for i := range stores {
					stores[i] = NewQueueStore(open(t), p)
				}
				return stores
			})
		}},
		{"QueueStoreLimits", []int{1}, func(t *testing.T) {
			storetest.RunQueueStoreLimits(t, func(t *testing.T) queue.Store {
				s := NewQueueStore(open(t), prefix())
				s.sweepBatch, s.admitLimit, s.logLen = 2, 3, 4
				return s
			})
		}},
	}
	for _, sc := range suites {
		t.Run(sc.name, func(t *testing.T) {
			before := map[string]int64{}
			for i, room := range storetest.QueueRooms[:len(sc.on)] {
				m := masters[sc.on[i]]
				if err := rc.MoveSlot(ctx, "{"+room+"}", m); err != nil {
					t.Fatalf("move room %s to %s: %v", room, m, err)
				}
				before[m] = scriptCalls(t, m)
			}
			sc.suite(t)
			for i, room := range storetest.QueueRooms[:len(sc.on)] {
				m := masters[sc.on[i]]
				if got := scriptCalls(t, m); got <= before[m] {
					t.Errorf("room %s: master %s ran no script during the suite, want its room's", room, m)
				}
			}
		})
	}

	t.Run("Broadcast", func(t *testing.T) {
		testBroadcast(t, func(t *testing.T) goredis.UniversalClient { return open(t) }, prefix()+"streams")
	})

	t.Run("Failover", func(t *testing.T) { testClusterFailover(t, rc, open) })
}

// scriptCalls returns how many scripts the node at addr has run (EVAL and
// EVALSHA).
func scriptCalls(t *testing.T, addr string) int64 {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	info, err := c.Info(t.Context(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, line := range strings.Split(info, "\n") {
		if !strings.HasPrefix(line, "cmdstat_eval:") && !strings.HasPrefix(line, "cmdstat_evalsha:") {
			continue
		}
		_, rest, _ := strings.Cut(line, "calls=")
		calls, _, _ := strings.Cut(rest, ",")
		v, _ := strconv.ParseInt(calls, 10, 64)
		n += v
	}
	return n
}

// testClusterFailover kills the master of a room with fans waiting and
// admitted, while fans poll and join and the broadcast channel of that
// master carries messages: every failure is UNAVAILABLE or, for a join,
// OUTCOME_UNKNOWN; afterwards every fan is where they were, and the
// broadcast is heard again.
func testClusterFailover(t *testing.T, rc *testserver.RedisCluster, open func(*testing.T) goredis.UniversalClient) {
	ctx := t.Context()
	s := NewQueueStore(open(t), "cluster-test:"+testserver.RandomHex(8)+":")
	s.UseServerTime()
	room := queue.Room{ConcertID: boxoffice.NewID(), OpensAt: time.Now().Add(-time.Minute),
		Settings: queue.Settings{Strategy: queue.MaxActive, MaxActive: 20, SessionSeconds: 600, IdleSeconds: 600, MaxSessionSeconds: 900},
		Seed:     []byte("seed")}
	empty := func(context.Context) (queue.Snapshot, error) { return queue.Snapshot{}, nil }
	if err := s.Restore(ctx, room, empty, "test", time.Minute, time.Now()); err != nil {
		t.Fatal(err)
	}
	users := make([]string, 100)
	for i := range users {
		users[i] = fmt.Sprintf("fan-%03d", i)
	}
	joined, err := s.Join(ctx, room, users, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tickets := make([]queue.Ticket, len(joined))
	for i, j := range joined {
		if j.Err != nil {
			t.Fatal(j.Err)
		}
		tickets[i] = j.Ticket
	}
	if a, err := s.Admit(ctx, room.ConcertID, "test", time.Minute, time.Now()); err != nil || a.Admitted != 20 {
		t.Fatalf("admit: got %+v, %v, want 20 admitted", a, err)
	}
	before, err := s.Statuses(ctx, room.ConcertID, tickets, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	master, err := rc.MasterOf(ctx, "{"+room.ConcertID+"}")
	if err != nil {
		t.Fatal(err)
	}

	// A broadcast channel on the same master.
	channel := ""
	for i := 0; channel == ""; i++ {
		name := "cluster-test:" + strconv.Itoa(i) + ":streams"
		if m, err := rc.MasterOf(ctx, name); err == nil && m == master {
			channel = name
		}
	}
	bctx, stopListen := context.WithCancel(ctx)
	var heard atomic.Int64
	var listening sync.WaitGroup
	sender := NewBroadcast(open(t), channel)
	listener := NewBroadcast(open(t), channel)
	listening.Go(func() { listener.Listen(bctx, func(string) { heard.Add(1) }) })
	listening.Go(func() { sender.Listen(bctx, func(string) {}) })
	defer func() { stopListen(); listening.Wait() }()
	hear := func(within time.Duration) bool {
		deadline := time.Now().Add(within)
		for n := heard.Load(); time.Now().Before(deadline); {
			<-sender.Publish("ping")
			time.Sleep(50 * time.Millisecond)
			if heard.Load() > n {
				return true
			}
		}
		return false
	}
	if !hear(10 * time.Second) {
		t.Fatal("the broadcast was not heard before the failover")
	}

	// Fans poll, use their sessions and join while the master dies.
	load, stopLoad := context.WithCancel(ctx)
	var (
		mu       sync.Mutex
		failures = map[string]int{}
		expired  []string
		calls    atomic.Int64
	)
	note := func(op string, err error) {
		calls.Add(1)
		if err == nil || load.Err() != nil { // the load's own end
			return
		}
		mu.Lock()
		defer mu.Unlock()
		code := boxoffice.ErrorCode(err)
		failures[op+" "+string(code)]++
		if code != boxoffice.CodeUnavailable && (op != "join" || code != boxoffice.CodeOutcomeUnknown) {
			t.Errorf("%s during the failover: %v (code %q), want UNAVAILABLE", op, err, code)
		}
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; load.Err() == nil; i++ {
				callCtx, cancel := context.WithTimeout(load, time.Second)
				tk := tickets[(w*25+i)%len(tickets)]
				switch i % 3 {
				case 0:
					st, err := s.Status(callCtx, tk, time.Now())
					note("status", err)
					if err == nil && st.State == queue.Expired {
						mu.Lock()
						expired = append(expired, tk.UserID)
						mu.Unlock()
					}
				case 1:
					if before[(w*25+i)%len(tickets)].State == queue.Admitted {
						_, err := s.Use(callCtx, tk, time.Now())
						note("use", err)
					}
				default:
					_, err := s.Join(callCtx, room, []string{fmt.Sprintf("late-%d-%d", w, i)}, time.Now())
					note("join", err)
				}
				cancel()
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	f, err := rc.KillMaster(ctx, master)
	stopLoad()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	// The dead master stays dead, as a lost machine does: the store must
	// find its replica by itself, at once.
	var after []queue.Status
	recovered := time.Now()
	for {
		if after, err = s.Statuses(ctx, room.ConcertID, tickets, time.Now()); err == nil {
			break
		}
		if time.Since(recovered) > 5*time.Second {
			t.Fatalf("statuses %v after the replica took over: %v", time.Since(recovered).Round(time.Millisecond), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	t.Logf("master %s killed, replica %s took over after %v; %d calls, failures by kind: %v",
		f.Master, f.Replica, f.Down.Round(time.Millisecond), calls.Load(), failures)
	if len(expired) > 0 {
		t.Errorf("fans read EXPIRED during the failover: %v", expired)
	}
	mu.Unlock()

	t.Logf("the store answered %v after the replica took over", time.Since(recovered).Round(time.Millisecond))
	for i := range tickets {
		b, a := before[i], after[i]
		if a.State != b.State || a.Position != b.Position {
			t.Errorf("%s: got %s at %d after the failover, want %s at %d as before", tickets[i].UserID, a.State, a.Position, b.State, b.Position)
		}
	}
	if !hear(15 * time.Second) {
		t.Error("the broadcast was not heard within 15 s of the failover")
	} else {
		t.Logf("the broadcast was heard again %v after the replica took over", time.Since(recovered).Round(time.Millisecond))
	}
}

// testBroadcast checks that two Broadcasts on one channel hear every
// message of both in one order.
func testBroadcast(t *testing.T, newClient func(t *testing.T) goredis.UniversalClient, channel string) {
	c := newClient(t)
	const perSender = 200
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	type listener struct {
		b    *Broadcast
		mu   sync.Mutex
		got  []string
		done chan struct{}
	}
	var ls []*listener
	var wg sync.WaitGroup
	for range 2 {
		l := &listener{b: NewBroadcast(newClient(t), channel), done: make(chan struct{})}
		ls = append(ls, l)
		wg.Go(func() {
			l.b.Listen(ctx, func(msg string) {
				l.mu.Lock()
				defer l.mu.Unlock()
				l.got = append(l.got, msg)
				if len(l.got) == 2*perSender {
					close(l.done)
				}
			})
		})
	}
	// Both listen before anything is published.
	numSub := c.PubSubNumSub
	if _, ok := c.(*goredis.ClusterClient); ok {
		numSub = c.PubSubShardNumSub
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		n, err := numSub(ctx, channel).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n[channel] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscribers: got %d within 10s, want 2", n[channel])
		}
	}
	// The senders' messages interleave.
	for i := range perSender {
		for j, l := range ls {
			sent := l.b.Publish(fmt.Sprintf("%d-%03d", j, i))
			if i == perSender-1 {
				select {
				case <-sent:
				case <-time.After(10 * time.Second):
					t.Fatal("last message not sent within 10s")
				}
			}
		}
	}
	for j, l := range ls {
		select {
		case <-l.done:
		case <-time.After(10 * time.Second):
			l.mu.Lock()
			t.Fatalf("listener %d: got %d messages within 10s, want %d", j, len(l.got), 2*perSender)
		}
	}
	if !slices.Equal(ls[0].got, ls[1].got) {
		t.Error("the listeners heard the messages in different orders")
	}
	for j := range ls {
		var own []string
		for _, m := range ls[0].got {
			if m[0] == byte('0'+j) {
				own = append(own, m)
			}
		}
		if !slices.IsSorted(own) || len(own) != perSender {
			t.Errorf("sender %d: its %d messages were heard out of the order they were published in", j, len(own))
		}
	}
	cancel()
	wg.Wait() // Listen returns once its context ends
}
