package testserver_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice/internal/testserver"
)

func TestSlot(t *testing.T) {
	for key, want := range map[string]int{
		"123456789":        0x31C3 % 16384,
		"foo":              12182, // CLUSTER KEYSLOT foo
		"{user1000}.a":     testserver.Slot("user1000"),
		"x{}y":             testserver.Slot("x{}y"),
		"p:wr:{c-1}:meta":  testserver.Slot("c-1"),
		"p:wr:{c-1}:users": testserver.Slot("{c-1}"),
	} {
		if got := testserver.Slot(key); got != want {
			t.Errorf("Slot(%q): got %d, want %d", key, got, want)
		}
	}
}

func TestRedisCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc := testserver.StartRedisCluster(t)
	masters, err := rc.Masters(ctx)
	if err != nil || len(masters) != 3 {
		t.Fatalf("masters: got %v, %v, want 3", masters, err)
	}
	c := rc.Client(t)
	for i := range 100 {
		if err := c.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("KeySlotAgrees", func(t *testing.T) {
		for _, k := range []string{"k1", "{room}:meta", "p:wr:{0197}:users"} {
			got, err := c.ClusterKeySlot(ctx, k).Result()
			if err != nil || int(got) != testserver.Slot(k) {
				t.Errorf("CLUSTER KEYSLOT %s: got %d, %v, want %d", k, got, err, testserver.Slot(k))
			}
		}
	})

	t.Run("MoveSlot", func(t *testing.T) {
		from, err := rc.MasterOf(ctx, "k7")
		if err != nil {
			t.Fatal(err)
		}
		to := masters[0]
		if to == from {
			to = masters[1]
		}
		if err := rc.MoveSlot(ctx, "k7", to); err != nil {
			t.Fatal(err)
		}
		if got, err := rc.MasterOf(ctx, "k7"); err != nil || got != to {
			t.Errorf("master of k7: got %s, %v, want %s", got, err, to)
		}
		if v, err := c.Get(ctx, "k7").Int(); err != nil || v != 7 {
			t.Errorf("k7 after the move: got %d, %v, want 7", v, err)
		}
	})

	t.Run("KillMaster", func(t *testing.T) {
		victim, err := rc.MasterOf(ctx, "k3")
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.WaitReplicated(ctx, victim); err != nil {
			t.Fatal(err)
		}
		f, err := rc.KillMaster(ctx, victim)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("failover of %s to %s: %v without a master", f.Master, f.Replica, f.Down)
		if f.Replica == "" || f.Replica == victim {
			t.Fatalf("replica: got %q, want another node than %s", f.Replica, victim)
		}
		if got, err := rc.MasterOf(ctx, "k3"); err != nil || got != f.Replica {
			t.Errorf("master of k3: got %s, %v, want %s", got, err, f.Replica)
		}
		now, err := rc.Masters(ctx)
		if err != nil || len(now) != 3 {
			t.Errorf("masters after the failover: got %v, %v, want 3", now, err)
		}
		// A client of the new layout: a client's own finding of the new
		// master is the service's business, tested in package redis.
		c := rc.Client(t)
		for i := range 100 {
			if v, err := c.Get(ctx, fmt.Sprintf("k%d", i)).Int(); err != nil || v != i {
				t.Errorf("k%d after the failover: got %d, %v, want %d (replicated)", i, v, err, i)
			}
		}
		if err := rc.StartNode(victim); err != nil {
			t.Fatal(err)
		}
		nodes, err := rc.Nodes(ctx, victim)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if n.Addr == victim && n.Master {
				t.Errorf("%s came back as a master, want a replica of %s", victim, f.Replica)
			}
		}
	})
}
