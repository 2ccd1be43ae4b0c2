package loadtest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	boxhttp "github.com/boxoffice/boxoffice/http"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"Empty", nil, 0},
		{"One", []float64{0.3}, 0.3},
		{"Odd", []float64{0.5, 0.1, 0.3}, 0.3},
		{"Even", []float64{0.4, 0.1, 0.3, 0.2}, 0.25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := median(tt.in); got != tt.want {
				t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// holdResult is a hold scenario result of three rounds with the given
// hold req/s and p99 against a bare handler of 10,000 req/s.
func holdResult(rps []float64, p99 float64, doubleHolds bool) *Result {
	res := &Result{Scenario: "hold"}
	for _, r := range rps {
		res.Rounds = append(res.Rounds, Round{Phases: []Phase{
			{Name: "ceiling", RPS: 10000, Endpoints: []Endpoint{{Route: routeHealthz.String(), Requests: 100, OK: 100, OKRPS: 10000, RPS: 10000}}},
			{Name: "hold", CeilingRPS: 10000, Endpoints: []Endpoint{
				{Route: routeHold.String(), Requests: 100, OK: 100, OKRPS: r, RPS: r, P99MS: p99, Ratio: r / 10000},
			}},
		}})
	}
	res.Checks = []Check{{Name: "no double holds", OK: !doubleHolds}, {Name: "no 5xx answers", OK: true}}
	return res
}

func TestGoals(t *testing.T) {
	tests := []struct {
		name      string
		res       *Result
		wantRatio float64
		wantMet   bool
	}{
		{"Met", holdResult([]float64{1900, 2400, 2200}, 80, false), 0.22, true},
		{"ErrRatio", holdResult([]float64{1900, 1800, 2200}, 80, false), 0.19, false},
		{"ErrP99", holdResult([]float64{2200}, 120, false), 0.22, false},
		{"ErrDoubleHolds", holdResult([]float64{2200}, 80, true), 0.22, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gs := goals(tt.res)
			if len(gs) != 1 {
				t.Fatalf("got %d goals, want 1", len(gs))
			}
			g := gs[0]
			if g.Met != tt.wantMet || g.Ratio < tt.wantRatio-1e-9 || g.Ratio > tt.wantRatio+1e-9 {
				t.Errorf("got ratio %v met %v (%s), want ratio %v met %v", g.Ratio, g.Met, g.Measured, tt.wantRatio, tt.wantMet)
			}
		})
	}
	t.Run("NoCeiling", func(t *testing.T) {
		res := holdResult([]float64{1100}, 80, false)
		res.Rounds[0].Phases[1].Endpoints[0].Ratio = 0
		if g := goals(res)[0]; g.Met {
			t.Errorf("met without a bare handler: got true, want false")
		}
	})
	t.Run("Onsale", func(t *testing.T) {
		res := &Result{Scenario: "onsale", Onsale: &Onsale{Fans: 20000, Seats: 1000, SoldOut: true}, Checks: []Check{{Name: "sold out", OK: true}}}
		if g := goals(res)[0]; !g.Met {
			t.Errorf("on-sale of 20,000 fans passing every check: got not met (%s), want met", g.Measured)
		}
		res.Onsale.Fans = 300
		if g := goals(res)[0]; g.Met {
			t.Errorf("on-sale of 300 fans: got met, want not met")
		}
	})
}

func TestWriteTable(t *testing.T) {
	res := holdResult([]float64{900, 800, 1100}, 80, true)
	res.Targets = []string{"http://127.0.0.1:8080"}
	res.Rounds[0].Phases[1].Endpoints[0].Errors = map[string]int64{"SEAT_UNAVAILABLE": 7, "NETWORK": 2}
	res.Goals = goals(res)
	res.Warnings = []string{"429 seen"}
	var b bytes.Buffer
	if err := res.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"POST /v1/reservations", "SEAT_UNAVAILABLE 7, NETWORK 2", "ratio ≥ 0.20", "NOT MET",
		"FAIL  no double holds", "WARNING: 429 seen", "result: FAILED",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	var back Result
	b.Reset()
	if err := res.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back.Rounds) != 3 {
		t.Errorf("JSON round trip: got %d rounds, err %v; want 3 rounds", len(back.Rounds), err)
	}
}

