package loadtest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault is a fault injected into the deployment during an on-sale, from
// Start until End, when the deployment had recovered from it.
type Fault struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// ParseFault parses NAME=START,END, the times in RFC 3339.
func ParseFault(s string) (Fault, error) {
	name, span, ok := strings.Cut(s, "=")
	start, end, ok2 := strings.Cut(span, ",")
	if !ok || !ok2 || name == "" {
		return Fault{}, fmt.Errorf("fault %q: want NAME=START,END with RFC 3339 times", s)
	}
	f := Fault{Name: name}
	var err error
	if f.Start, err = time.Parse(time.RFC3339Nano, start); err != nil {
		return Fault{}, fmt.Errorf("fault %q: start: %w", s, err)
	}
	if f.End, err = time.Parse(time.RFC3339Nano, end); err != nil {
		return Fault{}, fmt.Errorf("fault %q: end: %w", s, err)
	}
	if f.End.Before(f.Start) {
		return Fault{}, fmt.Errorf("fault %q: ends before it starts", s)
	}
	return f, nil
}

// ReadFaults reads a JSON array of faults ({"name", "start", "end"}).
func ReadFaults(path string) ([]Fault, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var fs []Fault
	if err := json.Unmarshal(b, &fs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, f := range fs {
		if f.Name == "" || f.Start.IsZero() || f.End.Before(f.Start) {
			return nil, fmt.Errorf("%s: fault %+v: want a name and start <= end", path, f)
		}
	}
	return fs, nil
}

// WriteFaults writes faults to path as ReadFaults reads them; the file is
// replaced at once, so a reader never sees half of it.
func WriteFaults(path string, faults []Fault) error {
	b, err := json.MarshalIndent(faults, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// FaultWindow is a fault in seconds from the opening.
type FaultWindow struct {
	Name   string  `json:"name"`
	StartS float64 `json:"startSeconds"`
	EndS   float64 `json:"endSeconds"`
}

// StatusSecond counts the answers received in one second of the on-sale,
// from T to T+1 seconds from the opening.
type StatusSecond struct {
	T int `json:"t"`
	// Status counts answers by HTTP status; "0" is no answer.
	Status map[string]int64 `json:"status"`
	// Codes counts 5xx answers and unanswered requests by status and error
	// code, such as "503 UNAVAILABLE", "503 OUTCOME_UNKNOWN" or "0 NETWORK".
	Codes map[string]int64 `json:"codes,omitempty"`
}

// statusSeries counts answers by status per second from its base. It is
// safe for concurrent use.
type statusSeries struct {
	base time.Time
	mu   sync.Mutex
	secs map[int]*StatusSecond
}

func newStatusSeries(base time.Time) *statusSeries {
	return &statusSeries{base: base, secs: map[int]*StatusSecond{}}
}

func (s *statusSeries) observe(at time.Time, status int, code []byte) {
	t := int(math.Floor(at.Sub(s.base).Seconds()))
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secs[t]
	if sec == nil {
		sec = &StatusSecond{T: t, Status: map[string]int64{}}
		s.secs[t] = sec
	}
	sec.Status[strconv.Itoa(status)]++
	if status == 0 || status >= 500 {
		if sec.Codes == nil {
			sec.Codes = map[string]int64{}
		}
		c := string(code)
		if c == "" {
			c = "HTTP_" + strconv.Itoa(status)
		}
		sec.Codes[strconv.Itoa(status)+" "+c]++
	}
}

// seconds returns the counts, by second, from the first second with an
// answer to the last, seconds without answers included.
func (s *statusSeries) seconds() []StatusSecond {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.secs) == 0 {
		return nil
	}
	lo, hi := math.MaxInt, math.MinInt
	for t := range s.secs {
		lo, hi = min(lo, t), max(hi, t)
	}
	out := make([]StatusSecond, 0, hi-lo+1)
	for t := lo; t <= hi; t++ {
		if sec := s.secs[t]; sec != nil {
			c := StatusSecond{T: t, Status: clone(sec.Status), Codes: clone(sec.Codes)}
			out = append(out, c)
		} else {
			out = append(out, StatusSecond{T: t, Status: map[string]int64{}})
		}
	}
	return out
}

func clone(m map[string]int64) map[string]int64 {
	if m == nil {
		return nil
	}
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// unavailableAnswers counts the answers of a second that say the service
// was unavailable: 5xx other than 500, and no answer.
func (s StatusSecond) unavailableAnswers() int64 {
	var n int64
	for k, v := range s.Status {
		if st, _ := strconv.Atoi(k); st == 0 || (st > 500 && st < 600) {
			n += v
		}
	}
	return n
}

// inWindow reports whether second [t, t+1) meets a window or the grace
// after it.
func inWindow(t int, windows []FaultWindow, grace float64) bool {
	for _, w := range windows {
		if float64(t+1) > w.StartS && float64(t) < w.EndS+grace {
			return true
		}
	}
	return false
}

// faultChecks are the checks of a robust on-sale: no 500 at all, answers
// that say the service is unavailable only within a fault's window or the
// grace after it, no fan who had to join again, no live hold lost.
// total500 and totalUnavailable count every request of the run, setup
// and read-back included, so that those outside the series count as
// outside every window.
func faultChecks(o *Onsale, total500, totalUnavailable int64) []Check {
	var inside int64
	var outsideSecs []string
	for _, s := range o.StatusTimeline {
		n := s.unavailableAnswers()
		if n == 0 {
			continue
		}
		if inWindow(s.T, o.Faults, o.FaultGraceS) {
			inside += n
		} else if len(outsideSecs) < 10 {
			outsideSecs = append(outsideSecs, fmt.Sprintf("%d s: %d", s.T, n))
		}
	}
	outside := totalUnavailable - inside
	var names []string
	for _, w := range o.Faults {
		names = append(names, fmt.Sprintf("%s %.1f–%.1f s", w.Name, w.StartS, w.EndS))
	}
	windows := "no fault windows"
	if len(names) > 0 {
		windows = "windows " + strings.Join(names, ", ")
	}
	detail := fmt.Sprintf("%s 503/502/504 or unanswered inside the fault windows, %s outside (%s, each with %.0f s of grace)",
		count(inside), count(outside), windows, o.FaultGraceS)
	if len(outsideSecs) > 0 {
		detail += "; outside at " + strings.Join(outsideSecs, ", ")
	}
	checks := []Check{
		{Name: "zero 500s", OK: total500 == 0, Detail: fmt.Sprintf("%s requests answered 500", count(total500))},
		{Name: "503s only inside fault windows", OK: outside == 0, Detail: detail},
		{
			Name: "zero fans who had to join again", OK: o.Rejoins == 0,
			Detail: fmt.Sprintf("%s fans were told their place or session had ended before they finished (%s times)", count(int64(o.Rejoins)), count(int64(o.RejoinTimes))),
		},
		{
			Name: "zero fans who lost a live hold", OK: o.LostHolds == 0,
			Detail: fmt.Sprintf("%s fans had a hold answered expired or unknown, or read back not held, before its expiresAt", count(int64(o.LostHolds))),
		},
	}
	return checks
}

// windowsFrom converts faults to seconds from opens, in order of start.
func windowsFrom(faults []Fault, opens time.Time) []FaultWindow {
	out := make([]FaultWindow, 0, len(faults))
	for _, f := range faults {
		out = append(out, FaultWindow{Name: f.Name, StartS: f.Start.Sub(opens).Seconds(), EndS: f.End.Sub(opens).Seconds()})
	}
	slices.SortFunc(out, func(a, b FaultWindow) int { return cmp.Compare(a.StartS, b.StartS) })
	return out
}
