package http

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice/queue"
)

// TestParkedSlowReader checks that events larger than the socket takes at
// once reach a slow reader whole and in order, each rest written when the
// socket can take it (the heartbeat checks, which retry too, are an hour
// apart here), and that the stream ends when the reader closes.
func TestParkedSlowReader(t *testing.T) {
	const size = 1 << 20 // far more than the socket buffers below hold
	es := &eventStreams{max: 1, heartbeat: time.Hour, owned: newStreamSet(nil), done: make(chan struct{})}
	es.encode = func(b []byte, st *stream, v queue.Status) []byte {
		b = append(b, "id: "...)
		b = strconv.AppendUint(b, st.id, 10)
		b = append(b, "\ndata: "...)
		b = append(b, bytes.Repeat([]byte{'a' + byte(st.id)}, size)...)
		return append(b, "\n\n"...)
	}
	es.parked = newParking(es)
	defer es.close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_ = client.(*net.TCPConn).SetReadBuffer(64 << 10)
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.(*net.TCPConn).SetWriteBuffer(4096)
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}

	ch := make(chan queue.Status, 1)
	tk := queue.Ticket{ConcertID: "c", UserID: "u", Seq: 1}
	st := &stream{ch: ch, stop: func() {}, idx: -1, first: true, shard: es.parked.shards[0]}
	st.own, _ = es.owned.takeNotify(tk, st.wake)
	st.conn, st.raw, st.pending = conn, raw, []byte("head\n\n")
	st.stalled, st.lastWrite = time.Now(), time.Now()
	es.open.Add(1)
	if err := es.parked.hangups.watch(st); err != nil {
		t.Fatal(err)
	}
	if !st.shard.park(st) {
		t.Fatal("shard closed")
	}

	got := make([]byte, 0, 3*size)
	buf := make([]byte, 16<<10)
	// read reads until it has until bytes besides heartbeats.
	read := func(until int) {
		for len(got)-bytes.Count(got, heartbeatLine)*len(heartbeatLine) < until {
			_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := client.Read(buf)
			if err != nil {
				t.Fatalf("read after %d bytes: %v", len(got), err)
			}
			got = append(got, buf[:n]...)
			time.Sleep(50 * time.Microsecond) // slower than the server writes
		}
	}
	const head, event = len("head\n\n"), len("id: 1\ndata: \n\n") + size
	for i := range 3 {
		ch <- queue.Status{Ticket: tk, State: queue.Waiting}
		st.wake()
		read(head + i*event + size) // most of the event: the next waits in ch
	}
	read(head + 3*event)
	events := bytes.Split(bytes.ReplaceAll(got, heartbeatLine, nil), []byte("\n\n"))
	if string(events[0]) != "head" {
		t.Fatalf("got %.20q first, want the head", events[0])
	}
	for i, ev := range events[1:4] {
		want := "id: " + strconv.Itoa(i+1) + "\ndata: " + string(bytes.Repeat([]byte{'a' + byte(i+1)}, size))
		if string(ev) != want {
			t.Fatalf("event %d: got %d bytes starting %.20q, want %d starting %.20q", i+1, len(ev), ev, len(want), want)
		}
	}
	client.Close()
	deadline := time.Now().Add(10 * time.Second)
	for es.open.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := es.open.Load(); n != 0 {
		t.Fatalf("open streams after the reader left: got %d, want 0", n)
	}
	if _, err := io.ReadAll(conn); err == nil {
		t.Error("the server's end of the connection is still open")
	}
}
