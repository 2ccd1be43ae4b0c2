package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/boxoffice/boxoffice/web"
)

func testBuild() fstest.MapFS {
	return fstest.MapFS{
		"index.html":          {Data: []byte("<!doctype html><title>fan</title>" + strings.Repeat(" ", 2000))},
		"admin.html":          {Data: []byte("<!doctype html><title>console</title>")},
		"assets/index-abc.js": {Data: []byte("console.log(1);" + strings.Repeat("x", 4000))},
	}
}

func get(t *testing.T, h http.Handler, path string, header map[string]string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func TestHandler(t *testing.T) {
	h := web.NewFS(testBuild())
	t.Run("PageRevalidated", func(t *testing.T) {
		res := get(t, h, "/", nil)
		if res.StatusCode != 200 {
			t.Fatalf("got status %d, want 200", res.StatusCode)
		}
		if got := res.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("got Cache-Control %q, want no-cache", got)
		}
		if res.Header.Get("ETag") == "" || res.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("got headers %v, want ETag and Content-Security-Policy", res.Header)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("got Content-Type %q, want text/html", ct)
		}
	})
	t.Run("AdminPage", func(t *testing.T) {
		for _, p := range []string{"/admin", "/admin/"} {
			res := get(t, h, p, nil)
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 || !strings.Contains(string(b), "console") {
				t.Errorf("%s: got %d %q, want the console page", p, res.StatusCode, b)
			}
		}
	})
	t.Run("AssetImmutable", func(t *testing.T) {
		res := get(t, h, "/assets/index-abc.js", nil)
		if got := res.Header.Get("Cache-Control"); !strings.Contains(got, "immutable") || !strings.Contains(got, "max-age=31536000") {
			t.Errorf("got Cache-Control %q, want a year, immutable", got)
		}
	})
	t.Run("Gzip", func(t *testing.T) {
		res := get(t, h, "/assets/index-abc.js", map[string]string{"Accept-Encoding": "br, gzip"})
		if res.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("got Content-Encoding %q, want gzip", res.Header.Get("Content-Encoding"))
		}
		if !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("got Vary %q, want Accept-Encoding", res.Header.Get("Vary"))
		}
		res = get(t, h, "/assets/index-abc.js", map[string]string{"Accept-Encoding": "gzip;q=0"})
		if res.Header.Get("Content-Encoding") != "" {
			t.Errorf("got Content-Encoding %q with gzip;q=0, want none", res.Header.Get("Content-Encoding"))
		}
	})
	t.Run("NotModified", func(t *testing.T) {
		etag := get(t, h, "/", nil).Header.Get("ETag")
		res := get(t, h, "/", map[string]string{"If-None-Match": etag})
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("got status %d, want 304", res.StatusCode)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		res := get(t, h, "/assets/nope.js", nil)
		if res.StatusCode != 404 || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("got %d %q, want a 404 problem", res.StatusCode, res.Header.Get("Content-Type"))
		}
	})
}

// TestEmbeddedBuild checks that the committed build is embedded whole.
func TestEmbeddedBuild(t *testing.T) {
	h := web.New()
	for _, p := range []string{"/", "/admin"} {
		if res := get(t, h, p, nil); res.StatusCode != 200 {
			t.Errorf("%s: got status %d, want 200", p, res.StatusCode)
		}
	}
	var js int
	for _, p := range h.Paths() {
		if strings.HasPrefix(p, "/assets/") && strings.HasSuffix(p, ".js") {
			js++
		}
	}
	if js == 0 {
		t.Errorf("got no scripts in the embedded build, want the apps' bundles")
	}
}

// TestFanAppBudget keeps the fan app (its page and every asset but the
// console's) under 150 KB gzipped, fonts included: it uses system fonts.
func TestFanAppBudget(t *testing.T) {
	const budget = 150 << 10
	h := web.New()
	total := 0
	for _, p := range h.Paths() {
		if p == "/admin" || strings.HasPrefix(p, "/assets/admin-") {
			continue
		}
		res := get(t, h, p, map[string]string{"Accept-Encoding": "gzip"})
		b, _ := io.ReadAll(res.Body)
		total += len(b)
	}
	t.Logf("fan app: %d bytes gzipped", total)
	if total > budget {
		t.Errorf("the fan app is %d bytes gzipped, want at most %d", total, budget)
	}
}
