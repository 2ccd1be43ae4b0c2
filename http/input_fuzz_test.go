package http_test

import (
	"context"
	"encoding/json"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
)

// FuzzRequestBody sends arbitrary bodies to every operation that reads one,
// on the embedded stores: none may be answered 5xx, and every refusal is a
// problem whose detail says nothing of the implementation.
func FuzzRequestBody(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Kim"}`, `{"amount":1e3}`, `{"amount":9223372036854775808}`, `{"name":1e999}`,
		`{"concertId":"x","date":"2026-07-01","seatNumbers":[18446744073709551616]}`, `{"a":1} {"b":2}`,
		`{"strategy":"RATE","admitPerSecond":1e-300,"sessionSeconds":1,"idleSeconds":1}`,
		`{"title":"t","venue":"v","dates":["2026-07-01T19:00:00+09:00"],"grades":[{"name":"A","seats":"1-50","price":1e2}],"salesOpenAt":"2026-06-01T00:00:00Z"}`,
		"{\"name\":\"\xff\"}", `{"name":"\u202e"}`, `[`, ``, `null`,
	} {
		f.Add(seed)
	}
	e := newEmbeddedEnv(f)
	ctx := context.Background()
	c, err := e.client.CreateConcert(ctx, adminKey, spec())
	if err != nil {
		f.Fatal(err)
	}
	u, err := e.client.CreateUser(ctx, "Kim")
	if err != nil {
		f.Fatal(err)
	}
	st, _, err := e.client.Join(ctx, u.AccessToken, c.ConcertID)
	if err != nil {
		f.Fatal(err)
	}
	e.admit()
	fan := nethttp.Header{"Authorization": {bearer(u.AccessToken)}, "Queue-Token": {st.Token}}
	admin := nethttp.Header{"Authorization": {bearer(adminKey)}}
	ops := []struct {
		method, path string
		header       nethttp.Header
	}{
		{"POST", "/v1/users", nil},
		{"POST", "/v1/users/" + u.UserID + "/balance/charges", fan},
		{"POST", "/v1/reservations", fan},
		{"POST", "/v1/payments", fan},
		{"POST", "/v1/admin/concerts", admin},
		{"PUT", "/v1/admin/concerts/" + c.ConcertID + "/waiting-room", admin},
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, op := range ops {
			req := httptest.NewRequest(op.method, op.path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range op.header {
				req.Header[k] = v
			}
			w := httptest.NewRecorder()
			e.server.ServeHTTP(w, req)
			if w.Code >= 500 {
				t.Fatalf("%s %s with %q: status %d, want no 5xx (%s)", op.method, op.path, body, w.Code, w.Body)
			}
			if w.Code < 400 {
				continue
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("%s %s with %q: Content-Type %q, want a problem", op.method, op.path, body, ct)
			}
			var p boxhttp.Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Code == "" || p.Detail == "" {
				t.Fatalf("%s %s with %q: body %s is not a problem: %v", op.method, op.path, body, w.Body, err)
			}
			if p.Code == boxoffice.CodeInvalidRequest && utf8.ValidString(body) && !strings.Contains(body, `\`) {
				low := strings.ToLower(p.Detail)
				for _, word := range badInputWords {
					if strings.Contains(low, word) && !strings.Contains(strings.ToLower(body), word) {
						t.Fatalf("%s %s with %q: detail %q speaks of %q", op.method, op.path, body, p.Detail, word)
					}
				}
			}
		}
	})
}
