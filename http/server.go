// Package http serves the Boxoffice HTTP API (the API contract, v1) and
// holds a Go client for it. The Server is huma on the standard library's
// ServeMux; the Client speaks the same JSON types.
package http

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	nethttp "net/http"
	"net/netip"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/event"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/token"
	"github.com/boxoffice/boxoffice/wallet"
)

// Options configure a Server.
type Options struct {
	Wallet   *wallet.Service
	Concerts *concert.Service
	Booking  *booking.Service
	Queue    *queue.Service
	Signer   *token.Signer
	// Provider, when set, also accepts bearer JWTs of the operator's
	// identity provider.
	Provider *token.Provider
	// NoSignup turns POST /v1/users off (NOT_FOUND).
	NoSignup bool
	// AccessTTL is the lifetime of issued access tokens; default 24h.
	AccessTTL time.Duration
	// AdminKey is the bearer key of /v1/admin/*; empty admits nobody.
	AdminKey string
	// Clock defaults to the system clock.
	Clock boxoffice.Clock
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Registry receives the server's metrics and is served at /metrics;
	// default a new registry.
	Registry *prometheus.Registry
	// MetricsApart leaves /metrics out of the API (NOT_FOUND): the
	// caller serves Server.Metrics on a private address.
	MetricsApart bool
	// RateLimit is the requests per second allowed per client address on
	// queue joins and writes; 0 turns limiting off.
	RateLimit float64
	// Limiter replaces the in-process limiter built from RateLimit.
	Limiter Limiter
	// SignupLimit is the sign-ups allowed per client address and hour;
	// 0 turns limiting off.
	SignupLimit int
	// Signups replaces the in-process quota built from SignupLimit.
	Signups Quota
	// AdminFailures replaces the in-process quota of failed admin
	// authentications (AdminFailureLimit a minute per client address).
	AdminFailures Quota
	// Broadcast tells the other instances of event streams opened here,
	// so that a ticket's older stream ends wherever it is open; nil when
	// this instance runs alone.
	Broadcast Broadcast
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// Ready reports whether the backing services are reachable (/readyz).
	Ready func(ctx context.Context) error
	// MaxBodyBytes bounds request bodies; default 64 KiB. Concert creation
	// allows at least 1 MiB.
	MaxBodyBytes int64
	// MaxHeaderBytes bounds a request's line and headers; default
	// DefaultMaxHeaderBytes. Larger requests are INVALID_REQUEST (431).
	MaxHeaderBytes int
	// MaxStreams bounds the open queue event streams of this instance;
	// default DefaultMaxStreams.
	MaxStreams int
	// StreamHeartbeat is the longest an event stream stays silent; default
	// DefaultStreamHeartbeat.
	StreamHeartbeat time.Duration
	// RequestTimeout bounds every request but the event stream: a backing
	// service slower than it is answered UNAVAILABLE or OUTCOME_UNKNOWN;
	// default DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Events is the outbox whose numbered events /v1/admin/events serves;
	// nil leaves the route out.
	Events event.Store
	// StreamTick is how often event streams of fans near the head are
	// refreshed; default queue.DefaultWatchTick. It must stay below half
	// the shortest idle limit of the waiting rooms (500 ms).
	StreamTick time.Duration
}

// Defaults of Options.
const (
	DefaultAccessTTL    = 24 * time.Hour
	DefaultMaxBodyBytes = 64 << 10
	maxConcertBodyBytes = 1 << 20
	readyTimeout        = time.Second
	// DefaultRequestTimeout is the request deadline of Options.
	DefaultRequestTimeout = 10 * time.Second
)

// Server answers the API. It implements net/http.Handler.
type Server struct {
	o Options // as given, with the defaults filled in

	idp      *identities // nil without a provider
	adminKey []byte      // SHA-256 of the admin key, nil when none
	draining atomic.Bool

	mux      *nethttp.ServeMux
	api      huma.API
	metrics  *metrics
	seatMaps seatMaps

	specOnce sync.Once
	spec     []byte

	streams *eventStreams
}

