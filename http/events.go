package http

import (
	"context"
	"errors"
	"net"
	nethttp "net/http"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// eventsRoute is the path of the queue event stream.
const eventsRoute = "/v1/queue/events"

// The queue event stream: GET /v1/queue/events answers text/event-stream,
// one "status" event per change of the caller's QueueStatus, until a final
// one. Each stream follows a channel of the queue's Watcher. Over HTTP/1
// on TCP its connection is parked (parked.go); otherwise its handler
// serves it, woken for heartbeats by one shared timer.

// Defaults of the event stream.
const (
	// DefaultMaxStreams bounds the open event streams of one instance.
	// Each costs a file descriptor and about 5 KiB of the server's memory
	// when parked (35 KiB when its handler serves it; see the waiting room
	// notes): 20,000 streams leave room for polling clients within a
	// 65,536 descriptor limit. Fans beyond it poll, which costs less per
	// fan while they wait.
	DefaultMaxStreams = 20000
	// DefaultStreamHeartbeat is the longest a stream stays silent: after
	// it, a comment line keeps proxies from closing the connection.
	DefaultStreamHeartbeat = 15 * time.Second
	// streamRetryMillis is the reconnection delay sent to EventSource.
	streamRetryMillis = 2000
	// streamWriteTimeout bounds each write to a stream; a client that
	// reads nothing for that long loses its stream.
	streamWriteTimeout = 10 * time.Second
	// streamAnnounceWait bounds how long a new stream waits for the other
	// instances to be told of it before its first event.
	streamAnnounceWait = time.Second
	// streamsBusyRetry is the Retry-After, in seconds, of a stream refused
	// for lack of room; the client polls meanwhile.
	streamsBusyRetry = 5
)

var (
	eventStreamType = []string{"text/event-stream"}
	noBuffering     = []string{"no"}
	heartbeatLine   = []byte(": keep-alive\n\n")
)

func (s *Server) eventRoutes() {
	s.mux.HandleFunc("GET "+eventsRoute, s.events)

	reg := s.api.OpenAPI().Components.Schemas
	queueStatus := reg.Schema(reflect.TypeFor[QueueStatus](), true, "QueueStatus")
	problem := reg.Schema(reflect.TypeFor[Problem](), true, "Problem")
	problemContent := map[string]*huma.MediaType{problemContentType: {Schema: problem}}
	str := &huma.Schema{Type: huma.TypeString}
	s.api.OpenAPI().AddOperation(&huma.Operation{
		OperationID: "streamQueueStatus", Method: nethttp.MethodGet, Path: eventsRoute, Tags: []string{tagQueue},
		Summary: "Stream the caller's standing as server-sent events",
		Description: "Answers text/event-stream. The first event comes at once and carries `retry: 2000`; " +
			"each event is `id: <n>`, `event: status`, `data: <QueueStatus JSON, as GET /v1/queue answers>`, " +
			"sent whenever the status, position, prequeue size, estimate or session expiry changes. " +
			"Lines starting with a colon are heartbeats, sent after 15 s of silence. The stream ends after " +
			"an ADMITTED, EXPIRED or SOLD_OUT event. While open it keeps the waiting place alive, as polling does.\n\n" +
			"The stream is a state, not a log: on reconnection (`Last-Event-ID`) the current status is sent at once " +
			"and ids go on from the one given, so they increase for as long as a client follows the stream. " +
			"One stream per queue token: opening another ends this one, on whichever instance it is open, with a last event " +
			"`event: replaced` (data `{\"detail\": …}`, no id, and `retry: 3600000`), then the end of the stream. " +
			"A client that gets it should stop (EventSource: `close()`), not reconnect: another stream follows the place; " +
			"the long retry keeps a client that ignores the event from taking the stream back at once. " +
			"A reconnection after a broken connection is such an opening: it ends the dead stream, not itself.\n\n" +
			"Errors before the stream starts are problem+json answers, with the checks of GET /v1/queue. " +
			"Beyond the instance's limit of open streams the answer is 503 UNAVAILABLE with Retry-After: poll GET /v1/queue meanwhile.\n\n" +
			"Browsers' EventSource cannot send headers: it may pass the access token as `?access_token=` and the queue token as `?token=` " +
			"instead. Query strings may be logged by proxies along the way; prefer the headers wherever the client can set them.",
		Security: secBearer,
		Parameters: []*huma.Param{
			{Name: "Queue-Token", In: "header", Schema: str, Description: "The token of the caller's QueueStatus."},
			{Name: "token", In: "query", Schema: str, Description: "The queue token, for clients that cannot set headers."},
			{Name: "access_token", In: "query", Schema: str, Description: "The access token, for clients that cannot set the Authorization header."},
			{Name: "Last-Event-ID", In: "header", Schema: str, Description: "The id of the last event received; ids of the new stream follow it."},
		},
		Responses: map[string]*huma.Response{
			"200": {
				Description: "A stream of QueueStatus events (the schema is that of each event's data).",
				Content:     map[string]*huma.MediaType{"text/event-stream": {Schema: queueStatus}},
			},
			"401": {Description: "UNAUTHENTICATED, QUEUE_TOKEN_INVALID", Content: problemContent},
			"429": {Description: "RATE_LIMITED", Content: problemContent},
			"503": {Description: "UNAVAILABLE: too many open streams, or the waiting room is unreachable", Content: problemContent},
		},
	})
}

// eventStreams is the state of the queue event streams of one Server: the
// Watcher they follow, their limit and count, the heartbeat, the one
// stream per ticket, the writers of parked connections, and the shutdown.
type eventStreams struct {
	watcher    *queue.Watcher // nil without a queue service
	max        int
	heartbeat  time.Duration
	open       atomic.Int64
	beat       *beat // wakes the streams their handlers serve
	owned      *streamSet
	parked     *parking // nil where connections are not parked
	encode     eventEncoder
	done       chan struct{}
	closeOnce  sync.Once
	stopListen context.CancelFunc
}

func newEventStreams(o Options, encode eventEncoder) *eventStreams {
	es := &eventStreams{max: o.MaxStreams, heartbeat: o.StreamHeartbeat, encode: encode, done: make(chan struct{})}
	if es.max <= 0 {
		es.max = DefaultMaxStreams
	}
	if es.heartbeat <= 0 {
		es.heartbeat = DefaultStreamHeartbeat
	}
	es.beat = newBeat(es.heartbeat / 3)
	es.owned = newStreamSet(o.Broadcast)
	if o.Broadcast != nil {
		ctx, stop := context.WithCancel(context.Background())
		es.stopListen = stop
		go o.Broadcast.Listen(ctx, es.owned.heard)
	}
	if o.Queue != nil {
		es.watcher = queue.NewWatcher(o.Queue, o.StreamTick)
	}
	es.parked = newParking(es)
	return es
}

// stream is one open event stream. A parked one (see parking) also holds
// its connection; its shard's goroutine owns the fields below shard.
type stream struct {
	tok   string
	ch    <-chan queue.Status
	own   *ownedStream
	stop  context.CancelFunc // ends the watch
	id    uint64             // of the last event sent
	first bool               // no event sent yet

	shard     *shard // nil unless the stream may be parked
	parked    bool   // shard.mu
	queued    bool   // in shard.ready; shard.mu
	hungUp    atomic.Bool
	conn      net.Conn
	raw       syscall.RawConn
	pollID    uint64
	idx       int    // in shard.list; -1 when not in it
	pending   []byte // the rest of a write the socket could not take
	stalled   time.Time
	lastWrite time.Time
	writable  bool // the poller is asked for the socket's writability
	ending    bool // ends once pending is written
	ended     bool
}

// wake tells the stream's shard that the stream has something to do.
func (st *stream) wake() { st.shard.queue(st) }

// events streams the caller's QueueStatus. Errors before the stream starts:
// UNAUTHENTICATED, QUEUE_TOKEN_INVALID, UNAVAILABLE. Over HTTP/1 without
// TLS, the connection is taken over after the checks and parked (see
// parking); otherwise the handler serves the stream to its end.
func (s *Server) events(w nethttp.ResponseWriter, r *nethttp.Request) {
	st, ok := s.openEvents(w, r)
	if !ok {
		return
	}
	h := w.Header()
	h["Content-Type"] = eventStreamType
	h["Cache-Control"] = noStore
	h["X-Accel-Buffering"] = noBuffering
	if st.shard != nil && s.streams.parked.take(w, r, st) {
		return
	}
	// net/http lifts the server's ReadTimeout once a request without body
	// is read, so the stream may outlive it; each write sets its own
	// deadline, so it may outlive a WriteTimeout too.
	rc := nethttp.NewResponseController(w)
	w.WriteHeader(nethttp.StatusOK)
	s.streams.serve(r.Context(), st, func(b []byte) bool { return writeStream(w, rc, b) })
}

// serve writes st's events with write until the stream ends, from the
// calling goroutine, and ends st.
func (es *eventStreams) serve(ctx context.Context, st *stream, write func([]byte) bool) {
	defer es.end(st)
	es.beat.join()
	defer es.beat.leave()
	lastWrite := time.Now()
	for {
		select {
		case v, ok := <-st.ch:
			if !ok {
				return
			}
			st.id++
			if !es.writeEvent(write, v, st) {
				return
			}
			lastWrite = time.Now()
			if final(v.State) {
				return
			}
		case <-es.beat.wait():
			if time.Since(lastWrite) < es.heartbeat {
				continue
			}
			if !write(heartbeatLine) {
				return
			}
			lastWrite = time.Now()
		case <-st.own.replaced:
			write(replacedEvent)
			return
		case <-ctx.Done():
			return
		case <-es.done:
			return
		}
	}
}

// final reports whether a stream ends after an event of state.
func final(state queue.State) bool { return state != queue.Waiting && state != queue.Prequeue }

// openEvents checks r and opens its stream: a place among the instance's
// streams, the watch of its ticket, and the ticket's ownership, all given
// back by eventStreams.end. It answers the refusals itself.
func (s *Server) openEvents(w nethttp.ResponseWriter, r *nethttp.Request) (*stream, bool) {
	access, tok, err := streamCredentials(r)
	if err != nil {
		s.writeError(w, r, err)
		return nil, false
	}
	a, err := s.o.Signer.VerifyAccess(access, s.o.Clock.Now())
	if err != nil {
		s.writeError(w, r, err)
		return nil, false
	}
	t, err := s.ticket(tok, a.UserID, "")
	if err != nil {
		s.writeError(w, r, err)
		return nil, false
	}
	if r.Method == nethttp.MethodHead {
		h := w.Header()
		h["Content-Type"] = eventStreamType
		h["Cache-Control"] = noStore
		return nil, false
	}
	es := s.streams
	if !es.openOne() {
		p := newProblem(boxoffice.CodeUnavailable, "too many open event streams; poll GET /v1/queue instead")
		p.retryAfter = streamsBusyRetry
		writeProblem(w, p)
		return nil, false
	}
	st := &stream{tok: tok, id: lastEventID(r), first: true, idx: -1, shard: es.parked.shardFor(r)}
	var notify func()
	if st.shard != nil {
		notify = st.wake
	}
	// The watch outlives the request's context once the connection is
	// taken over: it ends with the stream, or with the request until then.
	ctx, stop := context.WithCancel(context.Background())
	st.stop = stop
	unlink := context.AfterFunc(r.Context(), stop)
	defer unlink()
	st.ch, err = es.watcher.WatchFunc(ctx, t, notify)
	if err != nil {
		stop()
		es.open.Add(-1)
		s.writeError(w, r, err)
		return nil, false
	}
	st.own = es.ownStream(r.Context(), t, notify)
	return st, true
}

// ownStream makes a new stream t's only one. It returns once the other
// instances are told (or after streamAnnounceWait), so that a stream the
// client opens after this one's first event is the newer everywhere.
func (es *eventStreams) ownStream(ctx context.Context, t queue.Ticket, notify func()) *ownedStream {
	own, announced := es.owned.takeNotify(t, notify)
	select {
	case <-announced: // at once when this instance runs alone
		return own
	default:
	}
	wait := time.NewTimer(streamAnnounceWait)
	defer wait.Stop()
	select {
	case <-announced:
	case <-wait.C:
	case <-ctx.Done():
	}
	return own
}

// replacedEvent ends a stream that a newer one of its ticket replaced. It
// asks EventSource to wait an hour before reconnecting, so that a client
// that does not handle it does not take the stream back at once.
var replacedEvent = []byte("retry: 3600000\nevent: replaced\ndata: {\"detail\":\"another event stream was opened for this queue token\"}\n\n")

// streamCredentials returns the access and queue tokens of r: from the
// Authorization and Queue-Token headers, or from the access_token and token
// query parameters. Errors: UNAUTHENTICATED.
func streamCredentials(r *nethttp.Request) (access, tok string, err error) {
	tok = r.Header.Get("Queue-Token")
	if v := r.Header.Get("Authorization"); v != "" {
		var ok bool
		if access, ok = bearerToken(v); !ok {
			return "", "", boxoffice.Errorf(boxoffice.CodeUnauthenticated, "malformed Authorization bearer token")
		}
	}
	if access == "" || tok == "" {
		q := r.URL.Query()
		if access == "" {
			access = q.Get("access_token")
		}
		if tok == "" {
			tok = q.Get("token")
		}
	}
	if access == "" {
		return "", "", boxoffice.Errorf(boxoffice.CodeUnauthenticated, "missing Authorization bearer token (or access_token)")
	}
	return access, tok, nil
}

// lastEventID is the id of the last event a reconnecting client received,
// or 0.
func lastEventID(r *nethttp.Request) uint64 {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		return 0
	}
	n, err := strconv.ParseUint(v, 10, 63)
	if err != nil {
		return 0
	}
	return n
}