func TestDownsample(t *testing.T) {
	s := make([]Sample, 100)
	for i := range s {
		s[i].T = float64(i)
	}
	got := downsample(s, 10)
	if len(got) != 10 || got[0].T != 0 || got[len(got)-1].T != 99 {
		t.Errorf("got %d samples from %v to %v, want 10 from 0 to 99", len(got), got[0].T, got[len(got)-1].T)
	}
	if got := downsample(s[:5], 10); len(got) != 5 {
		t.Errorf("short series: got %d samples, want all 5", len(got))
	}
}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		n      int
		want   []float64
	}{
		{0, 10, 5, []float64{0, 2, 4, 6, 8, 10}},
		{0, 10, 4, []float64{0, 5, 10}},
		{-1.7, 13.5, 8, []float64{0, 2, 4, 6, 8, 10, 12}},
		{-4.5, 3, 4, []float64{-4, -2, 0, 2}},
		{-1.7, 13.5, 3, []float64{0, 10}},
		{0, 20000, 4, []float64{0, 5000, 10000, 15000, 20000}},
	}
	for _, tt := range tests {
		got := niceTicks(tt.lo, tt.hi, tt.n)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("niceTicks(%v, %v, %d) = %v, want %v", tt.lo, tt.hi, tt.n, got, tt.want)
		}
	}
}

// wellFormed fails t unless svg parses as XML with an svg root.
func wellFormed(t *testing.T, svg []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("root element: got %q, want svg", root)
	}
}

func TestSVG(t *testing.T) {
	res := holdResult([]float64{900}, 80, false)
	res.Rounds[0].Phases[1].Endpoints[0].Buckets = []Bucket{{LowUS: 900, HighUS: 1000, Count: 60}, {LowUS: 20000, HighUS: 21000, Count: 40}}
	res.Rounds[0].Phases[1].Endpoints[0].Route = "GET <&> /x"
	var b bytes.Buffer
	if err := res.WriteLatencySVG(&b); err != nil {
		t.Fatal(err)
	}
	wellFormed(t, b.Bytes())
	if !strings.Contains(b.String(), "<polyline") {
		t.Errorf("latency plot has no curve")
	}

	if err := res.WriteTimelineSVG(&b); err == nil {
		t.Errorf("timeline of a result without an on-sale: got no error, want one")
	}
	res.Onsale = &Onsale{Fans: 300, Seats: 100, SoldOut: true, SoldOutS: 3,
		Timeline: []Sample{{T: -1, Waiting: 1}, {T: 0.5, Waiting: 250, Admitted: 40, Active: 40, Held: 20}, {T: 3, Admitted: 120, Sold: 100}}}
	b.Reset()
	if err := res.WriteTimelineSVG(&b); err != nil {
		t.Fatal(err)
	}
	wellFormed(t, b.Bytes())
	if got := strings.Count(b.String(), "<polyline"); got != 5 {
		t.Errorf("timeline curves: got %d, want 5 (waiting, admitted, active, held, sold)", got)
	}

	empty := &Result{Scenario: "join"}
	b.Reset()
	if err := empty.WriteLatencySVG(&b); err != nil {
		t.Fatal(err)
	}
	wellFormed(t, b.Bytes())
}

func TestPickSeats(t *testing.T) {
	seats := make([]boxhttp.Seat, 50)
	for i := range seats {
		seats[i] = boxhttp.Seat{Number: i + 1, Status: "SOLD"}
	}
	for _, n := range []int{7, 3, 30, 12} {
		seats[n-1].Status = "AVAILABLE"
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		got := pickSeats(seats, 2, rng)
		if len(got) != 2 || got[0] >= got[1] {
			t.Fatalf("pickSeats = %v, want two available seats in order", got)
		}
		for _, n := range got {
			if seats[n-1].Status != "AVAILABLE" {
				t.Fatalf("pickSeats chose seat %d, which is %s", n, seats[n-1].Status)
			}
		}
	}
	if got := pickSeats(seats, 9, rng); len(got) != 4 {
		t.Errorf("asking for more than are free: got %v, want the 4 free", got)
	}
	for i := range seats {
		seats[i].Status = "HELD"
	}
	if got := pickSeats(seats, 2, rng); got != nil {
		t.Errorf("nothing free: got %v, want nil", got)
	}
	for range 100 {
		if n := wantSeats(rng, 3); n < 1 || n > 3 {
			t.Fatalf("wantSeats(limit 3) = %d, want 1..3", n)
		}
	}
}

