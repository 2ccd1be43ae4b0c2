package http

import (
	"context"
	"errors"
	nethttp "net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
)

func TestClientErrors(t *testing.T) {
	tests := []struct {
		name       string
		handler    nethttp.HandlerFunc
		wantStatus int
		wantCode   boxoffice.Code
		wantMsg    string
		wantPos    int64
		wantRetry  time.Duration
	}{
		{"Problem", func(w nethttp.ResponseWriter, _ *nethttp.Request) {
			p := newProblem(boxoffice.CodeNotAdmitted, "still waiting")
			p.Position = 12
			writeProblem(w, p)
		}, 403, boxoffice.CodeNotAdmitted, "still waiting", 12, 0},
		{"RateLimited", func(w nethttp.ResponseWriter, _ *nethttp.Request) {
			writeProblem(w, rateLimitedProblem(3))
		}, 429, boxoffice.CodeRateLimited, "too many requests; retry later", 0, 3 * time.Second},
		{"ProxyPage", func(w nethttp.ResponseWriter, _ *nethttp.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			w.Write([]byte("<html>bad gateway</html>"))
		}, 502, boxoffice.CodeUnavailable, "Bad Gateway", 0, 0},
		{"EmptyNotFound", func(w nethttp.ResponseWriter, _ *nethttp.Request) {
			w.WriteHeader(404)
		}, 404, boxoffice.CodeNotFound, "Not Found", 0, 0},
		{"UnknownStatus", func(w nethttp.ResponseWriter, _ *nethttp.Request) {
			w.WriteHeader(418)
		}, 418, boxoffice.CodeInternal, "I'm a teapot", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(tt.handler)
			defer ts.Close()
			_, err := NewClient(ts.URL+"/", ts.Client()).Concerts(context.Background())
			var re *ResponseError
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a *ResponseError", err)
			}
			if re.StatusCode != tt.wantStatus || StatusCode(err) != tt.wantStatus {
				t.Errorf("status = %d, want %d", re.StatusCode, tt.wantStatus)
			}
			if boxoffice.ErrorCode(err) != tt.wantCode || re.Err.Message != tt.wantMsg || re.Err.Position != tt.wantPos {
				t.Errorf("got %s %q position %d, want %s %q position %d", re.Err.Code, re.Err.Message, re.Err.Position, tt.wantCode, tt.wantMsg, tt.wantPos)
			}
			if !errors.Is(err, &boxoffice.Error{Code: tt.wantCode}) {
				t.Errorf("errors.Is(err, %s) = false, want true", tt.wantCode)
			}
			if re.RetryAfter != tt.wantRetry {
				t.Errorf("RetryAfter = %v, want %v", re.RetryAfter, tt.wantRetry)
			}
		})
	}
	t.Run("NotAnswered", func(t *testing.T) {
		ts := httptest.NewServer(nethttp.NotFoundHandler())
		ts.Close()
		err := NewClient(ts.URL, nil).Healthz(context.Background())
		if err == nil || StatusCode(err) != 0 {
			t.Errorf("got %v (status %d), want a transport error without status", err, StatusCode(err))
		}
	})
}

func TestClientSendsCredentials(t *testing.T) {
	var got nethttp.Header
	var path string
	ts := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		got, path = r.Header.Clone(), r.URL.RequestURI()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		w.Write([]byte(`{"paymentId":"p","reservationId":"r","amount":5,"balance":7,"paidAt":"2026-12-24T10:00:00Z"}`))
	}))
	defer ts.Close()
	p, err := NewClient(ts.URL, ts.Client()).Pay(context.Background(), "acc", "que", "r", "key-1")
	if err != nil || p.PaymentID != "p" || p.Balance != 7 {
		t.Fatalf("got %+v, %v", p, err)
	}
	if got.Get("Authorization") != "Bearer acc" || got.Get("Queue-Token") != "que" || got.Get("Idempotency-Key") != "key-1" ||
		got.Get("Content-Type") != "application/json" || path != "/v1/payments" {
		t.Errorf("sent %s with %v", path, got)
	}
	if _, err := NewClient(ts.URL, ts.Client()).Seats(context.Background(), "a", "q", "c/../x", "2026-12-24"); err != nil {
		t.Fatal(err)
	}
	if path != "/v1/concerts/c%2F..%2Fx/dates/2026-12-24/seats" {
		t.Errorf("path = %s, want the id escaped as one segment", path)
	}
}