// NewServer returns a Server answering every route of the API contract.
// Call CloseStreams when shutting down.
func NewServer(o Options) *Server {
	o = o.withDefaults()
	s := &Server{
		o:   o,
		idp: newIdentities(o.Provider),
		mux: nethttp.NewServeMux(),
	}
	if o.AdminKey != "" {
		h := sha256.Sum256([]byte(o.AdminKey))
		s.adminKey = h[:]
	}
	s.streams = newEventStreams(o, s.appendEvent)
	s.metrics = newMetrics(o.Registry, s, s.o.Logger)
	s.api = humago.New(s.mux, apiConfig())
	s.routes()
	return s
}

// withDefaults returns o with every unset option at its default.
func (o Options) withDefaults() Options {
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = DefaultMaxStreams
	}
	if o.StreamHeartbeat <= 0 {
		o.StreamHeartbeat = DefaultStreamHeartbeat
	}
	if o.AccessTTL <= 0 {
		o.AccessTTL = DefaultAccessTTL
	}
	if o.Clock == nil {
		o.Clock = boxoffice.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Limiter == nil && o.RateLimit > 0 {
		o.Limiter = NewLocalLimiter(o.RateLimit, 0)
	}
	if o.Signups == nil && o.SignupLimit > 0 {
		o.Signups = NewLocalQuota(o.SignupLimit, SignupWindow)
	}
	if o.AdminFailures == nil {
		o.AdminFailures = NewLocalQuota(AdminFailureLimit, AdminFailureWindow)
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return o
}

func apiConfig() huma.Config {
	return huma.Config{
		OpenAPI: &huma.OpenAPI{
			OpenAPI: "3.1.0",
			Info: &huma.Info{
				Title:   "Boxoffice",
				Version: "1",
				Description: "Concert ticketing with a virtual waiting room. Every non-2xx answer is " +
					"an application/problem+json body with a machine-readable code. A body is one JSON value; " +
					"integers are written with digits only (1e3 and 1000.0 are refused, INVALID_REQUEST).",
			},
			Components: &huma.Components{
				Schemas: huma.NewMapRegistry("#/components/schemas/", huma.DefaultSchemaNamer),
				SecuritySchemes: map[string]*huma.SecurityScheme{
					"bearer": {
						Type: "http", Scheme: "bearer",
						Description: "Access token issued by POST /v1/users.",
					},
					"adminKey": {
						Type: "http", Scheme: "bearer",
						Description: "The admin key from the server's configuration.",
					},
				},
			},
		},
		Formats:       map[string]huma.Format{"application/json": jsonFormat, "json": jsonFormat},
		DefaultFormat: "application/json",
	}
}

// Tags of the OpenAPI document.
const (
	tagUsers   = "Users and wallet"
	tagConcert = "Concerts"
	tagQueue   = "Waiting room"
	tagBooking = "Dates, seats, reservations, payments"
	tagAdmin   = "Admin"
	tagOps     = "Operations"
)

// Security requirements of operations.
var (
	secBearer = []map[string][]string{{"bearer": {}}}
	secAdmin  = []map[string][]string{{"adminKey": {}}}
)

func (s *Server) routes() {
	s.userRoutes()
	s.concertRoutes()
	s.queueRoutes()
	s.bookingRoutes()
	s.adminRoutes()
	s.feedRoutes()
	s.opsRoutes()
	s.webRoutes()
}

// handle registers an operation whose handler's errors are answered as
// problems. Handlers return domain errors; anything else is internal.
func handle[I, O any](s *Server, op huma.Operation, h func(context.Context, *I) (*O, error)) {
	method, route := op.Method, op.Path
	if op.MaxBodyBytes == 0 {
		op.MaxBodyBytes = s.o.MaxBodyBytes
	}
	huma.Register(s.api, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		if err != nil {
			return nil, s.problem(method, route, err)
		}
		return out, nil
	})
}

