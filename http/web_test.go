package http

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWebRoutes(t *testing.T) {
	s, _ := bareServer(t, Options{})
	for _, path := range []string{"/", "/admin"} {
		t.Run("OK"+path, func(t *testing.T) {
			w := serve(s, httptest.NewRequest("GET", path, nil))
			if w.Code != 200 {
				t.Fatalf("status = %d, want 200", w.Code)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type = %q, want text/html", ct)
			}
			if cc := w.Header().Get("Cache-Control"); cc != "no-cache" {
				t.Errorf("Cache-Control = %q, want no-cache", cc)
			}
		})
	}
	t.Run("ErrNotFoundAsset", func(t *testing.T) {
		w := serve(s, httptest.NewRequest("GET", "/assets/missing.js", nil))
		if w.Code != 404 {
			t.Fatalf("status = %d, want 404", w.Code)
		}
	})
}
