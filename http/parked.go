package http

import (
	"bytes"
	"net"
	nethttp "net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Parked event streams. Served by its handler, a stream costs what
// net/http spends on a connection: the handler's goroutine and stack, the
// background reader's, and two 4 KiB buffers. A stream over HTTP/1 on a
// TCP connection instead gives its connection up to the server: the
// handler takes it over (Hijack) after the checks, drops net/http's
// buffers, puts the stream on one of a few shards and returns. Each
// shard's one goroutine writes its streams' headers, events and heartbeats
// with non-blocking writes; the Watcher and the stream set wake it when a
// stream has something to send. One goroutine per instance learns from
// the kernel (epoll) which parked connections the client closed. A write
// the socket cannot take whole keeps its rest, written when the poller
// reports the socket writable, and the stream's next status waits in its
// channel (which keeps only the latest) until the rest is written; a
// stream whose write has not gone out within streamWriteTimeout ends, as
// it does when served by its handler.

// parking serves the parked streams of one Server.
type parking struct {
	streams *eventStreams
	shards  []*shard
	next    atomic.Uint32
	hangups hangups
	sweep   time.Duration // between heartbeat checks
	wg      sync.WaitGroup
}

// shard is a part of the parked streams and the goroutine that writes to
// them, which runs while the shard has streams.
type shard struct {
	p       *parking
	wake    chan struct{}
	mu      sync.Mutex
	ready   []*stream // streams with something to do
	running bool
	closed  bool
	list    []*stream // the shard's streams; owned by its goroutine
}

// newParking returns the parking of es, or nil where connections cannot
// be parked.
func newParking(es *eventStreams) *parking {
	if !canPark {
		return nil
	}
	p := &parking{streams: es, sweep: es.heartbeat / 3}
	p.shards = make([]*shard, max(runtime.GOMAXPROCS(0), 4))
	for i := range p.shards {
		p.shards[i] = &shard{p: p, wake: make(chan struct{}, 1)}
	}
	return p
}

// shardFor returns the shard of r's stream, or nil when r's connection
// cannot be parked: HTTP/2, TLS, or not TCP.
func (p *parking) shardFor(r *nethttp.Request) *shard {
	if p == nil || r.ProtoMajor != 1 || r.TLS != nil {
		return nil
	}
	if _, ok := r.Context().Value(nethttp.LocalAddrContextKey).(*net.TCPAddr); !ok {
		return nil
	}
	return p.shards[p.next.Add(1)%uint32(len(p.shards))]
}

// take takes r's connection over and parks st on it, or reports that the
// connection could not be taken (the handler serves st then). A connection
// that is taken but cannot be parked (not a socket, or the poller failed)
// is served by the calling goroutine.
func (p *parking) take(w nethttp.ResponseWriter, r *nethttp.Request, st *stream) bool {
	conn, brw, err := nethttp.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	h := w.Header().Clone()
	h.Set("Date", time.Now().UTC().Format(nethttp.TimeFormat))
	h.Set("Connection", "close") // the stream ends when the connection does
	_ = h.Write(&head)
	head.WriteString("\r\n")
	brw.Reader.Reset(nil) // net/http's buffers are not kept
	brw.Writer.Reset(nil)

	sc, ok := conn.(syscall.Conn)
	var raw syscall.RawConn
	if ok {
		raw, err = sc.SyscallConn()
	}
	if !ok || err != nil {
		p.serveConn(r, conn, head.Bytes(), st)
		return true
	}
	st.conn, st.raw, st.pending = conn, raw, head.Bytes()
	st.stalled, st.lastWrite = time.Now(), time.Now()
	if err := p.hangups.watch(st); err != nil {
		st.conn, st.raw, st.pending = nil, nil, nil
		p.serveConn(r, conn, head.Bytes(), st)
		return true
	}
	if !st.shard.park(st) { // the streams are closing
		p.hangups.forget(st)
		conn.Close()
		p.streams.end(st)
	}
	return true
}

// serveConn serves st on a taken connection that cannot be parked, from
// the calling goroutine.
func (p *parking) serveConn(r *nethttp.Request, conn net.Conn, head []byte, st *stream) {
	defer conn.Close()
	write := func(b []byte) bool {
		if conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout)) != nil {
			return false
		}
		_, err := conn.Write(b)
		return err == nil
	}
	if !write(head) {
		p.streams.end(st)
		return
	}
	p.streams.serve(r.Context(), st, write)
}

// park adds st to the shard, or reports that the shard is closed.
func (sh *shard) park(st *stream) bool {
	sh.mu.Lock()
	if sh.closed {
		sh.mu.Unlock()
		return false
	}
	st.parked = true
	if !st.queued {
		st.queued = true
		sh.ready = append(sh.ready, st)
	}
	if !sh.running {
		sh.running = true
		sh.p.wg.Add(1)
		go sh.run()
	}
	sh.mu.Unlock()
	sh.signal()
	return true
}

// queue asks the shard's goroutine to look at st. It does not block.
func (sh *shard) queue(st *stream) {
	sh.mu.Lock()
	if !st.queued {
		st.queued = true
		sh.ready = append(sh.ready, st)
	}
	sh.mu.Unlock()
	sh.signal()
}

func (sh *shard) signal() {
	select {
	case sh.wake <- struct{}{}:
	default:
	}
}