// problem is the one way from an error to its answer; internal errors are
// logged with the request's method and route, and answered with nothing
// more than "internal error".
func (s *Server) problem(method, route string, err error) *Problem {
	p, internal := problemFor(err)
	if internal && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		// A deadline or cancellation no adapter classified: a read changed
		// nothing; a change may or may not have been made.
		if method == nethttp.MethodGet || method == nethttp.MethodHead {
			p = newProblem(boxoffice.CodeUnavailable, "the request took too long; nothing was changed")
		} else {
			p = newProblem(boxoffice.CodeOutcomeUnknown, "the request took too long; the change may or may not have been made: retry with the same Idempotency-Key or read the resource")
		}
		internal = false
	}
	switch {
	case internal:
		s.o.Logger.Error("internal error", "method", method, "route", route, "err", err)
	case p.Code == boxoffice.CodeUnavailable, p.Code == boxoffice.CodeOutcomeUnknown:
		s.o.Logger.Warn("backing service unavailable", "method", method, "route", route, "code", p.Code, "err", err)
	}
	return p
}

// writeError answers err outside operation handlers.
func (s *Server) writeError(w nethttp.ResponseWriter, r *nethttp.Request, err error) {
	writeProblem(w, s.problem(r.Method, routeOf(r), err))
}

// out is an answer with a body only.
type out[T any] struct {
	Body T
}

