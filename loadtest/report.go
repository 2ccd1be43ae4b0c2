package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Goal is one of the project's targets and how the run measured against it.
type Goal struct {
	Name     string `json:"name"`
	Want     string `json:"want"`
	Measured string `json:"measured"`
	// Ratios are each round's 2xx answers per second over the bare
	// handler's; Ratio is their median, P99MS the median p99.
	Ratios []float64 `json:"ratios,omitempty"`
	Ratio  float64   `json:"ratio,omitempty"`
	P99MS  float64   `json:"p99Ms,omitempty"`
	Met    bool      `json:"met"`
}

// goalSpec is a target of a measured scenario: a ratio to the bare handler
// on a 2-core machine, a p99 bound, and a check that must pass.
type goalSpec struct {
	scenario, name, phase string
	rt                    route
	minRatio, maxP99MS    float64
	check                 string
	// answers rates every answer, refusals included, instead of the 2xx
	// only; optional marks a goal of a phase a run may leave out.
	answers, optional bool
}

var goalSpecs = []goalSpec{
	{"join", "join", "join", routeJoin, 0.30, 40, "", false, false},
	{"join", "queue status poll", "poll", routeQueueStatus, 0.40, 40, "", false, false},
	{"browse", "seat map read", "seats", routeSeats, 0.50, 0, "", false, false},
	{"hold", "hold (distinct seats)", "hold", routeHold, 0.20, 100, "no double holds", false, false},
	{"hold", "hot-seat hold (answers)", "hot-seat", routeHold, 0, 0, "exactly one winner per hot seat", true, true},
	{"pay", "pay", "pay", routePay, 0.12, 0, "no double debits", false, false},
}

// The on-sale target.
const (
	goalOnsaleFans  = 20000
	goalOnsaleSeats = 1000
)

func goals(res *Result) []Goal {
	if res.Scenario == "onsale" {
		return []Goal{onsaleGoal(res)}
	}
	var out []Goal
	for _, g := range goalSpecs {
		if g.scenario != res.Scenario {
			continue
		}
		var p99s []float64
		var ratios []float64
		for _, r := range res.Rounds {
			ep, ceiling, ok := r.endpoint(g.phase, g.rt)
			if !ok {
				continue
			}
			p99s = append(p99s, ep.P99MS)
			switch {
			case g.answers && ceiling > 0:
				ratios = append(ratios, ep.RPS/ceiling)
			case !g.answers && ep.Ratio > 0:
				ratios = append(ratios, ep.Ratio)
			}
		}
		if g.optional && len(p99s) == 0 {
			continue
		}
		want := fmt.Sprintf("ratio ≥ %.2f", g.minRatio)
		if g.minRatio == 0 {
			want = "ratio measured"
		}
		if g.maxP99MS > 0 {
			want += fmt.Sprintf(", p99 ≤ %.0f ms", g.maxP99MS)
		}
		if g.check != "" {
			want += ", " + g.check
		}
		goal := Goal{Name: g.name, Want: want, Ratios: ratios}
		checked := g.check == ""
		for _, c := range res.Checks {
			if strings.HasPrefix(c.Name, g.check) && g.check != "" {
				checked = c.OK
				if !c.OK {
					break
				}
			}
		}
		goal.P99MS = median(p99s)
		switch {
		case len(goal.Ratios) == 0:
			goal.Measured = "no ratio: the bare handler was not measured"
		default:
			goal.Ratio = median(goal.Ratios)
			goal.Measured = fmt.Sprintf("ratio %.2f", goal.Ratio)
			if len(goal.Ratios) > 1 {
				goal.Measured += fmt.Sprintf(" (median of %d)", len(goal.Ratios))
			}
			goal.Met = goal.Ratio >= g.minRatio
		}
		if len(p99s) > 0 {
			goal.Measured += fmt.Sprintf(", p99 %.1f ms", goal.P99MS)
			if g.maxP99MS > 0 && goal.P99MS > g.maxP99MS {
				goal.Met = false
			}
		}
		if g.check != "" {
			if checked {
				goal.Measured += ", " + g.check + ": yes"
			} else {
				goal.Measured += ", " + g.check + ": NO"
				goal.Met = false
			}
		}
		out = append(out, goal)
	}
	return out
}