// run serves the shard's streams until it has none left or the streams
// close.
func (sh *shard) run() {
	defer sh.p.wg.Done()
	tick := time.NewTicker(sh.p.sweep)
	defer tick.Stop()
	var batch []*stream
	for {
		select {
		case <-sh.wake:
		case now := <-tick.C:
			sh.tendAll(now)
		case <-sh.p.streams.done:
			return
		}
		sh.mu.Lock()
		batch, sh.ready = sh.ready, batch[:0]
		for _, st := range batch {
			st.queued = false
		}
		sh.mu.Unlock()
		now := time.Now()
		for i, st := range batch {
			sh.serve(st, now)
			batch[i] = nil
		}
		sh.mu.Lock()
		if len(sh.list) == 0 && len(sh.ready) == 0 {
			sh.running = false
			sh.mu.Unlock()
			return
		}
		sh.mu.Unlock()
	}
}

// serve sends st what it has to send: the rest of a write, the replaced
// event, its latest standing.
func (sh *shard) serve(st *stream, now time.Time) {
	sh.mu.Lock()
	parked := st.parked
	sh.mu.Unlock()
	if !parked || st.ended {
		return // served by its handler, or already ended
	}
	if st.idx < 0 {
		st.idx = len(sh.list)
		sh.list = append(sh.list, st)
	}
	if st.hungUp.Load() {
		sh.end(st)
		return
	}
	if !sh.flush(st, now) {
		return
	}
	select {
	case <-st.own.replaced:
		st.ending = true
		sh.send(st, replacedEvent, now)
		return
	default:
	}
	select {
	case v, ok := <-st.ch:
		if !ok {
			sh.end(st)
			return
		}
		st.id++
		buf := getBuf()
		b := sh.p.streams.encode(*buf, st, v)
		st.ending = final(v.State)
		sh.send(st, b, now)
		*buf = b
		putBuf(buf)
	default:
	}
}

// tendAll ends the shard's streams whose client left, retries the writes
// the sockets could not take, and sends heartbeats to the streams silent
// for the heartbeat interval.
func (sh *shard) tendAll(now time.Time) {
	heartbeat := sh.p.streams.heartbeat
	for i := 0; i < len(sh.list); {
		st := sh.list[i]
		switch {
		case st.hungUp.Load():
			sh.end(st)
		case len(st.pending) > 0:
			sh.flush(st, now)
		case now.Sub(st.lastWrite) >= heartbeat:
			sh.send(st, heartbeatLine, now)
		}
		if i < len(sh.list) && sh.list[i] == st {
			i++
		} // else st ended: another stream took its place
	}
}

// send writes b to st, keeping what the socket cannot take; st ends on an
// error, or when it is ending and all is written.
func (sh *shard) send(st *stream, b []byte, now time.Time) {
	n, err := rawWrite(st.raw, b)
	if err != nil {
		sh.end(st)
		return
	}
	st.lastWrite = now
	if n < len(b) {
		st.pending = append([]byte(nil), b[n:]...)
		st.stalled = now
		sh.waitWritable(st)
		return
	}
	if st.ending {
		sh.end(st)
	}
}

// flush writes what st has pending and reports whether st may send more.
// st ends when its write has waited streamWriteTimeout.
func (sh *shard) flush(st *stream, now time.Time) bool {
	if len(st.pending) == 0 {
		return true
	}
	n, err := rawWrite(st.raw, st.pending)
	if err != nil {
		sh.end(st)
		return false
	}
	if st.pending = st.pending[n:]; len(st.pending) > 0 {
		if now.Sub(st.stalled) >= streamWriteTimeout {
			sh.end(st)
		} else {
			sh.waitWritable(st)
		}
		return false
	}
	st.pending, st.lastWrite = nil, now
	if st.writable {
		st.writable = false
		if sh.p.hangups.arm(st, false) != nil {
			sh.end(st)
			return false
		}
	}
	if st.ending {
		sh.end(st)
		return false
	}
	return true
}

// waitWritable asks the poller to wake st when its socket can take more.
func (sh *shard) waitWritable(st *stream) {
	st.writable = true
	if sh.p.hangups.arm(st, true) != nil {
		sh.end(st)
	}
}

// end ends a parked stream: its connection closes.
func (sh *shard) end(st *stream) {
	if st.ended {
		return
	}
	st.ended = true
	if i := st.idx; i >= 0 {
		last := sh.list[len(sh.list)-1]
		sh.list[i], last.idx = last, i
		sh.list[len(sh.list)-1] = nil
		sh.list = sh.list[:len(sh.list)-1]
		st.idx = -1
	}
	sh.p.hangups.forget(st)
	st.conn.Close()
	st.pending = nil
	sh.p.streams.end(st)
}

// close ends every parked stream, once eventStreams.done is closed, and
// returns when the shards' goroutines and the hangup poller have stopped.
func (p *parking) close() {
	if p == nil {
		return
	}
	for _, sh := range p.shards {
		sh.mu.Lock()
		sh.closed = true
		sh.mu.Unlock()
	}
	p.wg.Wait()
	for _, sh := range p.shards {
		sh.mu.Lock()
		ready := sh.ready
		sh.ready = nil
		sh.mu.Unlock()
		for len(sh.list) > 0 {
			sh.end(sh.list[0])
		}
		for _, st := range ready {
			if st.parked {
				sh.end(st)
			}
		}
	}
	p.hangups.stop()
}
