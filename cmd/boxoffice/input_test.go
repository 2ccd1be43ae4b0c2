package main

import (
	"encoding/json"
	"io"
	nethttp "net/http"
	"strings"
	"testing"

	boxhttp "github.com/boxoffice/boxoffice/http"
)

// TestOversizedRequests: through the real wiring, headers and bodies over
// the API's limits are answered as problems, not as net/http's plain text.
func TestOversizedRequests(t *testing.T) {
	m := startMain(t, embedded.config(t), nil)
	tests := []struct {
		name, method, path, body string
		header                   int // bytes of padding header
		status                   int
	}{
		{"HeadersTooLarge", "GET", "/v1/concerts", "", boxhttp.DefaultMaxHeaderBytes + 1, 431},
		{"HeadersFarTooLarge", "GET", "/v1/concerts", "", 512 << 10, 431},
		{"BodyTooLarge", "POST", "/v1/users", `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, 0, 413},
		{"HeadersWithinLimit", "GET", "/v1/concerts", "", boxhttp.DefaultMaxHeaderBytes - 1024, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, err := nethttp.NewRequest(tt.method, m.URL()+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if tt.header > 0 {
				req.Header.Set("X-Padding", strings.Repeat("x", tt.header))
			}
			resp, err := nethttp.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status < 400 {
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
			var p boxhttp.Problem
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatalf("not a problem: %v", err)
			}
			if p.Code != "INVALID_REQUEST" || p.Status != tt.status || p.Detail == "" {
				t.Errorf("problem %+v, want INVALID_REQUEST with status %d and a detail", p, tt.status)
			}
		})
	}
}