// ServeHTTP answers one request under the request deadline (event streams
// excepted): rate limit, route, recover from panics, and record the
// request's duration.
func (s *Server) ServeHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {
	start := time.Now()
	r = canonicalIDs(r)
	if r.URL.Path != eventsRoute { // a stream lasts as long as the fan waits
		ctx, cancel := context.WithTimeout(r.Context(), s.o.RequestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
	}
	rec := recorderPool.Get().(*recorder)
	rec.w, rec.r, rec.status = w, r, 0
	defer s.finish(rec, r, start)
	if headerBytes(r) > s.o.MaxHeaderBytes {
		writeProblem(rec, headersTooLarge(s.o.MaxHeaderBytes))
		return
	}
	if s.o.Limiter != nil && rateLimited(r) && !s.allow(rec, r) {
		return
	}
	s.mux.ServeHTTP(rec, r)
}

func (s *Server) finish(rec *recorder, r *nethttp.Request, start time.Time) {
	if v := recover(); v != nil {
		if v == nethttp.ErrAbortHandler {
			panic(v)
		}
		s.o.Logger.Error("panic", "method", r.Method, "route", routeOf(r), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		if rec.status != 0 {
			// Part of an answer is out: drop the connection rather than
			// let a truncated answer pass for a whole one.
			panic(nethttp.ErrAbortHandler)
		}
		writeProblem(rec, newProblem(boxoffice.CodeInternal, "internal error"))
	}
	status := rec.status
	if status == 0 {
		status = nethttp.StatusOK
	}
	// A stream's duration is how long the fan waited, not a response time:
	// streams are counted by boxoffice_queue_streams instead.
	if route := routeOf(r); route != eventsRoute || status != nethttp.StatusOK {
		s.metrics.duration.WithLabelValues(route, methodLabel(r.Method), codeLabel(status)).Observe(time.Since(start).Seconds())
	}
	*rec = recorder{}
	recorderPool.Put(rec)
}

// canonicalIDs returns r with every id of its path in canonical form: a
// UUID is one id whatever the case of its hex digits, so every route sees
// one spelling of it. r itself comes back when its path has none to change.
func canonicalIDs(r *nethttp.Request) *nethttp.Request {
	p := r.URL.Path
	var b []byte
	for i := 0; i < len(p); {
		j := strings.IndexByte(p[i:], '/')
		if j < 0 {
			j = len(p) - i
		}
		if seg := p[i : i+j]; j == 36 {
			if id, ok := boxoffice.CanonID(seg); ok && id != seg {
				if b == nil {
					b = []byte(p)
				}
				copy(b[i:], id)
			}
		}
		i += j + 1
	}
	if b == nil {
		return r
	}
	r2 := *r
	u := *r.URL
	u.Path, u.RawPath = string(b), ""
	r2.URL = &u
	return &r2
}

// rateLimited reports whether r is limited per client: writes outside
// /v1/admin/ (queue joins are writes) and openings of event streams.
func rateLimited(r *nethttp.Request) bool {
	switch r.Method {
	case nethttp.MethodGet:
		return r.URL.Path == eventsRoute
	case nethttp.MethodHead, nethttp.MethodOptions:
		return false
	}
	return !strings.HasPrefix(r.URL.Path, "/v1/admin/")
}

// allow applies the rate limit to r, answering RATE_LIMITED when over it.
func (s *Server) allow(w nethttp.ResponseWriter, r *nethttp.Request) bool {
	key, group := s.clientKeys(r)
	ok, wait, err := s.o.Limiter.Allow(r.Context(), key, group, s.o.Clock.Now())
	if err != nil {
		s.o.Logger.Warn("rate limiter failed; request let through", "err", err)
		return true
	}
	if !ok {
		writeProblem(w, rateLimitedProblem(retrySeconds(wait)))
		return false
	}
	return true
}

// clientKeys are the limit keys of r's client address (see clientKeys),
// or its peer as given when that cannot be parsed.
func (s *Server) clientKeys(r *nethttp.Request) (key, group string) {
	if a, ok := clientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.o.TrustedProxies); ok {
		return clientKeys(a)
	}
	return r.RemoteAddr, ""
}

// routeOf is the route pattern r matched, without its method, or
// "unmatched".
func routeOf(r *nethttp.Request) string {
	p := r.Pattern
	if p == "" {
		return "unmatched"
	}
	if i := strings.IndexByte(p, ' '); i >= 0 {
		return p[i+1:]
	}
	return p
}

var recorderPool = sync.Pool{New: func() any { return new(recorder) }}

// recorder remembers the status of an answer, and answers the mux's own
// "404 page not found" and "405 method not allowed" as problems.
type recorder struct {
	w       nethttp.ResponseWriter
	r       *nethttp.Request
	status  int
	discard bool // the mux's plain-text body is replaced
}

func (rw *recorder) Header() nethttp.Header { return rw.w.Header() }

func (rw *recorder) WriteHeader(code int) {
	if rw.status != 0 || code < 200 {
		rw.w.WriteHeader(code)
		return
	}
	rw.status = code
	if rw.r.Pattern == "" && (code == nethttp.StatusNotFound || code == nethttp.StatusMethodNotAllowed) {
		rw.discard = true
		p := newProblem(boxoffice.CodeNotFound, "no such resource")
		if code == nethttp.StatusMethodNotAllowed {
			p = newProblem(boxoffice.CodeInvalidRequest, "method "+rw.r.Method+" not allowed here")
			p.Status = nethttp.StatusMethodNotAllowed
		}
		writeProblem(rw.w, p)
		return
	}
	rw.w.WriteHeader(code)
}

func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.WriteHeader(nethttp.StatusOK)
	}
	if rw.discard {
		return len(b), nil
	}
	return rw.w.Write(b)
}

// Flush sends what is buffered, for streamed answers.
func (rw *recorder) Flush() { _ = rw.FlushError() }

// FlushError is Flush reporting failure, for net/http.ResponseController.
func (rw *recorder) FlushError() error {
	if rw.status == 0 {
		rw.WriteHeader(nethttp.StatusOK)
	}
	return nethttp.NewResponseController(rw.w).Flush()
}

// Unwrap lets net/http.ResponseController reach the connection.
func (rw *recorder) Unwrap() nethttp.ResponseWriter { return rw.w }

// Operations: health, readiness, metrics, the OpenAPI document and docs.

