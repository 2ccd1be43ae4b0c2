package http_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	nethttp "net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/memory"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/sqlite"
	"github.com/boxoffice/boxoffice/token"
	"github.com/boxoffice/boxoffice/wallet"
)

// newEmbeddedEnv is newEnv on the embedded mode's stores: SQLite and the
// in-process waiting room.
func newEmbeddedEnv(t testing.TB) *env {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "boxoffice.db"))
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(db.Close)
	clock := boxoffice.NewManualClock(base)
	concerts := sqlite.NewConcertStore(db)
	cache := concert.NewCache(concerts, clock, time.Second)
	signer, err := token.NewSigner([]byte("0123456789abcdef-test-secret"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &strings.Builder{}
	o := boxhttp.Options{
		Wallet:    wallet.NewService(sqlite.NewWalletStore(db), clock, wallet.DefaultLimits()),
		Booking:   booking.NewService(sqlite.NewBookingStore(db), cache, clock),
		Signer:    signer,
		AccessTTL: time.Hour,
		AdminKey:  adminKey,
		Clock:     clock,
		Logger:    slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, nil)),
		Registry:  prometheus.NewRegistry(),
	}
	o.Queue = queue.NewService(memory.NewQueueStore(), clock, "test", time.Second, nil, nil, supplyOf(o.Booking))
	o.Concerts = concert.NewService(concerts, cache, o.Queue, clock, o.Logger)
	srv := boxhttp.NewServer(o)
	o.Queue.OnStep = srv.ObserveAdmission
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(srv.CloseStreams)
	e := &env{
		clock: clock, queue: o.Queue, bookings: o.Booking, server: srv, registry: o.Registry, signer: signer,
		client: boxhttp.NewClient(ts.URL, ts.Client()), url: ts.URL,
	}
	e.logText = logs.String
	return e
}

// badInputWords may not appear in a problem's detail: they are the
// implementation's, not the API's.
var badInputWords = []string{
	"int8", "int16", "int32", "int64", "uint", "float32", "float64", "struct", "json:", "go value",
	"unmarshal", "strconv", "parseint", "parsefloat", "reflect", "time.time", "[]int", "[]string",
	"sql", "pgx", "postgres", "sqlite", "syntax error at", "violates", "constraint", "column", "relation",
	"invalid byte sequence", "0x00",
}

// TestBadInput sends every kind of bad input the API must refuse cleanly,
// in both modes: each is INVALID_REQUEST with the expected status, and its
// detail names the API field and nothing of the implementation.
func TestBadInput(t *testing.T) {
	for _, md := range []struct {
		name string
		env  func(t *testing.T) *env
	}{
		{"Embedded", func(t *testing.T) *env { return newEmbeddedEnv(t) }},
		{"PostgreSQL", func(t *testing.T) *env { return newEnv(t) }},
	} {
		t.Run(md.name, func(t *testing.T) { testBadInput(t, md.env(t)) })
	}
}

