package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/internal/testserver"
	"github.com/boxoffice/boxoffice/loadtest"
)

// TestRedisClusterOnsale runs the short on-sale of robust fans on three
// instances sharing a real Redis Cluster (three masters, one replica
// each): once undisturbed, then while the master serving the room is
// killed (its replica takes over; the master stays dead until the sale
// ends), then while the room's master is killed and started again, empty,
// before the cluster notices (the journal rebuilds the room). Every audit
// check holds in each; the figures are logged (see docs/benchmarks.md,
// "Redis Cluster").
func TestRedisClusterOnsale(t *testing.T) {
	if testing.Short() {
		t.Skip("the on-sales take several seconds each")
	}
	rc := testserver.StartRedisCluster(t)
	var base *loadtest.Onsale
	for _, fault := range []string{"", "master killed", "master back empty"} {
		name := strings.ReplaceAll(fault, " ", "_")
		if fault == "" {
			name = "Undisturbed"
		}
		t.Run(name, func(t *testing.T) {
			o, ok := clusterOnsale(t, rc, fault)
			if !ok {
				return
			}
			if fault == "" {
				base = o
			} else if base != nil {
				t.Logf("time to sell out: %.2f s, against %.2f s undisturbed", o.TimeToSellOutS, base.TimeToSellOutS)
			}
		})
	}
}

// clusterOnsale runs one on-sale on instances sharing rc, injecting fault
// ("" for none) into the master serving the room 1.5 s after the opening.
// It reports the on-sale, and whether every check passed.
func clusterOnsale(t *testing.T, rc *testserver.RedisCluster, fault string) (*loadtest.Onsale, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := testConfig()
	cfg.DatabaseURL = freshSchema(t)
	cfg.RedisURL = rc.URL()
	cfg.RedisPrefix = "test:" + randomHex(6) + ":"
	cfg.AdminKey = "admin-" + randomHex(16)
	cfg.Secret = "secret-" + randomHex(16)
	cfg.AdmitTick = DefaultConfig().AdmitTick // admission steps as in production
	var targets []string
	for range 3 {
		m := NewMain(cfg, io.Discard)
		if err := m.Run(ctx); err != nil {
			m.Close()
			if strings.Contains(err.Error(), "unavailable") {
				unreachable(t, "a backing service", err)
			}
			t.Fatalf("run: %v", err)
		}
		defer m.Close()
		targets = append(targets, m.URL())
	}

	o := loadtest.DefaultOptions()
	o.Scenario = "onsale"
	o.Targets = targets
	o.AdminKey = cfg.AdminKey
	o.Fans = 200
	o.Dates = 2
	o.HoldSeconds = 2
	o.AdmitPerSecond = 25
	o.Connections = 50
	o.Think = 20 * time.Millisecond
	o.NoCeiling = true
	o.Robust = true
	// About 20 fans join before the opening and are in the draw, the
	// auditor among them: fewer than the sale admits before its seats run
	// out, so that the auditor is admitted wherever the draw puts it.
	o.Prequeue = 100 * time.Millisecond
	o.Timeout = 2 * time.Minute
	o.FaultsFile = filepath.Join(t.TempDir(), "faults.json")
	if err := loadtest.WriteFaults(o.FaultsFile, nil); err != nil {
		t.Fatal(err)
	}

	type result struct {
		res *loadtest.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := loadtest.Run(ctx, o)
		done <- result{res, err}
	}()
	var fo testserver.Failover
	if fault != "" {
		var err error
		if fo, err = injectClusterFault(ctx, t, rc, targets[0], fault, o.FaultsFile); err != nil {
			cancel()
			<-done
			t.Fatal(err)
		}
	}
	r := <-done
	if fault == "master killed" {
		// Dead for the rest of the sale, as a lost machine is; back as a
		// replica for the next run.
		if err := rc.StartNode(fo.Master); err != nil {
			t.Fatal(err)
		}
	}
	if r.err != nil {
		t.Fatalf("loadtest: %v", r.err)
	}
	res := r.res
	if res.Onsale == nil || res.Onsale.Fans != o.Fans {
		t.Fatalf("on-sale report: got %+v, want one of %d fans", res.Onsale, o.Fans)
	}
	got := map[string]loadtest.Check{}
	for _, c := range res.Checks {
		got[c.Name] = c
	}
	for _, name := range []string{
		"sold out", "no seat sold twice", "every sold seat has exactly one payment", "money conserved",
		"admission order matched join order", "zero 500s", "503s only inside fault windows",
		"zero fans who had to join again", "zero fans who lost a live hold",
	} {
		c, ok := got[name]
		switch {
		case !ok:
			t.Errorf("check %q: missing from the result", name)
		case !c.OK:
			t.Errorf("check %q failed: %s", name, c.Detail)
		}
	}
	if !res.Passed {
		t.Errorf("the on-sale did not pass")
	}
	if fault != "" && res.Onsale.SoldOutS <= 1.5 {
		t.Errorf("sold out %.2f s after the opening, before the fault at 1.5 s: lengthen the sale", res.Onsale.SoldOutS)
	}
	os503 := map[string]int64{}
	for _, s := range res.Onsale.StatusTimeline {
		for code, n := range s.Codes {
			os503[code] += n
		}
	}
	line := fmt.Sprintf("%d fans, %d seats: sold out %.2f s after the opening, %.2f s from the first admission; 5xx answers %v; %d fans had to join again, %d lost a live hold; %d requests resent",
		res.Onsale.Fans, res.Onsale.Seats, res.Onsale.SoldOutS, res.Onsale.TimeToSellOutS, os503,
		res.Onsale.Rejoins, res.Onsale.LostHolds, res.Onsale.Resent)
	if fault != "" {
		line = fmt.Sprintf("%s (%s, replaced by %s): %v without a master; ", fault, fo.Master, fo.Replica, fo.Down.Round(time.Millisecond)) + line
	}
	t.Log(line)
	if t.Failed() {
		res.WriteTable(os.Stderr)
	}
	return res.Onsale, !t.Failed()
}