// eventEncoder appends the event of st's standing v to b.
type eventEncoder func(b []byte, st *stream, v queue.Status) []byte

// appendEvent appends one status event, numbered st.id, with the
// reconnection delay when it is the stream's first.
func (s *Server) appendEvent(b []byte, st *stream, v queue.Status) []byte {
	if st.first {
		b = append(b, "retry: "...)
		b = strconv.AppendInt(b, streamRetryMillis, 10)
		b = append(b, '\n')
		st.first = false
	}
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, st.id, 10)
	b = append(b, "\nevent: status\ndata: "...)
	b = s.queueAnswer(v, st.tok).appendJSON(b)
	return append(b, '\n', '\n')
}

// writeEvent writes the event of st's standing v with write.
func (es *eventStreams) writeEvent(write func([]byte) bool, v queue.Status, st *stream) bool {
	buf := getBuf()
	b := es.encode(*buf, st, v)
	ok := write(b)
	*buf = b
	putBuf(buf)
	return ok
}

// writeStream writes and flushes b within streamWriteTimeout.
func writeStream(w nethttp.ResponseWriter, rc *nethttp.ResponseController, b []byte) bool {
	if err := rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil && !errors.Is(err, nethttp.ErrNotSupported) {
		return false
	}
	if _, err := w.Write(b); err != nil {
		return false
	}
	return rc.Flush() == nil
}

