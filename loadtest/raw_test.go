package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestJSONValue(t *testing.T) {
	tests := []struct {
		name, body, key, want string
	}{
		{"String", `{"token":"abc.def","status":"WAITING"}`, "token", "abc.def"},
		{"Number", `{"position":17,"status":"WAITING"}`, "position", "17"},
		{"LastNumber", `{"status":"WAITING","position":17}`, "position", "17"},
		{"Spaces", `{"code" : "SEAT_UNAVAILABLE"}`, "code", "SEAT_UNAVAILABLE"},
		{"NotASuffix", `{"xcode":"NO","code":"YES"}`, "code", "YES"},
		{"NotAValue", `{"detail":"code","code":"YES"}`, "code", "YES"},
		{"Missing", `{"status":409}`, "code", ""},
		{"Truncated", `{"code":"SEAT_`, "code", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(jsonValue([]byte(tt.body), tt.key)); got != tt.want {
				t.Errorf("jsonValue(%s, %q) = %q, want %q", tt.body, tt.key, got, tt.want)
			}
		})
	}
}

func TestFailureCode(t *testing.T) {
	if got := string(failureCode(context.DeadlineExceeded)); got != codeTimeout {
		t.Errorf("failureCode(deadline) = %s, want %s", got, codeTimeout)
	}
	if got := string(failureCode(errors.New("connection refused"))); got != codeNetwork {
		t.Errorf("failureCode(refused) = %s, want %s", got, codeNetwork)
	}
}

// TestMeasure runs a phase against a fake server: every answer is counted
// under its route and status, problem codes are counted, and a phase whose
// work runs out reports it.
func TestMeasure(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.URL.Path == "/slow" {
			// Outlasts the stretch's unrecorded settling time however
			// fast the machine: 250 answers take at least 500 ms.
			time.Sleep(2 * time.Millisecond)
			w.WriteHeader(204)
			return
		}
		if served.Add(1)%2 == 0 {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(409)
			fmt.Fprint(w, `{"status":409,"code":"SEAT_UNAVAILABLE","detail":"taken"}`)
			return
		}
		w.WriteHeader(201)
		fmt.Fprint(w, `{"token":"t-1"}`)
	}))
	defer srv.Close()
	e := newEngine(Options{Targets: []string{srv.URL}, Connections: 4, RequestTimeout: 5 * time.Second})
	defer e.tr.CloseIdleConnections()
	defer e.closeConns()
	req, err := newRawRequest("POST", srv.URL, "/v1/reservations", []byte(`{}`), credentials("a", "q"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("Counted", func(t *testing.T) {
		var ok atomic.Int64
		e.opts.Duration = 200 * time.Millisecond
		ps, err := e.measure(context.Background(), "hold", false, func(int) loop {
			return &funcLoop{req: req, rt: routeHold, n: -1, ok: &ok}
		})
		if err != nil || len(ps) != 1 {
			t.Fatalf("measure: %d phases, %v; want 1, nil", len(ps), err)
		}
		p := ps[0]
		if len(p.Endpoints) != 1 || p.Endpoints[0].Route != routeHold.String() {
			t.Fatalf("endpoints: got %+v, want one of %s", p.Endpoints, routeHold)
		}
		ep := p.Endpoints[0]
		if ep.Requests == 0 || ep.Requests != ep.Status["201"]+ep.Status["409"] {
			t.Errorf("requests %d, by status %v: want all 201 or 409", ep.Requests, ep.Status)
		}
		if ep.Errors["SEAT_UNAVAILABLE"] != ep.Status["409"] || ep.Status["409"] == 0 {
			t.Errorf("SEAT_UNAVAILABLE counted %d, 409 answers %d: want equal and positive", ep.Errors["SEAT_UNAVAILABLE"], ep.Status["409"])
		}
		if ok.Load() < ep.OK {
			t.Errorf("loop saw %d tokens, recorder %d 2xx: want at least as many", ok.Load(), ep.OK)
		}
	})
	t.Run("WorkRanOut", func(t *testing.T) {
		slow, err := newRawRequest("GET", srv.URL, "/slow", nil, credentials("a", "q"))
		if err != nil {
			t.Fatal(err)
		}
		e.opts.Duration = time.Minute
		ps, err := e.measure(context.Background(), "pay", false, func(int) loop {
			return &funcLoop{req: slow, rt: routePay, n: 250}
		})
		if err != nil || len(ps) != 1 {
			t.Fatalf("measure: %d phases, %v; want 1, nil", len(ps), err)
		}
		p := ps[0]
		if p.Note == "" {
			t.Errorf("note: got none, want the work ran out")
		}
		if p.Requests == 0 || p.Requests > 1000 {
			t.Errorf("requests: got %d, want 1..1000", p.Requests)
		}
	})
}

// funcLoop sends req n times (forever when n < 0), counting tokens seen.
type funcLoop struct {
	req *rawRequest
	rt  route
	n   int
	ok  *atomic.Int64
}

func (l *funcLoop) next() (route, *rawRequest) {
	if l.n == 0 {
		return l.rt, nil
	}
	l.n--
	return l.rt, l.req
}

func (l *funcLoop) done(status int, body []byte, _ error) {
	if status == 201 && string(jsonValue(body, "token")) == "t-1" && l.ok != nil {
		l.ok.Add(1)
	}
}

// TestConn checks the measured loops' HTTP/1.1 client against net/http's
// server: bodies by length and chunked, answers without a body, headers
// and bodies sent, a server that closes the connection, and a reused
// connection the server dropped.
func TestConn(t *testing.T) {
	var drop atomic.Bool
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if drop.CompareAndSwap(true, false) {
			// Close the connection without answering, as a server does
			// with an idle keep-alive connection it gives up on.
			c, _, _ := w.(nethttp.Hijacker).Hijack()
			c.Close()
			return
		}
		got, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/echo":
			fmt.Fprintf(w, "%s %s %s %s", r.Method, r.URL.RawQuery, r.Header.Get("Queue-Token"), got)
		case "/chunked":
			w.(nethttp.Flusher).Flush() // forces chunked encoding
			fmt.Fprint(w, strings.Repeat("x", 10000))
		case "/empty":
			w.WriteHeader(204)
		case "/close":
			w.Header().Set("Connection", "close")
			fmt.Fprint(w, "bye")
		}
	}))
	defer srv.Close()
	c := newConn(5 * time.Second)
	defer c.close()
	do := func(method, path string, body []byte) (int, string) {
		t.Helper()
		req, err := newRawRequest(method, srv.URL, path, body, credentials("a", "q-1"))
		if err != nil {
			t.Fatal(err)
		}
		status, got, err := c.send(req, nil)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return status, string(got)
	}
	if s, b := do("POST", "/echo?x=1", []byte(`{"a":1}`)); s != 200 || b != `POST x=1 q-1 {"a":1}` {
		t.Errorf("echo: got %d %q", s, b)
	}
	if s, b := do("GET", "/chunked", nil); s != 200 || len(b) != 10000 {
		t.Errorf("chunked: got %d and %d bytes, want 200 and 10000", s, len(b))
	}
	if s, b := do("DELETE", "/empty", nil); s != 204 || b != "" {
		t.Errorf("no body: got %d %q", s, b)
	}
	if s, b := do("GET", "/close", nil); s != 200 || b != "bye" || c.c != nil {
		t.Errorf("close: got %d %q, connection kept %v; want it closed", s, b, c.c != nil)
	}
	do("GET", "/echo", nil)
	drop.Store(true)
	if s, b := do("GET", "/echo?again", nil); s != 200 || b != "GET again q-1 " {
		t.Errorf("on a connection the server dropped: got %d %q, want it sent again on a new one", s, b)
	}
}