// injectClusterFault waits for the on-sale's concert, then, 1.5 s after
// its opening, kills the master serving its room: "master killed" lets
// the replica take over and leaves the master dead; "master back empty"
// starts the master again, empty, before the cluster marks it failed. It
// writes the fault's window to faultsFile.
func injectClusterFault(ctx context.Context, t *testing.T, rc *testserver.RedisCluster, target, fault, faultsFile string) (testserver.Failover, error) {
	api := testClient(t, target)
	var concert boxhttp.ConcertSummary
	for concert.ConcertID == "" {
		l, err := api.Concerts(ctx)
		if err == nil && len(l.Concerts) > 0 {
			concert = l.Concerts[0]
			break
		}
		select {
		case <-ctx.Done():
			return testserver.Failover{}, errors.New("no concert seen")
		case <-time.After(50 * time.Millisecond):
		}
	}
	master, err := rc.MasterOf(ctx, "{"+concert.ConcertID+"}")
	if err != nil {
		return testserver.Failover{}, err
	}
	// A key in the room's slot, on its master and its replica, that
	// nothing rebuilds: whether it survives tells whether the room's
	// master came back empty.
	marker := "marker:{" + concert.ConcertID + "}"
	mc := goredis.NewClient(&goredis.Options{Addr: master})
	defer mc.Close()
	if err := mc.Set(ctx, marker, "x", 0).Err(); err != nil {
		return testserver.Failover{}, err
	}
	if n, err := mc.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		return testserver.Failover{}, fmt.Errorf("WAIT for the replica: got %d, %v", n, err)
	}
	defer func() {
		n, err := rc.Client(t).Exists(ctx, marker).Result()
		if want := map[string]int64{"master killed": 1, "master back empty": 0}[fault]; err != nil || n != want {
			t.Errorf("%s: the marker key: got %d, %v, want %d", fault, n, err, want)
		}
	}()
	sleepUntil(ctx, concert.SalesOpenAt.Add(1500*time.Millisecond))
	start := time.Now()
	fo := testserver.Failover{Master: master}
	switch fault {
	case "master killed":
		if fo, err = rc.KillMaster(ctx, master); err != nil {
			return fo, err
		}
	case "master back empty":
		rc.Kill(master)
		time.Sleep(200 * time.Millisecond)
		if err := rc.StartNode(master); err != nil {
			return fo, err
		}
		fo.Replica, fo.Down = master, time.Since(start)
	default:
		return fo, fmt.Errorf("unknown fault %q", fault)
	}
	if err := loadtest.WriteFaults(faultsFile, []loadtest.Fault{{Name: fault, Start: start, End: start.Add(fo.Down)}}); err != nil {
		return fo, err
	}
	return fo, nil
}