func TestWarnings(t *testing.T) {
	e := newEngine(Options{Targets: []string{"http://127.0.0.1:1"}, Connections: 1, RequestTimeout: time.Second})
	if got := e.warnings(); len(got) != 0 {
		t.Fatalf("no requests: got warnings %q, want none", got)
	}
	rec := e.track(newRecorder())
	rec.observe(routeJoin, time.Millisecond, 429, []byte("RATE_LIMITED"))
	got := e.warnings()
	if len(got) != 1 || !strings.Contains(got[0], "BOXOFFICE_RATE_LIMIT=0") {
		t.Errorf("after a 429: got %q, want one warning naming BOXOFFICE_RATE_LIMIT=0", got)
	}
	rec.observe(routeJoin, time.Millisecond, 503, []byte("UNAVAILABLE"))
	if c := e.no5xx(); c.OK {
		t.Errorf("after a 503: no 5xx check got ok, want failed")
	}
}

// TestHotSeatGoal: the hot-seat phase is rated on every answer, refusals
// included, and its goal follows its check.
func TestHotSeatGoal(t *testing.T) {
	res := holdResult([]float64{1100}, 80, false)
	res.Rounds[0].Phases = append(res.Rounds[0].Phases, Phase{Name: "hot-seat", CeilingRPS: 10000, Endpoints: []Endpoint{
		{Route: routeHold.String(), Requests: 3000, OK: 20, OKRPS: 2, RPS: 3000, P99MS: 50, Ratio: 0.0002},
	}})
	res.Checks = append(res.Checks, Check{Name: "exactly one winner per hot seat", OK: true})
	gs := goals(res)
	if len(gs) != 2 {
		t.Fatalf("got %d goals, want 2", len(gs))
	}
	if g := gs[1]; !g.Met || g.Ratio < 0.3-1e-9 || g.Ratio > 0.3+1e-9 {
		t.Errorf("hot-seat goal: got ratio %v met %v (%s), want ratio 0.3 met", g.Ratio, g.Met, g.Measured)
	}
	res.Checks[len(res.Checks)-1].OK = false
	if g := goals(res)[1]; g.Met {
		t.Errorf("hot-seat goal with two winners of a seat: got met, want not met")
	}
}

func TestWriteTableRoom(t *testing.T) {
	res := holdResult([]float64{900}, 80, true)
	res.Rounds[0].Room = &FilledRoom{ConcertID: "c1", Filled: 100000, FillSeconds: 42, Waiting: 100300, Bytes: 38730090, BytesPerFan: 386.14}
	var b bytes.Buffer
	if err := res.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := "room c1: 100,000 fans joined in 42s before the phases; 100,300 waiting after them; Redis 38,730,090 bytes, 386.1 per waiting fan"
	if !strings.Contains(b.String(), want) {
		t.Errorf("table lacks %q:\n%s", want, b.String())
	}
}

func TestRoomSizeSVG(t *testing.T) {
	var res Result
	// The last round measures a size between the others: the curves still
	// run left to right.
	for i, size := range []int{1000, 100000, 1000000, 10000} {
		rps := float64(3000 - 100*i)
		res.Rounds = append(res.Rounds, Round{Room: &FilledRoom{Filled: size}, Phases: []Phase{
			{Name: "ceiling", RPS: 10000},
			{Name: "join", Endpoints: []Endpoint{{OKRPS: rps}}},
			{Name: "ceiling", RPS: 9000},
			{Name: "poll", Endpoints: []Endpoint{{OKRPS: 2 * rps}}},
		}})
	}
	var b bytes.Buffer
	if err := res.WriteRoomSizeSVG(&b); err != nil {
		t.Fatal(err)
	}
	wellFormed(t, b.Bytes())
	if got := strings.Count(b.String(), "<circle"); got != 12 {
		t.Errorf("points: got %d, want 12 (joins, polls and one bare handler per size)", got)
	}
	for _, line := range strings.Split(b.String(), "\n") {
		_, pts, ok := strings.Cut(line, `points="`)
		if !ok {
			continue
		}
		last := -1.0
		for pt := range strings.FieldsSeq(strings.TrimSuffix(pts, `"/>`)) {
			x, _, _ := strings.Cut(pt, ",")
			v, err := strconv.ParseFloat(x, 64)
			if err != nil || v <= last {
				t.Errorf("curve not left to right: %s", line)
				break
			}
			last = v
		}
	}
	b.Reset()
	if err := (&Result{Scenario: "join"}).WriteRoomSizeSVG(&b); err != nil {
		t.Fatal(err)
	}
	wellFormed(t, b.Bytes())
	if !strings.Contains(b.String(), "no filled room measured") {
		t.Errorf("plot without filled rooms: got %s", b.String())
	}
}
