package http

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	nethttp "net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/boxoffice/boxoffice"
)

// bareServer is a Server without backing services, for what needs none.
func bareServer(t *testing.T, o Options) (*Server, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	if o.Clock == nil {
		o.Clock = boxoffice.NewManualClock(t0)
	}
	return NewServer(o), &logs
}

func serve(s nethttp.Handler, r *nethttp.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func decodeProblem(t *testing.T, w *httptest.ResponseRecorder) Problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var p Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("body %q is not a problem: %v", w.Body, err)
	}
	if p.Status != w.Code || p.Type != "about:blank" {
		t.Errorf("problem status %d type %q, want %d about:blank", p.Status, p.Type, w.Code)
	}
	return p
}

func TestUnknownRoute(t *testing.T) {
	s, _ := bareServer(t, Options{})
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantCode           boxoffice.Code
	}{
		{"NotFound", "GET", "/v2/nothing", 404, boxoffice.CodeNotFound},
		{"NotFoundBesideApp", "GET", "/nothing", 404, boxoffice.CodeNotFound},
		{"MethodNotAllowed", "PATCH", "/v1/concerts", 405, boxoffice.CodeInvalidRequest},
		{"MethodNotAllowedOnQueue", "PUT", "/v1/queue", 405, boxoffice.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(s, httptest.NewRequest(tt.method, tt.path, nil))
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			if p := decodeProblem(t, w); p.Code != tt.wantCode {
				t.Errorf("code = %s, want %s", p.Code, tt.wantCode)
			}
		})
	}
	t.Run("AllowHeader", func(t *testing.T) {
		w := serve(s, httptest.NewRequest("PATCH", "/v1/concerts", nil))
		if got := w.Header().Get("Allow"); !strings.Contains(got, "GET") {
			t.Errorf("Allow = %q, want it to list GET", got)
		}
	})
}

func TestPanicIsInternalError(t *testing.T) {
	s, logs := bareServer(t, Options{})
	s.mux.HandleFunc("GET /test/panic", func(nethttp.ResponseWriter, *nethttp.Request) { panic("kaboom") })
	w := serve(s, httptest.NewRequest("GET", "/test/panic", nil))
	if w.Code != 500 {
		t.Fatalf("status = %d, want 500", w.Code)
	}
	p := decodeProblem(t, w)
	if p.Code != boxoffice.CodeInternal || p.Detail != "internal error" {
		t.Errorf("got %s %q, want INTERNAL \"internal error\"", p.Code, p.Detail)
	}
	if !strings.Contains(logs.String(), "kaboom") || !strings.Contains(logs.String(), "goroutine") {
		t.Errorf("log %q lacks the panic and its stack", logs.String())
	}
	// The server still answers.
	if w := serve(s, httptest.NewRequest("GET", "/healthz", nil)); w.Code != 200 {
		t.Errorf("after the panic /healthz = %d, want 200", w.Code)
	}
}

