package http

import (
	"context"
	"errors"
	nethttp "net/http"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// eventsRoute is the path of the queue event stream.
const eventsRoute = "/v1/queue/events"

// The queue event stream: GET /v1/queue/events answers text/event-stream,
// one "status" event per change of the caller's QueueStatus, until a final
// one. Each stream is one handler waiting on a channel of the queue's
// Watcher; heartbeats come from one shared timer.

// Defaults of the event stream.
const (
	// DefaultMaxStreams bounds the open event streams of one instance.
	// Each costs about 35 KiB of the server's memory, nearly all of it
	// net/http's per connection (see the waiting room notes), and a file
	// descriptor: 20,000 streams take about 700 MiB and leave room for
	// polling clients within a 65,536 descriptor limit. Fans beyond it
	// poll, which costs less per fan while they wait.
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

// events streams the caller's QueueStatus. Errors before the stream starts:
// UNAUTHENTICATED, QUEUE_TOKEN_INVALID, UNAVAILABLE.
func (s *Server) events(w nethttp.ResponseWriter, r *nethttp.Request) {
	ctx := r.Context()
	tok, ch, own, ok := s.openEvents(w, r)
	if !ok {
		return
	}
	defer s.closeStream()
	defer s.owned.release(own)

	// net/http lifts the server's ReadTimeout once a request without body
	// is read, so the stream may outlive it; each write sets its own
	// deadline, so it may outlive a WriteTimeout too.
	rc := nethttp.NewResponseController(w)
	h := w.Header()
	h["Content-Type"] = eventStreamType
	h["Cache-Control"] = noStore
	h["X-Accel-Buffering"] = noBuffering
	w.WriteHeader(nethttp.StatusOK)

	id := lastEventID(r)
	first := true
	lastWrite := time.Now()
	for {
		select {
		case st, ok := <-ch:
			if !ok {
				return
			}
			id++
			if !s.writeEvent(w, rc, st, tok, id, first) {
				return
			}
			first, lastWrite = false, time.Now()
			if st.State != queue.Waiting && st.State != queue.Prequeue {
				return
			}
		case <-s.beat.wait():
			if time.Since(lastWrite) < s.heartbeat {
				continue
			}
			if !writeStream(w, rc, heartbeatLine) {
				return
			}
			lastWrite = time.Now()
		case <-own.replaced:
			writeStream(w, rc, replacedEvent)
			return
		case <-ctx.Done():
			return
		case <-s.streamsDone:
			return
		}
	}
}

// openEvents checks r and opens its stream: a place among the instance's
// streams (closeStream gives it back), the watch of its ticket, and the
// ticket's ownership (release). It answers the refusals itself. Apart from
// events, so that its frame is off the stack while the stream runs.
func (s *Server) openEvents(w nethttp.ResponseWriter, r *nethttp.Request) (tok string, ch <-chan queue.Status, own *ownedStream, ok bool) {
	access, tok, err := streamCredentials(r)
	if err != nil {
		s.writeError(w, r, err)
		return "", nil, nil, false
	}
	a, err := s.signer.VerifyAccess(access, s.clock.Now())
	if err != nil {
		s.writeError(w, r, err)
		return "", nil, nil, false
	}
	t, err := s.ticket(tok, a.UserID, "")
	if err != nil {
		s.writeError(w, r, err)
		return "", nil, nil, false
	}
	if r.Method == nethttp.MethodHead {
		h := w.Header()
		h["Content-Type"] = eventStreamType
		h["Cache-Control"] = noStore
		return "", nil, nil, false
	}
	if !s.openStream() {
		p := newProblem(boxoffice.CodeUnavailable, "too many open event streams; poll GET /v1/queue instead")
		p.retryAfter = streamsBusyRetry
		writeProblem(w, p)
		return "", nil, nil, false
	}
	ch, err = s.watcher.Watch(r.Context(), t)
	if err != nil {
		s.closeStream()
		s.writeError(w, r, err)
		return "", nil, nil, false
	}
	return tok, ch, s.ownStream(r.Context(), t), true
}

// ownStream makes a new stream t's only one. It returns once the other
// instances are told (or after streamAnnounceWait), so that a stream the
// client opens after this one's first event is the newer everywhere.
func (s *Server) ownStream(ctx context.Context, t queue.Ticket) *ownedStream {
	own, announced := s.owned.take(t)
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

// writeEvent writes one status event, with the reconnection delay when it
// is the stream's first.
func (s *Server) writeEvent(w nethttp.ResponseWriter, rc *nethttp.ResponseController, st queue.Status, tok string, id uint64, first bool) bool {
	buf := getBuf()
	b := *buf
	if first {
		b = append(b, "retry: "...)
		b = strconv.AppendInt(b, streamRetryMillis, 10)
		b = append(b, '\n')
	}
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, "\nevent: status\ndata: "...)
	b = s.queueAnswer(st, tok).appendJSON(b)
	b = append(b, '\n', '\n')
	ok := writeStream(w, rc, b)
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

// openStream takes a place for one more stream, or reports that there is
// none left or that streams are closed.
func (s *Server) openStream() bool {
	if s.streams.Add(1) > int64(s.maxStreams) {
		s.streams.Add(-1)
		return false
	}
	select {
	case <-s.streamsDone:
		s.streams.Add(-1)
		return false
	default:
	}
	s.beat.join()
	return true
}

func (s *Server) closeStream() {
	s.beat.leave()
	s.streams.Add(-1)
}

// CloseStreams ends every open event stream and refuses new ones (503), so
// that a graceful shutdown is not kept waiting by them: register it with
// net/http.Server.RegisterOnShutdown. Streams also end when the server's
// base context ends.
func (s *Server) CloseStreams() {
	s.closeOnce.Do(func() {
		if s.stopListen != nil {
			s.stopListen()
		}
		close(s.streamsDone)
		if s.watcher != nil {
			s.watcher.Close()
		}
	})
}

// Streams returns the number of open event streams.
func (s *Server) Streams() int { return int(s.streams.Load()) }

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
