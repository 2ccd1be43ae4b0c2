package main

import (
	"io"
	nethttp "net/http"
	"strconv"
	"strings"
	"testing"
)

// TestMetricsAddr checks that BOXOFFICE_METRICS_ADDR moves /metrics off the
// API's address.
func TestMetricsAddr(t *testing.T) {
	cfg := embedded.config(t)
	cfg.MetricsAddr = "127.0.0.1:0"
	m := startMain(t, cfg, nil)
	if status, body := getBody(t, "http://"+m.MetricsAddr()+"/metrics"); status != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics address: got %d %.200s, want 200 with metrics", status, body)
	}
	if status, body := getBody(t, m.URL()+"/metrics"); status != 404 || !strings.Contains(body, `"NOT_FOUND"`) {
		t.Errorf("API address: got %d %s, want 404 NOT_FOUND", status, body)
	}
}

// getBody reads url's status and body.
func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := nethttp.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// scrape reads the samples of the metrics at url, by name and labels as
// written (name{label="value"}).
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	status, body := getBody(t, url)
	if status != 200 {
		t.Fatalf("GET %s: got %d %.200s", url, status, body)
	}
	out := make(map[string]float64)
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(line[i+1:]), 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}
