package main

import (
	"context"
	"fmt"
	"io"
	nethttp "net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/postgres"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/redis"
)

// endInstance is one instance's waiting rooms on the shared Redis and
// PostgreSQL: its own connections, its own Service, rooms that end as soon
// as they can.
type endInstance struct {
	svc    *queue.Service
	store  *redis.QueueStore
	client goredis.UniversalClient
}

func newEndInstance(t *testing.T, name, dbURL, prefix string, closes time.Time) endInstance {
	t.Helper()
	ctx := context.Background()
	client, err := redis.Open(ctx, testRedisURL())
	if err != nil {
		unreachable(t, "Redis (BOXOFFICE_TEST_REDIS_URL)", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	db, err := postgres.Open(ctx, dbURL)
	if err != nil {
		unreachable(t, "PostgreSQL (BOXOFFICE_TEST_DATABASE_URL)", err)
	}
	t.Cleanup(db.Close)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.UseDatabaseClock()
	store := redis.NewQueueStore(client, prefix)
	store.UseServerTime()
	svc := queue.NewService(store, boxoffice.SystemClock{}, name, 100*time.Millisecond, nil,
		func(id string) []byte { return []byte("seed " + id) }, nil)
	svc.Journal = postgres.NewQueueJournal(db)
	svc.Archive = postgres.NewRoomArchive(db)
	svc.RoomOf = func(_ context.Context, id string) (queue.Room, error) { return smallRoom(id), nil }
	svc.Closes = func(context.Context, string) (time.Time, error) { return closes, nil }
	svc.Grace = 0
	return endInstance{svc: svc, store: store, client: client}
}

// smallRoom is a room open for a minute already.
func smallRoom(id string) queue.Room {
	s := queue.DefaultSettings()
	s.IdleSeconds = 3600 // stats stay as they are for the test's length
	return queue.Room{ConcertID: id, OpensAt: time.Now().Add(-time.Minute).Truncate(time.Millisecond), Settings: s}
}

// fillRooms creates n rooms in in's store, each with two fans journaled
// as a Service journals them, and runs one admission step.
func fillRooms(t *testing.T, in endInstance, n int) []string {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range ids {
		ids[i] = boxoffice.NewID()
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fillRoom(ctx, in, ids[i]); err != nil {
				t.Errorf("fill room %s: %v", ids[i], err)
			}
		})
	}
	wg.Wait()
	in.svc.Step(ctx)
	return ids
}

func fillRoom(ctx context.Context, in endInstance, id string) error {
	room := smallRoom(id)
	empty := func(context.Context) (queue.Snapshot, error) { return queue.Snapshot{}, nil }
	if err := in.store.Restore(ctx, room, empty, "test", time.Second, time.Now()); err != nil {
		return err
	}
	js, err := in.store.Join(ctx, room, []string{"fan-a", "fan-b"}, time.Now())
	if err != nil {
		return err
	}
	places := make([]queue.Place, len(js))
	for i, j := range js {
		places[i] = queue.Place{UserID: j.UserID, Seq: j.Seq, Key: j.Key, JoinedAt: time.Now()}
	}
	return in.svc.Journal.Joined(ctx, id, places)
}