func onsaleGoal(res *Result) Goal {
	g := Goal{
		Name: "onsale",
		Want: fmt.Sprintf("%s fans / %s seats sold out, every invariant true, zero 5xx", count(goalOnsaleFans), count(goalOnsaleSeats)),
	}
	o := res.Onsale
	if o == nil {
		g.Measured = "did not run"
		return g
	}
	passed := 0
	for _, c := range res.Checks {
		if c.OK {
			passed++
		}
	}
	g.Measured = fmt.Sprintf("%s fans / %s seats", count(int64(o.Fans)), count(int64(o.Seats)))
	if o.SoldOut {
		g.Measured += fmt.Sprintf(", sold out %.1f s after the first admission", o.TimeToSellOutS)
	} else {
		g.Measured += ", not sold out"
	}
	g.Measured += fmt.Sprintf(", %d of %d checks passed", passed, len(res.Checks))
	g.Met = o.Fans >= goalOnsaleFans && o.Seats >= goalOnsaleSeats && passed == len(res.Checks)
	return g
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// endpoint finds rt in the phase named phase.
func (r Round) endpoint(phase string, rt route) (Endpoint, float64, bool) {
	for _, p := range r.Phases {
		if p.Name != phase {
			continue
		}
		for _, ep := range p.Endpoints {
			if ep.Route == rt.String() {
				return ep, p.CeilingRPS, true
			}
		}
	}
	return Endpoint{}, 0, false
}

// WriteJSON writes the result as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the result for a person: per phase and endpoint the
// requests, rates, ratio to the bare handler, latencies and error codes;
// then the targets, the checks and any warnings.
func (r *Result) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\nboxoffice loadtest %s\n", r.Scenario)
	fmt.Fprintf(&b, "  targets       %s\n", strings.Join(r.Targets, ", "))
	if r.Scenario == "onsale" {
		fmt.Fprintf(&b, "  connections   %d\n", r.Connections)
	} else {
		fmt.Fprintf(&b, "  connections   %d closed-loop workers; warmup %gs, then %gs per phase; %d round(s)\n", r.Connections, r.WarmupS, r.DurationS, len(r.Rounds))
	}
	fmt.Fprintf(&b, "  started       %s\n", r.StartedAt.Format(time.RFC3339))
	for i, round := range r.Rounds {
		if len(r.Rounds) > 1 {
			fmt.Fprintf(&b, "\nround %d\n", i+1)
		} else {
			b.WriteString("\n")
		}
		writeRound(&b, round)
	}
	if r.Onsale != nil {
		writeOnsale(&b, r.Onsale)
	}
	if len(r.Other) > 0 {
		var n, bad int64
		for _, ep := range r.Other {
			n += ep.Requests
			bad += ep.Requests - ep.OK
		}
		fmt.Fprintf(&b, "\nsetup and read-back (not measured): %s requests, %s not 2xx\n", count(n), count(bad))
		for _, ep := range r.Other {
			if ep.Requests > ep.OK {
				fmt.Fprintf(&b, "  %-48s %s\n", ep.Route, errorList(ep.Errors))
			}
		}
	}
	if len(r.Goals) > 0 {
		b.WriteString("\ntargets (2-core machine, ratio of 2xx req/s to the same run's bare handler)\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, g := range r.Goals {
			met := "met"
			if !g.Met {
				met = "NOT MET"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", g.Name, g.Want, g.Measured, met)
		}
		tw.Flush()
	}
	b.WriteString("\nchecks\n")
	WriteChecks(&b, r.Checks)
	for _, wn := range r.Warnings {
		fmt.Fprintf(&b, "\nWARNING: %s\n", wn)
	}
	if r.Passed {
		b.WriteString("\nresult: passed\n")
	} else {
		b.WriteString("\nresult: FAILED\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeRound(b *strings.Builder, r Round) {
	if rm := r.Room; rm != nil {
		fmt.Fprintf(b, "  room %s: %s fans joined in %.0fs before the phases; %s waiting after them", rm.ConcertID,
			count(int64(rm.Filled)), rm.FillSeconds, count(rm.Waiting))
		if rm.Bytes > 0 {
			fmt.Fprintf(b, "; Redis %s bytes, %.1f per waiting fan", count(rm.Bytes), rm.BytesPerFan)
		}
		b.WriteString("\n\n")
	}
	const row = "  %-8s %-48s %10s %9s %6s %8s %8s %8s %9s\n"
	fmt.Fprintf(b, row, "phase", "endpoint", "requests", "req/s", "ratio", "p50 ms", "p90 ms", "p99 ms", "max ms")
	phases := r.Phases
	var notes []string
	for _, p := range phases {
		for _, ep := range p.Endpoints {
			ratio := "-"
			switch {
			case p.Name == "ceiling":
				ratio = "1.00"
			case ep.Ratio > 0:
				ratio = fmt.Sprintf("%.2f", ep.Ratio)
			}
			fmt.Fprintf(b, row, p.Name, ep.Route, count(ep.Requests), count(int64(ep.RPS+0.5)), ratio,
				fmt.Sprintf("%.2f", ep.P50MS), fmt.Sprintf("%.2f", ep.P90MS), fmt.Sprintf("%.2f", ep.P99MS), fmt.Sprintf("%.1f", ep.MaxMS))
		}
		if p.Note != "" {
			notes = append(notes, p.Name+": "+p.Note)
		}
	}
	errs := false
	for _, p := range phases {
		for _, ep := range p.Endpoints {
			if len(ep.Errors) == 0 {
				continue
			}
			if !errs {
				b.WriteString("  error codes\n")
				errs = true
			}
			fmt.Fprintf(b, "  %-8s %-48s %s\n", p.Name, ep.Route, errorList(ep.Errors))
		}
	}
	for _, p := range phases {
		for _, sb := range p.Batches {
			fmt.Fprintf(b, "  %-8s server batches of %s: %s, %.1f requests each; a request waited %.1f ms for its batch, a batch took %.1f ms in the store (means, warmup included)\n",
				p.Name, sb.Kind, count(sb.Batches), float64(sb.Requests)/float64(sb.Batches), sb.WaitMeanMS, sb.StoreMeanMS)
		}
	}
	for _, n := range notes {
		fmt.Fprintf(b, "  note: %s\n", n)
	}
}

// errorList lists error codes by count, most frequent first.
func errorList(errs map[string]int64) string {
	type kv struct {
		code string
		n    int64
	}
	var l []kv
	for c, n := range errs {
		l = append(l, kv{c, n})
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].n != l[j].n {
			return l[i].n > l[j].n
		}
		return l[i].code < l[j].code
	})
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.code + " " + count(e.n)
	}
	return strings.Join(parts, ", ")
}

