package http_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/memory"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/token"
)

// streamRoom is a Server with a waiting room in memory and nothing else:
// enough for event streams, without a database.
type streamRoom struct {
	srv    *boxhttp.Server
	qs     *queue.Service
	signer *token.Signer
	room   queue.Room
}

func newStreamRoom(t *testing.T, opts ...envOption) *streamRoom {
	t.Helper()
	clock := boxoffice.NewManualClock(base)
	signer, err := token.NewSigner([]byte("0123456789abcdef-parked-secret"))
	if err != nil {
		t.Fatal(err)
	}
	qs := queue.NewService(memory.NewQueueStore(), clock, "parked", time.Second, nil, nil, nil)
	o := boxhttp.Options{Queue: qs, Signer: signer, Clock: clock, StreamTick: 5 * time.Millisecond}
	for _, opt := range opts {
		opt(&o)
	}
	return &streamRoom{srv: boxhttp.NewServer(o), qs: qs, signer: signer, room: queue.Room{
		ConcertID: boxoffice.NewID(), OpensAt: base.Add(-time.Hour),
		Settings: queue.Settings{Strategy: queue.Rate, AdmitPerSecond: 1, SessionSeconds: 600, IdleSeconds: 3600},
	}}
}

// join makes a fan wait in the room and returns their access and queue
// tokens.
func (r *streamRoom) join(t *testing.T) (access, queueToken string, ticket queue.Ticket) {
	t.Helper()
	user := boxoffice.NewID()
	st, _, err := r.qs.Join(context.Background(), r.room, user)
	if err != nil {
		t.Fatal(err)
	}
	return r.signer.AccessToken(token.Access{UserID: user, IssuedAt: base, ExpiresAt: base.Add(time.Hour)}),
		r.signer.QueueToken(st.Ticket), st.Ticket
}

// openRawStream opens an event stream on a TCP connection of its own and
// reads its answer up to the end of the first event.
func openRawStream(d net.Dialer, addr, access, queueToken string) (net.Conn, error) {
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	req := "GET /v1/queue/events HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + access +
		"\r\nQueue-Token: " + queueToken + "\r\nAccept: text/event-stream\r\n\r\n"
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	var got []byte
	buf := make([]byte, 2048)
	for !bytes.Contains(got, []byte("\n\n")) {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("read the first event: %w (got %q)", err, got)
		}
	}
	if !bytes.HasPrefix(got, []byte("HTTP/1.1 200 ")) {
		c.Close()
		return nil, fmt.Errorf("got %q, want 200 and an event", got)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// streamGoroutines returns the stacks of the goroutines that serve event
// streams.
func streamGoroutines() []string {
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	var found []string
	for _, g := range strings.Split(b.String(), "\n\n") {
		for _, f := range []string{"http.(*shard)", "http.(*hangups)", "http.(*eventStreams)", "queue.(*Watcher)"} {
			if strings.Contains(g, f) {
				found = append(found, g)
				break
			}
		}
	}
	return found
}

// TestShutdownEndsStreams checks that a graceful shutdown ends every open
// stream, and that no goroutine of the streams outlives it.
func TestShutdownEndsStreams(t *testing.T) {
	r := newStreamRoom(t)
	before := runtime.NumGoroutine()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &nethttp.Server{Handler: r.srv}
	hs.RegisterOnShutdown(r.srv.CloseStreams)
	served := make(chan struct{})
	go func() { defer close(served); _ = hs.Serve(ln) }()
	var conns []net.Conn
	for range 20 {
		access, queueToken, _ := r.join(t)
		c, err := openRawStream(net.Dialer{}, ln.Addr().String(), access, queueToken)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	if n := r.srv.Streams(); n != 20 {
		t.Fatalf("open streams: got %d, want 20", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	<-served
	// Returns once the streams are closed, by this call or by the one
	// Shutdown started in a goroutine of its own, which may still be on
	// its way out.
	r.srv.CloseStreams()
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Errorf("stream %d: got %v, want it ended (EOF)", i, err)
		}
	}
	if n := r.srv.Streams(); n != 0 {
		t.Errorf("open streams after shutdown: got %d, want 0", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	g := streamGoroutines()
	for ; len(g) != 0 && time.Now().Before(deadline); g = streamGoroutines() {
		time.Sleep(10 * time.Millisecond)
	}
	if len(g) != 0 {
		t.Errorf("goroutines of the streams left 10 s after shutdown:\n%s", strings.Join(g, "\n\n"))
	}
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("goroutines: got %d after shutdown, want at most the %d before the server", n, before)
	}
}

// TestQueueEventsHTTP2 checks that a stream over HTTP/2, whose connection
// is not taken over, follows the same contract.
func TestQueueEventsHTTP2(t *testing.T) {
	r := newStreamRoom(t)
	ts := httptest.NewUnstartedServer(r.srv)
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)
	t.Cleanup(r.srv.CloseStreams)
	aheadTicket := func() queue.Ticket { _, _, tk := r.join(t); return tk }()
	access, queueToken, _ := r.join(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := nethttp.NewRequestWithContext(ctx, "GET", ts.URL+"/v1/queue/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+access)
	req.Header.Set("Queue-Token", queueToken)
	req.Header.Set("Last-Event-ID", "6")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("got %s %d %q, want HTTP/2 200 text/event-stream", resp.Proto, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewReader(resp.Body)
	want := func(prefixes ...string) {
		t.Helper()
		for _, p := range prefixes {
			if got := readLine(t, lines); !strings.HasPrefix(got, p) {
				t.Fatalf("got %q, want a line starting %q", got, p)
			}
		}
	}
	want("retry: 2000", "id: 7", "event: status", `data: {"token"`, "")
	if err := r.qs.Leave(ctx, aheadTicket); err != nil {
		t.Fatal(err)
	}
	want("id: 8", "event: status", "data: ", "")
	if n := r.srv.Streams(); n != 1 {
		t.Errorf("open streams: got %d, want 1", n)
	}
	resp.Body.Close()
	for r.srv.Streams() != 0 {
		time.Sleep(time.Millisecond) // the handler notices the closed stream
	}
}
