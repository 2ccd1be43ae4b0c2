package loadtest

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFault(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		f, err := ParseFault("redis=2026-12-06T10:00:01Z,2026-12-06T10:00:03.5Z")
		if err != nil {
			t.Fatal(err)
		}
		if f.Name != "redis" || f.End.Sub(f.Start) != 2500*time.Millisecond {
			t.Errorf("got %+v, want redis lasting 2.5 s", f)
		}
	})
	for _, bad := range []string{"", "redis", "=2026-12-06T10:00:01Z,2026-12-06T10:00:03Z", "redis=1,2", "redis=2026-12-06T10:00:03Z,2026-12-06T10:00:01Z"} {
		t.Run("Invalid", func(t *testing.T) {
			if _, err := ParseFault(bad); err == nil {
				t.Errorf("ParseFault(%q): got no error, want one", bad)
			}
		})
	}
}

func TestFaultsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "faults.json")
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	want := []Fault{{Name: "kill", Start: at, End: at.Add(time.Second)}, {Name: "redis", Start: at.Add(5 * time.Second), End: at.Add(7 * time.Second)}}
	if err := WriteFaults(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFaults(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[1].End.Equal(want[1].End) || got[0].Name != "kill" {
		t.Errorf("got %+v, want %+v", got, want)
	}
	os.WriteFile(path, []byte(`[{"name":"x"}]`), 0o644)
	if _, err := ReadFaults(path); err == nil {
		t.Errorf("a fault without times: got no error, want one")
	}
}

func TestStatusSeries(t *testing.T) {
	opens := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	s := newStatusSeries(opens)
	s.observe(opens.Add(-500*time.Millisecond), 200, nil)
	s.observe(opens.Add(1500*time.Millisecond), 503, []byte("OUTCOME_UNKNOWN"))
	s.observe(opens.Add(1600*time.Millisecond), 0, []byte(codeNetwork))
	s.observe(opens.Add(1700*time.Millisecond), 409, []byte("SEAT_UNAVAILABLE"))
	got := s.seconds()
	if len(got) != 3 || got[0].T != -1 || got[2].T != 1 {
		t.Fatalf("got seconds %+v, want -1, 0 and 1", got)
	}
	if got[1].Status == nil || len(got[1].Status) != 0 {
		t.Errorf("second 0: got %+v, want no answers", got[1])
	}
	if got[2].Codes["503 OUTCOME_UNKNOWN"] != 1 || got[2].Codes["0 NETWORK"] != 1 || len(got[2].Codes) != 2 || got[2].Status["409"] != 1 {
		t.Errorf("second 1: got %+v, want a 503 OUTCOME_UNKNOWN, a 0 NETWORK and a 409 without code", got[2])
	}
	if n := got[2].unavailableAnswers(); n != 2 {
		t.Errorf("unavailable answers: got %d, want 2", n)
	}
}

// faultOnsale is an on-sale report with 503s at the given seconds and one
// fault window from 9.5 to 12 s with 2 s of grace.
func faultOnsale(at ...int) *Onsale {
	o := &Onsale{Fans: 10, Faults: []FaultWindow{{Name: "redis", StartS: 9.5, EndS: 12}}, FaultGraceS: 2}
	for _, t := range at {
		o.StatusTimeline = append(o.StatusTimeline, StatusSecond{T: t, Status: map[string]int64{"503": 1, "200": 5}, Codes: map[string]int64{"503 UNAVAILABLE": 1}})
	}
	return o
}

func checkNamed(t *testing.T, checks []Check, name string) Check {
	t.Helper()
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, checks)
	return Check{}
}

func TestFaultChecks(t *testing.T) {
	const windows = "503s only inside fault windows"
	t.Run("OK", func(t *testing.T) {
		o := faultOnsale(9, 10, 11, 13) // 9 s meets the start at 9.5 s, 13 s the grace
		for _, c := range faultChecks(o, 0, 4) {
			if !c.OK {
				t.Errorf("check %q failed: %s", c.Name, c.Detail)
			}
		}
	})
	t.Run("OutsideWindow", func(t *testing.T) {
		c := checkNamed(t, faultChecks(faultOnsale(11, 14), 0, 2), windows)
		if c.OK || !strings.Contains(c.Detail, "14 s: 1") {
			t.Errorf("got %+v, want failed at 14 s", c)
		}
	})
	t.Run("OutsideSeries", func(t *testing.T) {
		// A 503 of the setup, before the series began.
		if c := checkNamed(t, faultChecks(faultOnsale(11), 0, 2), windows); c.OK {
			t.Errorf("got %+v, want failed", c)
		}
	})
	t.Run("NoWindows", func(t *testing.T) {
		o := faultOnsale(11)
		o.Faults = nil
		if c := checkNamed(t, faultChecks(o, 0, 1), windows); c.OK {
			t.Errorf("got %+v, want failed", c)
		}
	})
	t.Run("Err500", func(t *testing.T) {
		if c := checkNamed(t, faultChecks(faultOnsale(), 1, 0), "zero 500s"); c.OK {
			t.Errorf("got %+v, want failed", c)
		}
	})
	t.Run("Rejoins", func(t *testing.T) {
		o := faultOnsale()
		o.Rejoins, o.RejoinTimes = 3, 4
		if c := checkNamed(t, faultChecks(o, 0, 0), "zero fans who had to join again"); c.OK || !strings.Contains(c.Detail, "3 fans") {
			t.Errorf("got %+v, want failed naming 3 fans", c)
		}
	})
	t.Run("LostHolds", func(t *testing.T) {
		o := faultOnsale()
		o.LostHolds = 1
		if c := checkNamed(t, faultChecks(o, 0, 0), "zero fans who lost a live hold"); c.OK {
			t.Errorf("got %+v, want failed", c)
		}
	})
}

func TestWriteStatusSVG(t *testing.T) {
	o := faultOnsale(9, 10, 11, 13)
	o.StatusTimeline = append(o.StatusTimeline, StatusSecond{T: 14, Status: map[string]int64{"0": 2, "500": 1}, Codes: map[string]int64{"0 NETWORK": 2, "500 INTERNAL": 1}})
	res := &Result{Scenario: "onsale", Onsale: o}
	var b bytes.Buffer
	if err := res.WriteStatusSVG(&b); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	dec := xml.NewDecoder(&b)
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
	}
	for _, want := range []string{"redis", "no answer: NETWORK", "500 INTERNAL", "503 UNAVAILABLE"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the plot does not name %q", want)
		}
	}
}
