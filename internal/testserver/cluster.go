package testserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ClusterNodeTimeout is the cluster-node-timeout of a RedisCluster: a
// master that does not answer for this long is marked failed, and one of
// its replicas takes its place a moment later.
const ClusterNodeTimeout = 1000 * time.Millisecond

// RedisCluster is a Redis Cluster owned by one test: three masters, each
// with one replica, on free ports of 127.0.0.1, keeping nothing on disk but
// each node's cluster configuration (so that a node started again after a
// Kill comes back empty, with its identity). Its methods are safe for
// concurrent use.
type RedisCluster struct {
	t     testing.TB
	bin   string
	dir   string
	nodes []*clusterNode

	mu sync.Mutex // serialises changes of the cluster's layout
}

// clusterNode is one redis-server of a RedisCluster.
type clusterNode struct {
	port, busPort int
	dir           string
	client        *goredis.Client

	process
}

func (n *clusterNode) addr() string { return "127.0.0.1:" + strconv.Itoa(n.port) }

// StartRedisCluster starts six redis-server nodes with cluster support,
// joins them with redis-cli --cluster create into three masters with one
// replica each, and returns once every node reports cluster_state:ok and
// every replica is in sync. The nodes are killed and their directories
// removed when t ends. It skips t (fails it when CI=true) when Redis, its
// cluster support or redis-cli is missing.
func StartRedisCluster(t testing.TB) *RedisCluster {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, "Redis is not installed", err)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		missing(t, "redis-cli is not installed", err)
	}
	if err := clusterSupport(bin); err != nil {
		missing(t, "redis-server cannot run a cluster as the tests need", err)
	}
	c := &RedisCluster{t: t, bin: bin}
	if c.dir, err = os.MkdirTemp("", "testserver-redis-cluster-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.stop(syscall.SIGKILL)
			if n.client != nil {
				n.client.Close()
			}
		}
		if t.Failed() {
			c.logTails()
		}
		os.RemoveAll(c.dir)
	})
	for i := range 6 {
		n := &clusterNode{dir: filepath.Join(c.dir, "node-"+strconv.Itoa(i+1))}
		if err := os.Mkdir(n.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, n)
		c.firstStart(n)
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.nodes {
		args = append(args, n.addr())
	}
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("testserver: redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitHealthy(nil); err != nil {
		t.Fatalf("testserver: %v", err)
	}
	return c
}

// clusterSupport checks that bin is a Redis 7 or later (sharded pub/sub,
// cluster-port), built with cluster support (every release since 3 is).
func clusterSupport(bin string) error {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return err
	}
	m := regexp.MustCompile(`v=(\d+)\.`).FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("unknown version %q", strings.TrimSpace(string(out)))
	}
	if major, _ := strconv.Atoi(string(m[1])); major < 7 {
		return fmt.Errorf("version %s, want 7 or later", m[1])
	}
	return nil
}