func testBadInput(t *testing.T, e *env) {
	c := e.concert(t, spec())
	kim := e.admitted(t, "Kim", 1_000_000, c.ConcertID)
	fan := []string{"Authorization", bearer(kim.access), "Queue-Token", kim.queue}
	admin := []string{"Authorization", bearer(adminKey)}
	charges := "/v1/users/" + kim.id + "/balance/charges"
	room := "/v1/admin/concerts/" + c.ConcertID + "/waiting-room"
	hold := func(seats string) string {
		return `{"concertId":"` + c.ConcertID + `","date":"` + day1 + `","seatNumbers":` + seats + `}`
	}
	spec := func(edit func(s map[string]string)) string {
		s := map[string]string{
			"title": `"Winter"`, "venue": `"Hall"`,
			"dates":       `["2026-07-01T19:00:00+09:00","2026-07-02T19:00:00+09:00"]`,
			"grades":      `[{"name":"VIP","seats":"1-10","price":150000},{"name":"R","seats":"11-50","price":90000}]`,
			"salesOpenAt": `"2026-06-01T00:00:00Z"`,
		}
		edit(s)
		var parts []string
		for _, k := range []string{"title", "venue", "dates", "grades", "salesOpenAt", "holdSeconds", "maxSeatsPerUser", "waitingRoom"} {
			if v, ok := s[k]; ok {
				parts = append(parts, `"`+k+`":`+v)
			}
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	set := func(k, v string) func(map[string]string) { return func(s map[string]string) { s[k] = v } }
	longHeader := strings.Repeat("x", boxhttp.DefaultMaxHeaderBytes)

	tests := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		field                    string // the API field the detail names
	}{
		// Numbers.
		{"AmountAboveInt64", "POST", charges, `{"amount":9223372036854775808}`, fan, 422, "amount"},
		{"AmountBelowInt64", "POST", charges, `{"amount":-9223372036854775809}`, fan, 422, "amount"},
		{"AmountExponent", "POST", charges, `{"amount":1e3}`, fan, 422, "amount"},
		{"AmountIntegralFraction", "POST", charges, `{"amount":3.0}`, fan, 422, "amount"},
		{"AmountFraction", "POST", charges, `{"amount":1.5}`, fan, 422, "amount"},
		{"AmountOverflowsFloat", "POST", charges, `{"amount":1e400}`, fan, 422, "amount"},
		{"AmountString", "POST", charges, `{"amount":"100"}`, fan, 422, "amount"},
		{"NameHugeNumber", "POST", "/v1/users", `{"name":1e999}`, nil, 422, "name"},
		{"SeatAboveUint64", "POST", "/v1/reservations", hold(`[18446744073709551616]`), fan, 422, "seatNumbers[0]"},
		{"SeatExponent", "POST", "/v1/reservations", hold(`[20,1e1]`), fan, 422, "seatNumbers[1]"},
		{"SeatString", "POST", "/v1/reservations", hold(`[20,"21"]`), fan, 422, "seatNumbers[1]"},
		{"PriceExponent", "POST", "/v1/admin/concerts", spec(set("grades", `[{"name":"VIP","seats":"1-10","price":150000},{"name":"R","seats":"11-50","price":1e2}]`)), admin, 422, "grades[1].price"},
		{"HoldSecondsFraction", "POST", "/v1/admin/concerts", spec(set("holdSeconds", `300.0`)), admin, 422, "holdSeconds"},
		{"MaxActiveExponent", "POST", "/v1/admin/concerts", spec(set("waitingRoom", `{"strategy":"MAX_ACTIVE","maxActive":1e3,"sessionSeconds":600,"idleSeconds":60}`)), admin, 422, "waitingRoom.maxActive"},
		{"AdmitRateOverflows", "PUT", room, `{"strategy":"RATE","admitPerSecond":1e400,"sessionSeconds":600,"idleSeconds":60}`, admin, 422, "admitPerSecond"},
		{"SessionSecondsExponent", "PUT", room, `{"strategy":"RATE","admitPerSecond":1,"sessionSeconds":6e2,"idleSeconds":60}`, admin, 422, "sessionSeconds"},
		// Shape.
		{"SecondValue", "POST", "/v1/users", `{"name":"Kim"} {"name":"Lee"}`, nil, 400, "body"},
		{"SecondValueCharge", "POST", charges, `{"amount":1}{"amount":1}`, fan, 400, "body"},
		{"Truncated", "POST", "/v1/users", `{"name":"Kim"`, nil, 400, "body"},
		{"UnknownField", "POST", "/v1/users", `{"name":"Kim","admin":true}`, nil, 422, "admin"},
		{"NameNotString", "POST", "/v1/users", `{"name":["Kim"]}`, nil, 422, "name"},
		{"DateNotTime", "POST", "/v1/admin/concerts", spec(set("dates", `["2026-07-01T19:00:00+09:00","tomorrow"]`)), admin, 422, "dates[1]"},
		{"GradesNotArray", "POST", "/v1/admin/concerts", spec(set("grades", `{"name":"VIP"}`)), admin, 422, "grades"},
		// Text.
		{"NameNUL", "POST", "/v1/users", `{"name":"Kim\u0000"}`, nil, 422, "name"},
		{"NameESC", "POST", "/v1/users", `{"name":"\u001b[31mKim"}`, nil, 422, "name"},
		{"NameTab", "POST", "/v1/users", `{"name":"Kim\tLee"}`, nil, 422, "name"},
		{"NameC1", "POST", "/v1/users", `{"name":"Kim\u009b"}`, nil, 422, "name"},
		{"NameRLO", "POST", "/v1/users", `{"name":"Kim\u202egpj.exe"}`, nil, 422, "name"},
		{"NameLRI", "POST", "/v1/users", `{"name":"\u2066Kim"}`, nil, 422, "name"},
		{"NameZWSP", "POST", "/v1/users", `{"name":"K\u200bim"}`, nil, 422, "name"},
		{"NameWordJoiner", "POST", "/v1/users", `{"name":"K\u2060im"}`, nil, 422, "name"},
		{"NameBOM", "POST", "/v1/users", `{"name":"\ufeffKim"}`, nil, 422, "name"},
		{"NameInvalidUTF8", "POST", "/v1/users", "{\"name\":\"Kim\xff\xfe\"}", nil, 422, "name"},
		{"NameLoneSurrogate", "POST", "/v1/users", `{"name":"Kim\ud800"}`, nil, 422, "name"},
		{"NameTooLong", "POST", "/v1/users", `{"name":"` + strings.Repeat("한", 201) + `"}`, nil, 422, "name"},
		{"NameBlank", "POST", "/v1/users", `{"name":"  "}`, nil, 422, "name"},
		{"TitleNUL", "POST", "/v1/admin/concerts", spec(set("title", `"Winter\u0000"`)), admin, 422, "title"},
		{"TitleTooLong", "POST", "/v1/admin/concerts", spec(set("title", `"`+strings.Repeat("가", 201)+`"`)), admin, 422, "title"},
		{"VenueBidi", "POST", "/v1/admin/concerts", spec(set("venue", `"Hall\u202d"`)), admin, 422, "venue"},
		{"VenueESC", "POST", "/v1/admin/concerts", spec(set("venue", `"\u001b]0;x\u0007Hall"`)), admin, 422, "venue"},
		{"GradeNameZeroWidth", "POST", "/v1/admin/concerts", spec(set("grades", `[{"name":"VIP","seats":"1-10","price":1},{"name":"R\u200c","seats":"11-50","price":1}]`)), admin, 422, "grades[1].name"},
		// Time and rate horizons.
		{"DatesAllPast", "POST", "/v1/admin/concerts", spec(set("dates", `["2026-05-01T19:00:00+09:00","2026-05-02T19:00:00+09:00"]`)), admin, 422, "dates"},
		{"DateYear9999", "POST", "/v1/admin/concerts", spec(set("dates", `["2026-07-01T19:00:00+09:00","9999-12-31T19:00:00+09:00"]`)), admin, 422, "dates[1]"},
		{"SalesOpenYear9999", "POST", "/v1/admin/concerts", spec(set("salesOpenAt", `"9999-01-01T00:00:00Z"`)), admin, 422, "salesOpenAt"},
		{"AdmitRateTiny", "POST", "/v1/admin/concerts", spec(set("waitingRoom", `{"strategy":"RATE","admitPerSecond":1e-300,"sessionSeconds":600,"idleSeconds":60}`)), admin, 422, "admitPerSecond"},
		{"AdmitRateTinyPut", "PUT", room, `{"strategy":"RATE","admitPerSecond":1e-300,"sessionSeconds":600,"idleSeconds":60}`, admin, 422, "admitPerSecond"},
		// Sizes.
		{"BodyTooLarge", "POST", "/v1/users", `{"name":"` + strings.Repeat("a", boxhttp.DefaultMaxBodyBytes) + `"}`, nil, 413, "body"},
		{"HeadersTooLarge", "GET", "/v1/concerts", "", []string{"X-Padding", longHeader}, 431, "headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e.do(t, tt.method, tt.path, tt.body, tt.headers...)
			p := wantProblem(t, a, tt.status, boxoffice.CodeInvalidRequest)
			checkDetail(t, p.Detail, tt.field)
			t.Logf("%d %s", a.status, p.Detail)
		})
	}

	t.Run("OKHangul200", func(t *testing.T) {
		name := strings.Repeat("한", 200)
		a := e.do(t, "POST", "/v1/users", `{"name":"`+name+`"}`)
		if a.status != 201 || decode[boxhttp.UserCreated](t, a).Name != name {
			t.Fatalf("status %d (body %.200s), want 201 with the name", a.status, a.body)
		}
		a = e.do(t, "POST", "/v1/admin/concerts", spec(func(s map[string]string) {
			s["title"], s["venue"] = `"`+name+`"`, `"`+strings.Repeat("홀", 200)+`"`
		}), admin...)
		if a.status != 201 || decode[boxhttp.Concert](t, a).Title != name {
			t.Fatalf("status %d (body %.200s), want 201 with the title", a.status, a.body)
		}
	})
	t.Run("OKSlowestRate", func(t *testing.T) {
		a := e.do(t, "PUT", room, fmt.Sprintf(`{"strategy":"RATE","admitPerSecond":%g,"sessionSeconds":600,"idleSeconds":60}`, queue.MinAdmitPerSecond), admin...)
		if a.status != 200 {
			t.Fatalf("status %d (body %s), want 200", a.status, a.body)
		}
	})
	t.Run("SeatTakenInWords", func(t *testing.T) {
		lee := e.admitted(t, "Lee", 0, c.ConcertID)
		e.hold(t, kim, c.ConcertID, day2, 17)
		a := e.do(t, "POST", "/v1/reservations", `{"concertId":"`+c.ConcertID+`","date":"`+day2+`","seatNumbers":[18,17]}`,
			"Authorization", bearer(lee.access), "Queue-Token", lee.queue)
		p := wantProblem(t, a, 409, boxoffice.CodeSeatUnavailable)
		if !strings.Contains(p.Detail, "seat 17 ") || strings.ContainsAny(p.Detail, "[]") {
			t.Errorf("detail %q, want seat 17 named in words", p.Detail)
		}
	})
	if logs := e.logText(); strings.Contains(logs, "internal error") {
		t.Errorf("internal errors were logged:\n%.2000s", logs)
	}
}

// checkDetail fails t unless detail names field and says nothing of the
// implementation.
func checkDetail(t *testing.T, detail, field string) {
	t.Helper()
	if !strings.Contains(detail, field) {
		t.Errorf("detail %q does not name %s", detail, field)
	}
	low := strings.ToLower(detail)
	for _, w := range badInputWords {
		if strings.Contains(low, w) {
			t.Errorf("detail %q speaks of %q", detail, w)
		}
	}
}

// TestHeaderLimit: the API's own header limit is answered as a problem, and
// headers within it pass.
func TestHeaderLimit(t *testing.T) {
	e := newEmbeddedEnv(t)
	req, err := nethttp.NewRequest("GET", e.url+"/v1/concerts", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Padding", strings.Repeat("x", boxhttp.DefaultMaxHeaderBytes-1000))
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("headers within the limit: status %d, want 200", resp.StatusCode)
	}
}
