//go:build unix

package http_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	nethttp "net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/memory"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/token"
)

// The memory an open event stream costs the server. The streams' clients
// run in a child process (this test binary, running
// TestEventStreamMemoryClient), so that only the server's memory is
// measured: before and after opening the streams, each time after two
// garbage collections.

const (
	streamClientURL    = "BOXOFFICE_STREAM_CLIENT_URL"
	streamClientTokens = "BOXOFFICE_STREAM_CLIENT_TOKENS"
)

// memorySample is what runtime/metrics says of the process's memory.
type memorySample struct {
	objects, stacks, total, goroutines float64
}

func sampleMemory() memorySample {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/sched/goroutines:goroutines"},
	}
	metrics.Read(s)
	return memorySample{
		objects:    float64(s[0].Value.Uint64()),
		stacks:     float64(s[1].Value.Uint64()),
		total:      float64(s[2].Value.Uint64() - s[3].Value.Uint64()),
		goroutines: float64(s[4].Value.Uint64()),
	}
}

func TestEventStreamMemory(t *testing.T) {
	n := 10000
	if testing.Short() || raceEnabled {
		n = 200 // the race detector's figures say nothing of production
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(n)+1000 {
		n = int(lim.Cur) - 1000
		t.Logf("open files limited to %d: measuring %d streams", lim.Cur, n)
	}
	ctx := context.Background()
	clock := boxoffice.NewManualClock(base)
	signer, err := token.NewSigner([]byte("0123456789abcdef-memory-secret"))
	if err != nil {
		t.Fatal(err)
	}
	qs := queue.NewService(memory.NewQueueStore(), clock, "memory", time.Second, nil, nil, nil)
	room := queue.Room{ConcertID: boxoffice.NewID(), OpensAt: base.Add(-time.Hour),
		Settings: queue.Settings{Strategy: queue.Rate, AdmitPerSecond: 1, SessionSeconds: 600, IdleSeconds: 3600}}
	var lines strings.Builder
	for range n {
		user := boxoffice.NewID()
		st, _, err := qs.Join(ctx, room, user)
		if err != nil {
			t.Fatal(err)
		}
		access := signer.AccessToken(token.Access{UserID: user, IssuedAt: base, ExpiresAt: base.Add(time.Hour)})
		fmt.Fprintf(&lines, "%s\t%s\n", access, signer.QueueToken(st.Ticket))
	}
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	srv := boxhttp.NewServer(boxhttp.Options{Queue: qs, Signer: signer, Clock: clock})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &nethttp.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	hs.RegisterOnShutdown(srv.CloseStreams)
	go hs.Serve(ln)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})

	before := sampleMemory()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEventStreamMemoryClient$")
	cmd.Env = append(os.Environ(), streamClientURL+"=http://"+ln.Addr().String(), streamClientTokens+"="+tokens)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	ready := false
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
			if got, _ := strconv.Atoi(line); got != n {
				t.Fatalf("client opened %d streams, want %d", got, n)
			}
			ready = true
			break
		}
	}
	if !ready {
		cmd.Wait()
		t.Fatalf("client process ended before opening its streams")
	}
	if got := srv.Streams(); got != n {
		t.Errorf("open streams: got %d, want %d", got, n)
	}
	after := sampleMemory()
	per := func(a, b float64) float64 { return (b - a) / float64(n) / 1024 }
	t.Logf("%d streams, per stream on the server: heap objects %.1f KiB, goroutine stacks %.1f KiB, total mapped (less released) %.1f KiB, goroutines %.2f",
		n, per(before.objects, after.objects), per(before.stacks, after.stacks), per(before.total, after.total),
		(after.goroutines-before.goroutines)/float64(n))
	// net/http runs two goroutines per connection (its reader and the
	// handler's); a stream must add none of its own. The memory bound,
	// checked at full size only (the race detector inflates memory), is
	// about twice what it measures, to catch a stream that holds a buffer
	// or a timer of its own.
	if g := (after.goroutines - before.goroutines) / float64(n); g > 2.1 {
		t.Errorf("goroutines per stream: got %.2f, want at most net/http's 2", g)
	}
	if kib := per(before.total, after.total); !raceEnabled && kib > 64 {
		t.Errorf("memory per stream: got %.1f KiB, want under 64 KiB", kib)
	}

	stdin.Close()
	go func() { _, _ = bufio.NewReader(stdout).WriteTo(discard{}) }()
	if err := cmd.Wait(); err != nil {
		t.Errorf("client process: %v", err)
	}
	for srv.Streams() != 0 {
		time.Sleep(10 * time.Millisecond) // the handlers notice the closed connections
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestEventStreamMemoryClient is the client process of
// TestEventStreamMemory: it opens one stream per line of the tokens file,
// reads each stream's first event, prints "ready <n>" and holds the streams
// open until its standard input closes.
func TestEventStreamMemoryClient(t *testing.T) {
	base := os.Getenv(streamClientURL)
	if base == "" {
		t.Skip("the client process of TestEventStreamMemory")
	}
	b, err := os.ReadFile(os.Getenv(streamClientTokens))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	hc := &nethttp.Client{Transport: &nethttp.Transport{MaxIdleConnsPerHost: -1, DisableCompression: true}}
	client := boxhttp.NewClient(base, hc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		streams []*boxhttp.EventStream
		failed  error
	)
	sem := make(chan struct{}, 64) // dial gradually: the listen backlog is finite
	for _, line := range lines {
		access, queueToken, _ := strings.Cut(line, "\t")
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			es, err := client.QueueEvents(ctx, access, queueToken, 0)
			if err == nil {
				_, err = es.Next()
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = err
				return
			}
			streams = append(streams, es)
		}()
	}
	wg.Wait()
	if failed != nil {
		t.Fatalf("open stream: %v", failed)
	}
	fmt.Printf("ready %d\n", len(streams))
	_, _ = bufio.NewReader(os.Stdin).WriteTo(discard{})
	for _, es := range streams {
		es.Close()
	}
}