func TestHealthz(t *testing.T) {
	s, _ := bareServer(t, Options{})
	w := serve(s, httptest.NewRequest("GET", "/healthz", nil))
	if w.Code != 200 || w.Body.String() != "{\"status\":\"ok\"}\n" {
		t.Errorf("got %d %q, want 200 {\"status\":\"ok\"}", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
}

func TestReadyz(t *testing.T) {
	t.Run("Ready", func(t *testing.T) {
		s, _ := bareServer(t, Options{Ready: func(ctxt context.Context) error { return nil }})
		if w := serve(s, httptest.NewRequest("GET", "/readyz", nil)); w.Code != 200 {
			t.Errorf("status = %d, want 200", w.Code)
		}
	})
	t.Run("Unavailable", func(t *testing.T) {
		s, _ := bareServer(t, Options{Ready: func(ctxt context.Context) error {
			if _, ok := ctxt.Deadline(); !ok {
				t.Error("Ready got a context without deadline, want the readiness timeout")
			}
			return boxoffice.Unavailable("redis", nethttp.ErrServerClosed)
		}})
		w := serve(s, httptest.NewRequest("GET", "/readyz", nil))
		if w.Code != 503 {
			t.Fatalf("status = %d, want 503", w.Code)
		}
		p := decodeProblem(t, w)
		if p.Code != boxoffice.CodeUnavailable || p.Detail != "redis unavailable" {
			t.Errorf("got %s %q, want UNAVAILABLE \"redis unavailable\"", p.Code, p.Detail)
		}
		if w.Header().Get("Retry-After") == "" {
			t.Error("no Retry-After, want one")
		}
	})
}

func TestReadyzSlowOrDraining(t *testing.T) {
	t.Run("Slow", func(t *testing.T) {
		s, _ := bareServer(t, Options{Ready: func(ctx context.Context) error {
			<-ctx.Done() // a backing service that does not answer
			return ctx.Err()
		}})
		start := time.Now()
		w := serve(s, httptest.NewRequest("GET", "/readyz", nil))
		if w.Code != 503 {
			t.Fatalf("status = %d, want 503", w.Code)
		}
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Errorf("answered after %v, want within the readiness timeout (%v)", d, readyTimeout)
		}
		if p := decodeProblem(t, w); p.Code != boxoffice.CodeUnavailable {
			t.Errorf("got %s, want UNAVAILABLE", p.Code)
		}
	})
	t.Run("Draining", func(t *testing.T) {
		called := false
		s, _ := bareServer(t, Options{Ready: func(context.Context) error { called = true; return nil }})
		s.Drain()
		w := serve(s, httptest.NewRequest("GET", "/readyz", nil))
		if w.Code != 503 {
			t.Fatalf("status = %d, want 503 while draining", w.Code)
		}
		if p := decodeProblem(t, w); p.Code != boxoffice.CodeUnavailable || !strings.Contains(p.Detail, "draining") {
			t.Errorf("got %s %q, want UNAVAILABLE saying draining", p.Code, p.Detail)
		}
		if called {
			t.Error("Ready was asked while draining, want the answer at once")
		}
		// Requests are still served.
		if w := serve(s, httptest.NewRequest("GET", "/healthz", nil)); w.Code != 200 {
			t.Errorf("/healthz = %d while draining, want 200", w.Code)
		}
	})
}

func TestRequestTimeout(t *testing.T) {
	var deadline time.Time
	s, _ := bareServer(t, Options{RequestTimeout: 50 * time.Millisecond, Ready: func(ctx context.Context) error {
		deadline, _ = ctx.Deadline()
		return nil
	}})
	start := time.Now()
	serve(s, httptest.NewRequest("GET", "/readyz", nil))
	if deadline.IsZero() || deadline.Sub(start) > 60*time.Millisecond {
		t.Errorf("handler deadline %v after the start, want the request timeout, 50ms", deadline.Sub(start))
	}
}

// TestDeadlineNeverInternal: a context error no adapter classified is
// UNAVAILABLE for a read and OUTCOME_UNKNOWN for a change, never INTERNAL.
func TestDeadlineNeverInternal(t *testing.T) {
	s, logs := bareServer(t, Options{})
	for _, tc := range []struct {
		method string
		err    error
		want   boxoffice.Code
	}{
		{"GET", context.DeadlineExceeded, boxoffice.CodeUnavailable},
		{"POST", fmt.Errorf("hold: %w", context.DeadlineExceeded), boxoffice.CodeOutcomeUnknown},
		{"DELETE", context.Canceled, boxoffice.CodeOutcomeUnknown},
	} {
		p := s.problem(tc.method, "/x", tc.err)
		if p.Code != tc.want || p.Status != 503 || p.retryAfter == 0 {
			t.Errorf("%s %v: got %s %d retry %d, want %s 503 with Retry-After", tc.method, tc.err, p.Code, p.Status, p.retryAfter, tc.want)
		}
	}
	if strings.Contains(logs.String(), "internal error") {
		t.Errorf("logged as internal: %s", logs)
	}
}

func TestRateLimit(t *testing.T) {
	clock := boxoffice.NewManualClock(t0)
	s, _ := bareServer(t, Options{
		Clock: clock, RateLimit: 1,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	post := func(remote, xff string) *httptest.ResponseRecorder {
		// An invalid body: the request is refused by validation when it
		// passes the limiter, and never reaches a store.
		r := httptest.NewRequest("POST", "/v1/users", strings.NewReader(`{}`))
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		return serve(s, r)
	}
	for i := range 2 {
		if w := post("203.0.113.1:1000", ""); w.Code != 422 {
			t.Fatalf("request %d: status %d, want 422 (within the burst of 2)", i+1, w.Code)
		}
	}
	t.Run("OverTheLimit", func(t *testing.T) {
		w := post("203.0.113.1:1001", "")
		if w.Code != 429 {
			t.Fatalf("status = %d, want 429", w.Code)
		}
		if p := decodeProblem(t, w); p.Code != boxoffice.CodeRateLimited {
			t.Errorf("code = %s, want RATE_LIMITED", p.Code)
		}
		if got := w.Header().Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After = %q, want 1", got)
		}
	})
	t.Run("OtherClient", func(t *testing.T) {
		if w := post("203.0.113.2:1000", ""); w.Code != 422 {
			t.Errorf("status = %d, want 422", w.Code)
		}
	})
	t.Run("SpoofedHeaderFromUntrustedPeerIgnored", func(t *testing.T) {
		if w := post("203.0.113.1:1000", "198.51.100.99"); w.Code != 429 {
			t.Errorf("status = %d, want 429", w.Code)
		}
	})
	t.Run("ForwardedClientFromTrustedProxy", func(t *testing.T) {
		for i := range 2 {
			if w := post("10.0.0.1:1000", "198.51.100.5"); w.Code != 422 {
				t.Fatalf("request %d: status %d, want 422", i+1, w.Code)
			}
		}
		if w := post("10.0.0.2:1000", "198.51.100.5"); w.Code != 429 {
			t.Errorf("third request of the forwarded client: status %d, want 429", w.Code)
		}
	})
	t.Run("ReadsAreNotLimited", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/healthz", nil)
		r.RemoteAddr = "203.0.113.1:1000"
		if w := serve(s, r); w.Code != 200 {
			t.Errorf("status = %d, want 200", w.Code)
		}
	})
	t.Run("AdminNotLimited", func(t *testing.T) {
		r := httptest.NewRequest("POST", "/v1/admin/concerts", strings.NewReader(`{}`))
		r.RemoteAddr = "203.0.113.1:1000"
		if w := serve(s, r); w.Code != 401 {
			t.Errorf("status = %d, want 401 (not 429)", w.Code)
		}
	})
	t.Run("Refills", func(t *testing.T) {
		clock.Advance(time.Second)
		if w := post("203.0.113.1:1000", ""); w.Code != 422 {
			t.Errorf("status after 1s = %d, want 422", w.Code)
		}
	})
}

func TestOpenAPIDocument(t *testing.T) {
	s, _ := bareServer(t, Options{})
	w := serve(s, httptest.NewRequest("GET", "/openapi.json", nil))
	if w.Code != 200 {
		t.Fatalf("status = %d, want 200", w.Code)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Parameters []struct{ Name, In string } `json:"parameters"`
			Responses  map[string]any              `json:"responses"`
			Security   []map[string][]string       `json:"security"`
		} `json:"paths"`
		Components struct {
			SecuritySchemes map[string]any `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	for _, name := range []string{"bearer", "adminKey"} {
		if doc.Components.SecuritySchemes[name] == nil {
			t.Errorf("no security scheme %q", name)
		}
	}
	routes := map[string][]string{
		"/v1/users": {"post"}, "/v1/users/{userId}/balance": {"get"}, "/v1/users/{userId}/balance/charges": {"post"},
		"/v1/users/{userId}/balance/history": {"get"}, "/v1/concerts": {"get"}, "/v1/concerts/{concertId}": {"get"},
		"/v1/concerts/{concertId}/queue": {"post"}, "/v1/queue": {"get", "delete"},
		"/v1/concerts/{concertId}/dates": {"get"}, "/v1/concerts/{concertId}/dates/{date}/seats": {"get"},
		"/v1/reservations": {"post"}, "/v1/reservations/{reservationId}": {"get", "delete"}, "/v1/payments": {"post"},
		"/v1/admin/concerts": {"post"}, "/v1/admin/concerts/{concertId}/waiting-room": {"put"},
		"/v1/admin/concerts/{concertId}/stats": {"get"}, "/healthz": {"get"}, "/readyz": {"get"},
		"/v1/queue/events": {"get"}, "/v1/concerts/{concertId}/lottery": {"get"},
		"/v1/admin/concerts/{concertId}/admissions": {"get"},
	}
	for path, methods := range routes {
		for _, m := range methods {
			if _, ok := doc.Paths[path][m]; !ok {
				t.Errorf("%s %s is not documented", m, path)
			}
		}
	}
	hasParam := func(path, method, name, in string) bool {
		for _, p := range doc.Paths[path][method].Parameters {
			if p.Name == name && p.In == in {
				return true
			}
		}
		return false
	}
	for _, c := range []struct{ path, method, name string }{
		{"/v1/payments", "post", "Queue-Token"}, {"/v1/payments", "post", "Idempotency-Key"},
		{"/v1/users/{userId}/balance/charges", "post", "Idempotency-Key"},
		{"/v1/reservations", "post", "Queue-Token"}, {"/v1/queue", "get", "Queue-Token"},
		{"/v1/concerts/{concertId}/dates/{date}/seats", "get", "Queue-Token"},
	} {
		if !hasParam(c.path, c.method, c.name, "header") {
			t.Errorf("%s %s does not document header %s", c.method, c.path, c.name)
		}
	}
	for _, c := range []struct{ name, in string }{
		{"Queue-Token", "header"}, {"Last-Event-ID", "header"}, {"token", "query"}, {"access_token", "query"},
	} {
		if !hasParam("/v1/queue/events", "get", c.name, c.in) {
			t.Errorf("get /v1/queue/events does not document %s %s", c.in, c.name)
		}
	}
	if len(doc.Paths["/v1/payments"]["post"].Security) == 0 {
		t.Error("POST /v1/payments has no security requirement")
	}
	for _, code := range []string{"401", "403", "409", "422", "429"} {
		if doc.Paths["/v1/payments"]["post"].Responses[code] == nil {
			t.Errorf("POST /v1/payments does not document %s", code)
		}
	}
	if strings.Contains(w.Body.String(), "$schema") {
		t.Error("the document mentions $schema, want no schema links")
	}
}

func TestDocs(t *testing.T) {
	s, _ := bareServer(t, Options{})
	t.Run("Page", func(t *testing.T) {
		w := serve(s, httptest.NewRequest("GET", "/docs", nil))
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("got %d %q, want 200 text/html", w.Code, w.Header().Get("Content-Type"))
		}
		if w.Header().Get("Cache-Control") == "" || w.Header().Get("ETag") == "" {
			t.Errorf("headers %v, want Cache-Control and ETag", w.Header())
		}
		r := httptest.NewRequest("GET", "/docs", nil)
		r.Header.Set("If-None-Match", w.Header().Get("ETag"))
		if w := serve(s, r); w.Code != 304 {
			t.Errorf("revalidation status = %d, want 304", w.Code)
		}
	})
	t.Run("Asset", func(t *testing.T) {
		for name := range loadAssets() {
			w := serve(s, httptest.NewRequest("GET", "/docs/"+name, nil))
			if w.Code != 200 || w.Header().Get("Content-Type") == "" {
				t.Errorf("%s: got %d %q, want 200 with a content type", name, w.Code, w.Header().Get("Content-Type"))
			}
		}
	})
	t.Run("MissingAsset", func(t *testing.T) {
		w := serve(s, httptest.NewRequest("GET", "/docs/nothing.js", nil))
		if w.Code != 404 {
			t.Fatalf("status = %d, want 404", w.Code)
		}
		decodeProblem(t, w)
	})
}

func TestRequestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, _ := bareServer(t, Options{Registry: reg})
	serve(s, httptest.NewRequest("GET", "/healthz", nil))
	serve(s, httptest.NewRequest("GET", "/v1/users/0190a1b2-0000-7000-8000-000000000001/balance", nil))
	serve(s, httptest.NewRequest("GET", "/nothing/here", nil))
	count := func(route, method, code string) uint64 {
		return histogramCount(t, reg, "boxoffice_http_request_duration_seconds", map[string]string{"route": route, "method": method, "code": code})
	}
	for _, c := range []struct{ route, method, code string }{
		{"/healthz", "GET", "200"},
		{"/v1/users/{userId}/balance", "GET", "401"},
		{"unmatched", "GET", "404"},
	} {
		if n := count(c.route, c.method, c.code); n != 1 {
			t.Errorf("series {%s %s %s}: %d, want 1", c.route, c.method, c.code, n)
		}
	}
	t.Run("SameRegistryTwice", func(t *testing.T) {
		NewServer(Options{Registry: reg}) // must not panic
	})
}

// histogramCount is the sample count of the histogram series of name with
// labels in reg.
func histogramCount(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue series
				}
			}
			return m.GetHistogram().GetSampleCount()
		}
	}
	return 0
}
