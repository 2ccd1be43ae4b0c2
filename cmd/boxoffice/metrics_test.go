package main

import (
	"io"
	nethttp "net/http"
	"strings"
	"testing"
)

// TestMetricsAddr checks that BOXOFFICE_METRICS_ADDR moves /metrics off the
// API's address.
func TestMetricsAddr(t *testing.T) {
	cfg := embedded.config(t)
	cfg.MetricsAddr = "127.0.0.1:0"
	m := startMain(t, cfg, nil)
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := nethttp.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := get("http://" + m.MetricsAddr() + "/metrics"); status != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics address: got %d %.200s, want 200 with metrics", status, body)
	}
	if status, body := get(m.URL() + "/metrics"); status != 404 || !strings.Contains(body, `"NOT_FOUND"`) {
		t.Errorf("API address: got %d %s, want 404 NOT_FOUND", status, body)
	}
}