// firstStart gives n two free ports, its own and its cluster bus's, and
// starts it. A port another process took between freePort and the node's
// listen makes the node exit: it is started again on new ports, up to
// five times.
func (c *RedisCluster) firstStart(n *clusterNode) {
	c.t.Helper()
	for attempt := 1; ; attempt++ {
		var err error
		if n.port, err = freePort(); err != nil {
			c.t.Fatal(err)
		}
		if n.busPort, err = freePort(); err != nil {
			c.t.Fatal(err)
		}
		if n.client != nil {
			n.client.Close()
		}
		n.client = goredis.NewClient(&goredis.Options{Addr: n.addr(), MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
		err = c.runNode(n)
		if err == nil {
			return
		}
		if !errors.Is(err, errExited) || attempt == 5 {
			c.t.Fatalf("testserver: %v", err)
		}
		c.t.Logf("testserver: cluster node on ports %d and %d exited at start (attempt %d), trying new ports", n.port, n.busPort, attempt)
		if err := os.Remove(filepath.Join(n.dir, "nodes.conf")); err != nil && !errors.Is(err, os.ErrNotExist) {
			c.t.Fatal(err)
		}
	}
}

// startNode starts n, empty, and returns once it answers PING.
func (c *RedisCluster) startNode(n *clusterNode) {
	c.t.Helper()
	if err := c.runNode(n); err != nil {
		c.t.Fatalf("testserver: %v", err)
	}
}

// runNode is startNode, returning its failure.
func (c *RedisCluster) runNode(n *clusterNode) error {
	return n.run("redis-server", n.dir, []string{c.bin,
		"--port", strconv.Itoa(n.port), "--bind", "127.0.0.1",
		"--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(n.busPort),
		"--cluster-config-file", filepath.Join(n.dir, "nodes.conf"),
		"--cluster-node-timeout", strconv.FormatInt(ClusterNodeTimeout.Milliseconds(), 10),
		// A replica may take over however long it was cut off.
		"--cluster-replica-validity-factor", "0",
		// A replica's full sync starts at once.
		"--repl-diskless-sync-delay", "0",
		"--save", "", "--appendonly", "no", "--dir", n.dir,
	}, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return n.client.Ping(ctx).Err()
	})
}

// URL is the cluster's address for the service: every node, the first in
// the host and the others as addr= parameters.
func (c *RedisCluster) URL() string {
	u := "redis://" + c.nodes[0].addr()
	for i, n := range c.nodes[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + n.addr()
	}
	return u
}

// Addrs are the host:port of every node.
func (c *RedisCluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.addr()
	}
	return out
}

// Client returns a cluster client of the test's own, closed when t ends.
func (c *RedisCluster) Client(t testing.TB) *goredis.ClusterClient {
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { cc.Close() })
	return cc
}

// node returns the node at addr.
func (c *RedisCluster) node(addr string) *clusterNode {
	c.t.Helper()
	for _, n := range c.nodes {
		if n.addr() == addr {
			return n
		}
	}
	c.t.Fatalf("testserver: no cluster node at %s", addr)
	return nil
}

// ClusterNode is one node as the cluster describes it.
type ClusterNode struct {
	ID, Addr string
	Master   bool
	MasterID string // of a replica
	Failed   bool
	Slots    [][2]int // ranges, inclusive
}

// Nodes returns the cluster's nodes as the live node at addr, or the
// first live node when addr is empty, sees them (CLUSTER NODES).
func (c *RedisCluster) Nodes(ctx context.Context, addr string) ([]ClusterNode, error) {
	var lastErr error = errors.New("no node answers")
	for _, n := range c.nodes {
		if addr != "" && n.addr() != addr {
			continue
		}
		text, err := n.client.ClusterNodes(ctx).Result()
		if err != nil {
			lastErr = err
			continue
		}
		return parseClusterNodes(text), nil
	}
	return nil, lastErr
}

func parseClusterNodes(text string) []ClusterNode {
	var out []ClusterNode
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		n := ClusterNode{ID: f[0], Addr: addr, Master: strings.Contains(f[2], "master"),
			Failed: strings.Contains(f[2], "fail")}
		if f[3] != "-" {
			n.MasterID = f[3]
		}
		for _, s := range f[8:] {
			if strings.HasPrefix(s, "[") {
				continue // a slot being migrated
			}
			lo, hi, found := strings.Cut(s, "-")
			a, _ := strconv.Atoi(lo)
			b := a
			if found {
				b, _ = strconv.Atoi(hi)
			}
			n.Slots = append(n.Slots, [2]int{a, b})
		}
		out = append(out, n)
	}
	return out
}

// Masters returns the addresses of the masters that serve slots, in the
// order of their first slot.
func (c *RedisCluster) Masters(ctx context.Context) ([]string, error) {
	nodes, err := c.Nodes(ctx, "")
	if err != nil {
		return nil, err
	}
	type m struct {
		addr  string
		first int
	}
	var ms []m
	for _, n := range nodes {
		if n.Master && !n.Failed && len(n.Slots) > 0 {
			ms = append(ms, m{n.Addr, n.Slots[0][0]})
		}
	}
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && ms[j].first < ms[j-1].first; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
	out := make([]string, len(ms))
	for i, x := range ms {
		out[i] = x.addr
	}
	return out, nil
}