func writeOnsale(b *strings.Builder, o *Onsale) {
	room := o.Strategy
	if o.AdmitPerSecond > 0 {
		room += fmt.Sprintf(" %g/s", o.AdmitPerSecond)
	}
	if o.MaxActive > 0 {
		room += fmt.Sprintf(" max %d active", o.MaxActive)
	}
	wait := "polling"
	if o.Stream {
		wait = "event stream"
	}
	fmt.Fprintf(b, "\non-sale: %s fans, %d dates x 50 = %s seats, waiting room %s, holds %d s, fans waiting by %s\n",
		count(int64(o.Fans)), o.Dates, count(int64(o.Seats)), room, o.HoldSeconds, wait)
	fmt.Fprintf(b, "  first admission   %.2f s after the opening\n", o.FirstAdmissionS)
	if o.SoldOut {
		fmt.Fprintf(b, "  sold out          %.2f s after the opening; time to sell out %.2f s (first admission to the stats showing every seat sold)\n", o.SoldOutS, o.TimeToSellOutS)
	} else {
		fmt.Fprintf(b, "  NOT sold out      %s of %s seats sold\n", count(int64(o.Sold)), count(int64(o.Seats)))
	}
	fmt.Fprintf(b, "  revenue           %s\n", won(o.Revenue))
	fmt.Fprintf(b, "  hold retries      %s (SEAT_UNAVAILABLE, tried again)\n", count(o.HoldRetries))
	fmt.Fprintf(b, "  connection wait   p50 %.1f ms, p99 %.1f ms, max %.1f ms before a fan's request got one of the connections (not in the latencies above)\n",
		o.ConnWait.P50MS, o.ConnWait.P99MS, o.ConnWait.MaxMS)
	if o.ProofOfWork > 0 {
		fmt.Fprintf(b, "  proof of work     maxnumber %s: %s challenges solved, p50 %.1f ms, p99 %.1f ms, max %.1f ms each (before the join, not in its latency)\n",
			count(o.ProofOfWork), count(o.Solved), o.SolveMS.P50MS, o.SolveMS.P99MS, o.SolveMS.MaxMS)
	}
	var outs []string
	for k, n := range o.Outcomes {
		outs = append(outs, fmt.Sprintf("%s %s", k, count(int64(n))))
	}
	sort.Strings(outs)
	fmt.Fprintf(b, "  fans              %s\n", strings.Join(outs, "; "))
	if o.Robust || len(o.StatusTimeline) > 0 {
		writeFaults(b, o)
	}
	b.WriteString("  admission timeline (admin stats)\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\tt s\twaiting\tadmitted\tactive\theld\tsold\t\n")
	for _, s := range downsample(o.Timeline, 16) {
		fmt.Fprintf(tw, "\t%.1f\t%s\t%s\t%s\t%s\t%s\t\n", s.T, count(s.Waiting), count(s.Admitted), count(s.Active), count(int64(s.Held)), count(int64(s.Sold)))
	}
	tw.Flush()
}