// scanPrefix lists the keys under prefix.
func scanPrefix(t *testing.T, c goredis.UniversalClient, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestRoomsEndLeaveNothingInRedis ends a thousand small concerts' rooms and
// finds nothing of them left in Redis, while their stats stay readable.
func TestRoomsEndLeaveNothingInRedis(t *testing.T) {
	dbURL, prefix := freshSchema(t), freshRedisPrefix(t)
	in := newEndInstance(t, "a", dbURL, prefix, time.Now().Add(-time.Minute))
	ctx := context.Background()
	start := time.Now()
	ids := fillRooms(t, in, 1000)
	t.Logf("1000 rooms filled in %v", time.Since(start))
	before := make(map[string]queue.Stats)
	for _, id := range ids[:10] {
		st, err := in.svc.Stats(ctx, id)
		if err != nil || st.AdmittedTotal == 0 {
			t.Fatalf("stats of room %s: got %+v, %v, want admissions", id, st, err)
		}
		before[id] = st
	}
	if keys := scanPrefix(t, in.client, prefix); len(keys) < 1000 {
		t.Fatalf("before the end: got %d keys, want every room's", len(keys))
	}
	start = time.Now()
	ended, err := in.svc.EndRooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("1000 rooms ended in %v", time.Since(start))
	slices.Sort(ended)
	slices.Sort(ids)
	if !slices.Equal(ended, ids) {
		t.Fatalf("ended %d rooms, want the %d", len(ended), len(ids))
	}
	if keys := scanPrefix(t, in.client, prefix); len(keys) != 0 {
		t.Fatalf("after the end: %d keys left, e.g. %v", len(keys), keys[:min(5, len(keys))])
	}
	// Reading, admitting and joining bring none back.
	for id := range before {
		st, err := in.svc.Stats(ctx, id)
		if err != nil || st != before[id] {
			t.Errorf("stats of ended room %s: got %+v, %v, want as before the end: %+v", id, st, err, before[id])
		}
		if _, _, err := in.svc.Join(ctx, smallRoom(id), "fan-c"); boxoffice.ErrorCode(err) != boxoffice.CodeSoldOut {
			t.Errorf("join of ended room %s: got %v, want SOLD_OUT", id, err)
		}
	}
	in.svc.Step(ctx)
	time.Sleep(queue.RebuildEvery)
	in.svc.Step(ctx) // the journal's rooms would be rebuilt now if they had not ended
	if keys := scanPrefix(t, in.client, prefix); len(keys) != 0 {
		t.Fatalf("after reads, joins and steps: %d keys, e.g. %v", len(keys), keys[:min(5, len(keys))])
	}
}

// TestOneInstanceEndsARoom runs two instances' ends at once on one
// PostgreSQL and one Redis: each room is ended by exactly one of them.
func TestOneInstanceEndsARoom(t *testing.T) {
	dbURL, prefix := freshSchema(t), freshRedisPrefix(t)
	closes := time.Now().Add(-time.Minute)
	a := newEndInstance(t, "a", dbURL, prefix, closes)
	b := newEndInstance(t, "b", dbURL, prefix, closes)
	ids := fillRooms(t, a, 40)
	var got [2][]string
	var wg sync.WaitGroup
	for i, in := range []endInstance{a, b} {
		wg.Go(func() {
			ended, err := in.svc.EndRooms(context.Background())
			if err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
			got[i] = ended
		})
	}
	wg.Wait()
	all := append(slices.Clone(got[0]), got[1]...)
	slices.Sort(all)
	slices.Sort(ids)
	if !slices.Equal(all, ids) {
		t.Errorf("rooms ended by the two instances: got %d (%d and %d), want each of the %d once", len(all), len(got[0]), len(got[1]), len(ids))
	}
	if keys := scanPrefix(t, a.client, prefix); len(keys) != 0 {
		t.Errorf("after the end: %d keys left", len(keys))
	}
}

// adminBodies reads, as raw JSON, what operators and fans read of a
// concert's room: its stats, its admission log (whole and a page), its
// lottery publication and its public detail.
func adminBodies(t *testing.T, base, adminKey, concertID string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	for _, path := range []string{
		"/v1/admin/concerts/" + concertID + "/stats",
		"/v1/admin/concerts/" + concertID + "/admissions?from=1&limit=100",
		"/v1/admin/concerts/" + concertID + "/admissions?from=2&limit=1",
		"/v1/concerts/" + concertID + "/lottery",
		"/v1/concerts/" + concertID,
	} {
		req, _ := nethttp.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminKey)
		res, err := nethttp.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("GET %s: got %d %s, %v", path, res.StatusCode, b, err)
		}
		out[path] = string(b)
	}
	return out
}