// MasterOf returns the address of the master serving key's slot.
func (c *RedisCluster) MasterOf(ctx context.Context, key string) (string, error) {
	slot := Slot(key)
	nodes, err := c.Nodes(ctx, "")
	if err != nil {
		return "", err
	}
	for _, n := range nodes {
		if !n.Master || n.Failed {
			continue
		}
		for _, r := range n.Slots {
			if slot >= r[0] && slot <= r[1] {
				return n.Addr, nil
			}
		}
	}
	return "", fmt.Errorf("no master serves slot %d", slot)
}

// Slot is the cluster slot of key (CRC16 of its hash tag or of itself,
// modulo 16384).
func Slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc % 16384)
}

// MoveSlot moves the slot of key, with its keys, to the master at to, the
// way redis-cli --cluster reshard does (IMPORTING, MIGRATING, MIGRATE,
// SETSLOT NODE), and returns once every node agrees. Clients learn of the
// move from MOVED and ASK answers.
func (c *RedisCluster) MoveSlot(ctx context.Context, key, to string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	slot := Slot(key)
	from, err := c.MasterOf(ctx, key)
	if err != nil {
		return err
	}
	if from == to {
		return nil
	}
	src, dst := c.node(from), c.node(to)
	srcID, err := src.client.ClusterMyID(ctx).Result()
	if err != nil {
		return err
	}
	dstID, err := dst.client.ClusterMyID(ctx).Result()
	if err != nil {
		return err
	}
	if err := dst.client.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", srcID).Err(); err != nil {
		return fmt.Errorf("importing slot %d: %w", slot, err)
	}
	if err := src.client.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dstID).Err(); err != nil {
		return fmt.Errorf("migrating slot %d: %w", slot, err)
	}
	for {
		keys, err := src.client.ClusterGetKeysInSlot(ctx, slot, 100).Result()
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", "127.0.0.1", dst.port, "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		if err := src.client.Do(ctx, args...).Err(); err != nil {
			return fmt.Errorf("migrate slot %d: %w", slot, err)
		}
	}
	for _, n := range []*clusterNode{dst, src} {
		if err := n.client.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err(); err != nil {
			return fmt.Errorf("assign slot %d: %w", slot, err)
		}
	}
	return c.waitHealthy(func(nodes []ClusterNode) error {
		for _, n := range nodes {
			if n.ID != dstID {
				continue
			}
			for _, r := range n.Slots {
				if slot >= r[0] && slot <= r[1] {
					return nil
				}
			}
		}
		return fmt.Errorf("slot %d not yet at %s", slot, to)
	})
}

// Failover is what KillMaster measured.
type Failover struct {
	// Master is the node killed; Replica the one that took its slots.
	Master, Replica string
	// Down is the time from the kill until every live node reported
	// cluster_state:ok with the replica serving the slots.
	Down time.Duration
}

// KillMaster kills the master at addr (SIGKILL, nothing kept) and returns
// once one of its replicas has taken over its slots and every live node
// reports cluster_state:ok. The killed node stays down until StartNode.
func (c *RedisCluster) KillMaster(ctx context.Context, addr string) (Failover, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.node(addr)
	before, err := c.Nodes(ctx, addr)
	if err != nil {
		return Failover{}, err
	}
	var id string
	for _, x := range before {
		if x.Addr == addr {
			id = x.ID
		}
	}
	start := time.Now()
	n.stop(syscall.SIGKILL)
	f := Failover{Master: addr}
	err = c.waitHealthy(func(nodes []ClusterNode) error {
		for _, x := range nodes {
			if x.Addr == addr && x.Master && !x.Failed {
				return fmt.Errorf("%s not yet marked failed", addr)
			}
		}
		for _, x := range nodes {
			if x.Master && !x.Failed && len(x.Slots) > 0 && x.Addr != addr && wasReplicaOf(before, x.ID, id) {
				f.Replica = x.Addr
				return nil
			}
		}
		return errors.New("no replica has taken over yet")
	})
	f.Down = time.Since(start)
	return f, err
}

// WaitReplicated returns once every replica of the master at addr has
// acknowledged all it has written so far, so that a failover that follows
// loses nothing: replication is asynchronous, and on a busy machine a
// replica may lag by more than the writes a test just made.
func (c *RedisCluster) WaitReplicated(ctx context.Context, addr string) error {
	c.mu.Lock()
	n := c.node(addr)
	c.mu.Unlock()
	return waitFor("replication of "+addr, func() error {
		info, err := n.client.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		var master int64 = -1
		replicas := 0
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "master_repl_offset:"); ok {
				master, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		for _, line := range strings.Split(info, "\r\n") {
			if !strings.HasPrefix(line, "slave") || !strings.Contains(line, "offset=") {
				continue
			}
			replicas++
			for _, f := range strings.Split(line, ",") {
				if v, ok := strings.CutPrefix(f, "offset="); ok {
					if off, _ := strconv.ParseInt(v, 10, 64); off < master {
						return fmt.Errorf("%s: a replica is at offset %d of %d", addr, off, master)
					}
				}
			}
		}
		if master < 0 || replicas == 0 {
			return fmt.Errorf("%s: no replica reports its offset", addr)
		}
		return nil
	})
}

// Kill kills the node at addr (SIGKILL) and returns at once, before the
// cluster notices.
func (c *RedisCluster) Kill(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.node(addr).stop(syscall.SIGKILL)
}

// StartNode starts the killed node at addr again, empty but with its
// cluster identity, and returns once the cluster is healthy: a master that
// was replaced rejoins as a replica of the node that replaced it; a master
// started again before the cluster noticed its death serves its slots,
// empty, and its replica empties itself to follow it.
func (c *RedisCluster) StartNode(addr string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.startNode(c.node(addr))
	return c.waitHealthy(nil)
}

func wasReplicaOf(nodes []ClusterNode, id, masterID string) bool {
	for _, n := range nodes {
		if n.ID == id {
			return n.MasterID == masterID
		}
	}
	return false
}

// waitHealthy waits until every live node reports cluster_state:ok, agrees
// on the layout (and check, when set, accepts it), and every replica's
// link to its master is up.
func (c *RedisCluster) waitHealthy(check func([]ClusterNode) error) error {
	return waitFor("redis cluster", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var layout string
		for _, n := range c.nodes {
			if !n.running() {
				continue
			}
			info, err := n.client.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return fmt.Errorf("%s: cluster state not ok", n.addr())
			}
			text, err := n.client.ClusterNodes(ctx).Result()
			if err != nil {
				return err
			}
			nodes := parseClusterNodes(text)
			if check != nil {
				if err := check(nodes); err != nil {
					return err
				}
			}
			if l := summary(nodes); layout == "" {
				layout = l
			} else if l != layout {
				return fmt.Errorf("%s sees another layout", n.addr())
			}
			repl, err := n.client.Info(ctx, "replication").Result()
			if err != nil {
				return err
			}
			if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
				return fmt.Errorf("%s: replica not in sync", n.addr())
			}
		}
		return nil
	})
}

// summary is the layout of nodes: who serves which slots, who replicates
// whom, who has failed.
func summary(nodes []ClusterNode) string {
	lines := make([]string, len(nodes))
	for i, n := range nodes {
		lines[i] = fmt.Sprint(n.ID, n.Master, n.MasterID, n.Failed, n.Slots)
	}
	for i := 1; i < len(lines); i++ {
		for j := i; j > 0 && lines[j] < lines[j-1]; j-- {
			lines[j], lines[j-1] = lines[j-1], lines[j]
		}
	}
	return strings.Join(lines, "\n")
}

func (c *RedisCluster) logTails() {
	for _, n := range c.nodes {
		b, err := os.ReadFile(filepath.Join(n.dir, "server.log"))
		if err != nil {
			continue
		}
		if len(b) > 1500 {
			b = b[len(b)-1500:]
		}
		c.t.Logf("testserver: end of the log of cluster node %s:\n%s", n.addr(), b)
	}
}