var healthBody = []byte(`{"status":"ok"}` + "\n")

func (s *Server) opsRoutes() {
	s.mux.HandleFunc("GET /healthz", func(w nethttp.ResponseWriter, _ *nethttp.Request) { writeHealthy(w) })
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if !s.o.MetricsApart {
		s.mux.Handle("GET /metrics", s.Metrics())
	}
	s.mux.HandleFunc("GET /openapi.json", s.openAPI)
	s.docsRoutes()

	healthSchema := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[Health](), true, "Health")
	problemSchema := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[Problem](), true, "Problem")
	jsonHealth := map[string]*huma.MediaType{"application/json": {Schema: healthSchema}}
	s.api.OpenAPI().AddOperation(&huma.Operation{
		OperationID: "healthz", Method: nethttp.MethodGet, Path: "/healthz", Tags: []string{tagOps},
		Summary:   "Process is up",
		Responses: map[string]*huma.Response{"200": {Description: "OK", Content: jsonHealth}},
	})
	s.api.OpenAPI().AddOperation(&huma.Operation{
		OperationID: "readyz", Method: nethttp.MethodGet, Path: "/readyz", Tags: []string{tagOps},
		Summary: "Backing services are reachable",
		Responses: map[string]*huma.Response{
			"200": {Description: "OK", Content: jsonHealth},
			"503": {Description: "A backing service is down", Content: map[string]*huma.MediaType{problemContentType: {Schema: problemSchema}}},
		},
	})
	if s.o.MetricsApart {
		return
	}
	s.api.OpenAPI().AddOperation(&huma.Operation{
		OperationID: "metrics", Method: nethttp.MethodGet, Path: "/metrics", Tags: []string{tagOps},
		Summary:   "Prometheus metrics",
		Responses: map[string]*huma.Response{"200": {Description: "Prometheus text exposition"}},
	})
}

// Metrics serves the server's metrics in the Prometheus text format.
func (s *Server) Metrics() nethttp.Handler {
	return promhttp.HandlerFor(s.o.Registry, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(s.o.Logger.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

var (
	jsonContentType = []string{"application/json"}
	noStore         = []string{"no-store"}
)

// Drain makes /readyz answer UNAVAILABLE from now on, so that load
// balancers stop sending requests while the instance shuts down. Requests
// are still served.
func (s *Server) Drain() { s.draining.Store(true) }

func (s *Server) readyz(w nethttp.ResponseWriter, r *nethttp.Request) {
	if s.draining.Load() {
		w.Header()["Cache-Control"] = noStore
		writeProblem(w, newProblem(boxoffice.CodeUnavailable, "draining: the instance is shutting down"))
		return
	}
	if s.o.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.o.Ready(ctx); err != nil {
			s.o.Logger.Warn("not ready", "err", err)
			p := newProblem(boxoffice.CodeUnavailable, "not ready")
			var be *boxoffice.Error
			if errors.As(err, &be) && be.Code == boxoffice.CodeUnavailable {
				p.Detail = be.Message
			}
			w.Header()["Cache-Control"] = noStore
			writeProblem(w, p)
			return
		}
	}
	writeHealthy(w)
}

// writeHealthy answers {"status":"ok"}, for /healthz and /readyz.
func writeHealthy(w nethttp.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	_, _ = w.Write(healthBody)
}

// openAPI serves the OpenAPI 3.1 document, built once.
func (s *Server) openAPI(w nethttp.ResponseWriter, _ *nethttp.Request) {
	s.specOnce.Do(func() {
		b, err := json.Marshal(s.api.OpenAPI())
		if err != nil {
			s.o.Logger.Error("marshal OpenAPI document", "err", err)
			return
		}
		s.spec = b
	})
	if s.spec == nil {
		writeProblem(w, newProblem(boxoffice.CodeInternal, "internal error"))
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(s.spec)
}

// OpenAPI returns the OpenAPI document of the API.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }
