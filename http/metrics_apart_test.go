package http_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
)

func TestMetricsApart(t *testing.T) {
	e := newEnv(t, func(o *boxhttp.Options) { o.MetricsApart = true })
	e.fan(t, "Kim", 0)
	wantProblem(t, e.do(t, "GET", "/metrics", ""), 404, boxoffice.CodeNotFound)
	if strings.Contains(string(e.do(t, "GET", "/openapi.json", "").body), `"/metrics"`) {
		t.Error("the OpenAPI document lists /metrics, want it left out")
	}

	w := httptest.NewRecorder()
	e.server.Metrics().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(w.Body)
	if w.Code != 200 || !strings.Contains(string(body), `route="/v1/users"`) {
		t.Errorf("Metrics: got %d %.200s, want 200 with the request metrics", w.Code, body)
	}
}