// openOne takes a place for one more stream, or reports that there is
// none left or that streams are closed.
func (es *eventStreams) openOne() bool {
	if es.open.Add(1) > int64(es.max) {
		es.open.Add(-1)
		return false
	}
	select {
	case <-es.done:
		es.open.Add(-1)
		return false
	default:
	}
	return true
}

// end gives back what openEvents took for st.
func (es *eventStreams) end(st *stream) {
	st.stop()
	es.owned.release(st.own)
	es.open.Add(-1)
}

// close ends every open stream and refuses new ones; it returns once the
// streams' goroutines have stopped.
func (es *eventStreams) close() {
	es.closeOnce.Do(func() {
		if es.stopListen != nil {
			es.stopListen()
		}
		close(es.done)
		if es.watcher != nil {
			es.watcher.Close()
		}
		es.parked.close()
	})
}

// CloseStreams ends every open event stream and refuses new ones (503), so
// that a graceful shutdown is not kept waiting by them: register it with
// net/http.Server.RegisterOnShutdown. It returns once the streams'
// goroutines have stopped. Streams whose connection was taken over (see
// parking) end only here, not with the server's base context.
func (s *Server) CloseStreams() { s.streams.close() }

// Streams returns the number of open event streams.
func (s *Server) Streams() int { return int(s.streams.open.Load()) }

// beat wakes every stream periodically from one timer, which runs only
// while streams are open: each wait returns a channel closed at the next
// beat.
type beat struct {
	every time.Duration
	mu    sync.Mutex
	ch    chan struct{}
	users int
	timer *time.Timer
}

func newBeat(every time.Duration) *beat {
	return &beat{every: every, ch: make(chan struct{})}
}

func (b *beat) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

func (b *beat) join() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.users++
	if b.timer == nil {
		b.timer = time.AfterFunc(b.every, b.fire)
	}
}

func (b *beat) leave() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.users--
}

func (b *beat) fire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.ch)
	b.ch = make(chan struct{})
	if b.users > 0 {
		b.timer.Reset(b.every)
	} else {
		b.timer = nil
	}
}