// BenchmarkSend is a round trip of the measured loops' request path to a
// trivial server in the same process; time and allocations include the
// server's.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	c := newConn(5 * time.Second)
	defer c.close()
	req, err := newRawRequest("GET", srv.URL, "/healthz", nil, credentials("a", "q"))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		status, body, err := c.send(req, buf)
		if err != nil || status != 200 {
			b.Fatalf("send: %d %v", status, err)
		}
		buf = body[:0]
	}
}

func TestConnTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		fmt.Fprintf(w, "%s over %s", r.URL.Path, r.Proto)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below is expected
	srv.StartTLS()
	defer srv.Close()
	c := newConn(5 * time.Second)
	defer c.close()
	c.tls = srv.Client().Transport.(*nethttp.Transport).TLSClientConfig
	for range 2 { // the second request reuses the connection
		req, err := newRawRequest("GET", srv.URL, "/secure", nil, credentials("a", ""))
		if err != nil {
			t.Fatal(err)
		}
		status, got, err := c.send(req, nil)
		if err != nil || status != 200 || string(got) != "/secure over HTTP/1.1" {
			t.Fatalf("https: got %d %q, %v", status, got, err)
		}
	}

	// Without the test server's root the handshake fails.
	c2 := newConn(5 * time.Second)
	defer c2.close()
	req, _ := newRawRequest("GET", srv.URL, "/secure", nil, credentials("a", ""))
	if _, _, err := c2.send(req, nil); err == nil {
		t.Error("https with an unknown certificate authority: no error")
	}
}
