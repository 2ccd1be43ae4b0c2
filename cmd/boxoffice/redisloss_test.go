package main

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	boxhttp "github.com/boxoffice/boxoffice/http"
)

// wipeRedis deletes every key under prefix, as a Redis that restarted with
// nothing kept would have lost them.
func wipeRedis(t *testing.T, prefix string) {
	t.Helper()
	opts, err := goredis.ParseURL(testRedisURL())
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opts)
	defer c.Close()
	ctx := context.Background()
	keys, err := c.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("nothing to wipe")
	}
	if err := c.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestRedisLoss empties Redis in the middle of a sale on three instances
// and checks that every fan keeps their place: waiting fans their order,
// admitted fans their session and their holds, the lottery its
// publication, and that nobody reads EXPIRED on the way.
func TestRedisLoss(t *testing.T) {
	var prefix string
	clients, admin := cluster(t, production, 3, nil, func(c *Config) { prefix = c.RedisPrefix })
	ctx := context.Background()
	opening := time.Now().Add(1500 * time.Millisecond)
	spec := testSpec(opening)
	spec.WaitingRoom = &boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: 4, SessionSeconds: 600, IdleSeconds: 600}
	concertID := createConcert(t, clients[0], admin, spec)
	day := spec.Dates[0].Format("2006-01-02")

	type fanState struct {
		fan
		client int
	}
	var fans []fanState
	join := func(i int) fanState {
		f, err := newFan(ctx, clients[i%3], concertID, fmt.Sprintf("fan %d", i))
		if err != nil {
			t.Fatal(err)
		}
		return fanState{f, i % 3}
	}
	for i := range 12 { // in the draw
		fans = append(fans, join(i))
	}
	time.Sleep(time.Until(opening) + 100*time.Millisecond)
	for i := 12; i < 24; i++ { // first come, first served
		fans = append(fans, join(i))
	}
	// Wait for a few admissions, and hold a seat with each admitted fan.
	statuses := func() []boxhttp.QueueStatus {
		out := make([]boxhttp.QueueStatus, len(fans))
		for i, f := range fans {
			st, err := clients[(f.client+1)%3].QueueStatus(ctx, f.accessToken, f.queueToken)
			if err != nil {
				t.Fatalf("status of fan %d: %v", i, err)
			}
			if st.Status != "WAITING" && st.Status != "ADMITTED" {
				t.Fatalf("status of fan %d: got %s, want WAITING or ADMITTED", i, st.Status)
			}
			out[i] = st
		}
		return out
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := 0
		for _, st := range statuses() {
			if st.Status == "ADMITTED" {
				n++
			}
		}
		if n >= 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d admitted after 20 s, want 6", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Slow admission down so that the room barely moves while it is compared.
	if _, err := clients[0].SetWaitingRoom(ctx, admin, concertID, boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: 0.01, SessionSeconds: 600, IdleSeconds: 600}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // every instance's concert cache and the room take the change
	before := statuses()
	holds := map[int]string{}
	for i, st := range before {
		if st.Status == "ADMITTED" {
			r, err := fans[i].c.Hold(ctx, fans[i].accessToken, fans[i].queueToken, boxhttp.HoldRequest{ConcertID: concertID, Date: day, SeatNumbers: []int{i + 1}})
			if err != nil {
				t.Fatalf("hold of fan %d: %v", i, err)
			}
			holds[i] = r.ReservationID
			if _, err := fans[i].c.Charge(ctx, fans[i].accessToken, fans[i].userID, 500000, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	lottery, err := clients[0].Lottery(ctx, concertID)
	if err != nil || lottery.Entries == nil {
		t.Fatalf("lottery before the loss: %+v, %v", lottery, err)
	}

	wipeRedis(t, prefix)

	after := statuses()
	for i := range fans {
		b, a := before[i], after[i]
		if a.Status != b.Status || a.Position != b.Position {
			t.Errorf("fan %d: got %s at %d, want %s at %d as before the loss", i, a.Status, a.Position, b.Status, b.Position)
		}
	}
	for i, id := range holds {
		if _, err := fans[i].c.Pay(ctx, fans[i].accessToken, fans[i].queueToken, id, "pay-"+id); err != nil {
			t.Errorf("pay of fan %d's hold after the loss: %v", i, err)
		}
	}
	if got, err := clients[2].Lottery(ctx, concertID); err != nil || !reflect.DeepEqual(got, lottery) {
		t.Errorf("lottery after the loss: got %+v, %v, want %+v", got, err, lottery)
	}
	late := join(99)
	st, err := late.c.QueueStatus(ctx, late.accessToken, late.queueToken)
	waiting := int64(0)
	for _, s := range after {
		if s.Status == "WAITING" {
			waiting++
		}
	}
	if err != nil || st.Status != "WAITING" || st.Position != waiting+1 {
		t.Errorf("join after the loss: got %+v, %v, want WAITING behind the %d waiting", st, err, waiting)
	}
}