// waitEndedSame waits until one room has ended, failing after giveUp, and
// checks that the admin endpoints then answer as they did before (before,
// from adminBodies).
func waitEndedSame(t *testing.T, base, adminKey, concertID string, before map[string]string, giveUp time.Time) {
	t.Helper()
	for roomsEnded(t, base) != 1 {
		if time.Now().After(giveUp) {
			t.Fatal("the room has not ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
	after := adminBodies(t, base, adminKey, concertID)
	for path, b := range before {
		if after[path] != b {
			t.Errorf("GET %s after the end:\n got %s\nwant %s", path, after[path], b)
		}
	}
}

// roomsEnded reads boxoffice_rooms_ended_total from base's /metrics.
func roomsEnded(t *testing.T, base string) float64 {
	t.Helper()
	v, ok := scrape(t, base+"/metrics")["boxoffice_rooms_ended_total"]
	if !ok {
		t.Fatal("no boxoffice_rooms_ended_total in /metrics")
	}
	return v
}

// TestRoomEndAnswersTheSame sells a concert out through the API in each
// mode, waits for its room to end, and reads the same admin bodies, to the
// byte, after the end as before it; the queue endpoints answer as for a
// closed room.
func TestRoomEndAnswersTheSame(t *testing.T) {
	for _, md := range modes {
		t.Run(md.name, func(t *testing.T) {
			cfg := md.config(t)
			cfg.AdminKey = "admin-" + randomHex(16)
			cfg.RoomGrace = 4 * time.Second
			cfg.RoomEndEvery = 50 * time.Millisecond
			m := startMain(t, cfg, nil)
			ctx := context.Background()
			c := testClient(t, m.URL())
			type fan struct{ access, token string }
			fans := make([]fan, 3)
			for i := range fans {
				u, err := c.CreateUser(ctx, fmt.Sprintf("fan%d", i))
				if err != nil {
					t.Fatal(err)
				}
				fans[i].access = u.AccessToken
			}
			opening := time.Now().Add(4 * time.Second).Truncate(time.Second)
			con, err := c.CreateConcert(ctx, cfg.AdminKey, boxhttp.ConcertSpec{
				Title: "Last Night", Venue: "Hall", Dates: futureDates(1),
				Grades:      []boxhttp.Grade{{Name: "R", Seats: "1-50", Price: 0}},
				SalesOpenAt: opening, HoldSeconds: 300, MaxSeatsPerUser: 50,
				WaitingRoom: &boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: 100, SessionSeconds: 600, IdleSeconds: 60},
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := range fans {
				st, _, err := c.Join(ctx, fans[i].access, con.ConcertID)
				if err != nil || st.Status != "PREQUEUE" {
					t.Fatalf("join before the opening: got %+v, %v, want PREQUEUE", st, err)
				}
				fans[i].token = st.Token
			}
			deadline := time.Now().Add(20 * time.Second)
			for _, f := range fans {
				for {
					st, err := c.QueueStatus(ctx, f.access, f.token)
					if err != nil {
						t.Fatal(err)
					}
					if st.Status == "ADMITTED" {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("not admitted: %+v", st)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			dates, err := c.Dates(ctx, fans[0].access, fans[0].token, con.ConcertID)
			if err != nil || len(dates.Dates) != 1 {
				t.Fatalf("dates: got %+v, %v", dates, err)
			}
			seats := make([]int, 50)
			for i := range seats {
				seats[i] = i + 1
			}
			r, err := c.Hold(ctx, fans[0].access, fans[0].token, boxhttp.HoldRequest{ConcertID: con.ConcertID, Date: dates.Dates[0].Date, SeatNumbers: seats})
			if err != nil {
				t.Fatalf("hold every seat: %v", err)
			}
			if _, err := c.Pay(ctx, fans[0].access, fans[0].token, r.ReservationID, ""); err != nil {
				t.Fatalf("pay: %v", err)
			}
			for _, f := range fans[1:] {
				if err := c.Leave(ctx, f.access, f.token); err != nil {
					t.Fatal(err)
				}
			}
			// Sold out, no session left: the room ends 4 s from the next
			// look. Let the concert cache and the room's supply catch up
			// with the sell-out first.
			time.Sleep(1500 * time.Millisecond)
			if got := roomsEnded(t, m.URL()); got != 0 {
				t.Fatalf("rooms ended before the grace: got %v, want 0", got)
			}
			before := adminBodies(t, m.URL(), cfg.AdminKey, con.ConcertID)
			if !strings.Contains(before["/v1/concerts/"+con.ConcertID+"/lottery"], `"entries":[{`) ||
				!strings.Contains(before["/v1/admin/concerts/"+con.ConcertID+"/stats"], `"admitted":3`) {
				t.Fatalf("before the end: got %v, want a draw and 3 admissions", before)
			}
			waitEndedSame(t, m.URL(), cfg.AdminKey, con.ConcertID, before, deadline.Add(20*time.Second))
			if cfg.RedisURL != "" {
				client, err := redis.Open(ctx, cfg.RedisURL)
				if err != nil {
					t.Fatal(err)
				}
				defer client.Close()
				if keys := scanPrefix(t, client, cfg.RedisPrefix+"wr:{"+con.ConcertID+"}"); len(keys) != 0 {
					t.Errorf("keys of the ended room left in Redis: %v", keys)
				}
			}
			for _, f := range fans {
				st, err := c.QueueStatus(ctx, f.access, f.token)
				if err != nil || st.Status != "EXPIRED" {
					t.Errorf("status in the ended room: got %+v, %v, want EXPIRED", st, err)
				}
			}
			u, err := c.CreateUser(ctx, "late")
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Join(ctx, u.AccessToken, con.ConcertID); boxoffice.ErrorCode(err) != boxoffice.CodeSoldOut {
				t.Errorf("join of the ended room: got %v, want SOLD_OUT", err)
			}
		})
	}
}

// TestRoomEndsAfterItsLastDate runs the embedded wiring on a manual clock
// past a concert's only date: its room ends the grace after the date
// starts, not before, and answers the same afterwards.
func TestRoomEndsAfterItsLastDate(t *testing.T) {
	clock := boxoffice.NewManualClock(time.Now().UTC().Truncate(time.Second))
	cfg := embedded.config(t)
	cfg.AdminKey = "admin-" + randomHex(16)
	cfg.RoomEndEvery = 20 * time.Millisecond
	m := startMain(t, cfg, clock)
	ctx := context.Background()
	c := testClient(t, m.URL())
	starts := clock.Now().Add(2 * time.Hour)
	con, err := c.CreateConcert(ctx, cfg.AdminKey, boxhttp.ConcertSpec{
		Title: "One Night", Venue: "Hall", Dates: []time.Time{starts},
		Grades:      []boxhttp.Grade{{Name: "R", Seats: "1-50", Price: 1000}},
		SalesOpenAt: clock.Now().Add(-time.Minute),
		WaitingRoom: &boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: 100, SessionSeconds: 600, IdleSeconds: 60},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		u, err := c.CreateUser(ctx, fmt.Sprintf("fan%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Join(ctx, u.AccessToken, con.ConcertID); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := c.Stats(ctx, cfg.AdminKey, con.ConcertID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Admitted == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not admitted: %+v", st)
		}
		clock.Advance(100 * time.Millisecond) // the rate's credit grows with the clock
		time.Sleep(10 * time.Millisecond)
	}
	// The date has started; the grace (1 h) has not passed.
	clock.Set(starts.Add(time.Hour - time.Second))
	time.Sleep(500 * time.Millisecond) // steps tidy the ended sessions; looks find the room endable
	if got := roomsEnded(t, m.URL()); got != 0 {
		t.Fatalf("rooms ended within the grace: got %v, want 0", got)
	}
	before := adminBodies(t, m.URL(), cfg.AdminKey, con.ConcertID)
	clock.Set(starts.Add(time.Hour))
	waitEndedSame(t, m.URL(), cfg.AdminKey, con.ConcertID, before, deadline.Add(20*time.Second))
	u, err := c.CreateUser(ctx, "late")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Join(ctx, u.AccessToken, con.ConcertID); boxoffice.ErrorCode(err) != boxoffice.CodeSoldOut {
		t.Errorf("join of the ended room: got %v, want SOLD_OUT", err)
	}
}