// downsample keeps about n samples, evenly spread, always the last.
func downsample(s []Sample, n int) []Sample {
	if len(s) <= n {
		return s
	}
	out := make([]Sample, 0, n+1)
	step := float64(len(s)-1) / float64(n-1)
	for i := range n {
		out = append(out, s[int(float64(i)*step+0.5)])
	}
	return out
}

// writeFaults writes what robust fans met: faults, answers by status over
// time, rejoins and lost holds.
func writeFaults(b *strings.Builder, o *Onsale) {
	fmt.Fprintf(b, "  robust fans       %s requests repeated after 503/502/504/429 or no answer; %s moves to another target\n", count(o.Resent), count(o.Moved))
	fmt.Fprintf(b, "  had to join again %s fans (%s times); lost a live hold: %s fans\n", count(int64(o.Rejoins)), count(int64(o.RejoinTimes)), count(int64(o.LostHolds)))
	for _, in := range o.Incidents {
		fmt.Fprintf(b, "    %6.1f s  %s  %s: %s\n", in.T, in.UserID, in.Kind, in.Detail)
	}
	if len(o.Faults) == 0 {
		b.WriteString("  faults            none given\n")
	}
	for _, w := range o.Faults {
		fmt.Fprintf(b, "  fault             %-28s %6.1f s to %6.1f s (%.1f s; 5xx allowed until %.1f s)\n", w.Name, w.StartS, w.EndS, w.EndS-w.StartS, w.EndS+o.FaultGraceS)
	}
	total := map[string]int64{}
	codes := map[string]int64{}
	for _, sec := range o.StatusTimeline {
		for k, n := range sec.Status {
			total[k] += n
		}
		for k, n := range sec.Codes {
			codes[k] += n
		}
	}
	fmt.Fprintf(b, "  answers by status %s\n", errorList(total))
	if len(codes) > 0 {
		fmt.Fprintf(b, "  5xx and no answer %s\n", errorList(codes))
	}
	var rows []StatusSecond
	for _, sec := range o.StatusTimeline {
		if len(sec.Codes) > 0 {
			rows = append(rows, sec)
		}
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("  seconds with 5xx or no answer (answers received in [t, t+1) s from the opening)\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "    t s\t2xx\t4xx\t5xx and no answer\twindow\t\n")
	const maxRows = 40
	for i, sec := range rows {
		if i == maxRows {
			fmt.Fprintf(tw, "    …\t%d more seconds\t\t\t\t\n", len(rows)-maxRows)
			break
		}
		var ok, client int64
		for k, n := range sec.Status {
			switch k[0] {
			case '2':
				ok += n
			case '4':
				client += n
			}
		}
		window := "OUTSIDE"
		if inWindow(sec.T, o.Faults, o.FaultGraceS) {
			window = "in"
		}
		fmt.Fprintf(tw, "    %d\t%s\t%s\t%s\t%s\t\n", sec.T, count(ok), count(client), errorList(sec.Codes), window)
	}
	tw.Flush()
}

// WriteChecks writes one line per check, marked ok or FAIL.
func WriteChecks(b *strings.Builder, checks []Check) {
	for _, c := range checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(b, "  %s  %s: %s\n", mark, c.Name, c.Detail)
	}
}
