package loadtest

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
)

// The plots are plain SVG written by hand: an on-sale timeline (fans
// waiting, admitted and active; seats held and sold) and a latency
// histogram per endpoint.

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"}

// svgCanvas collects the elements of one SVG picture.
type svgCanvas struct {
	b    strings.Builder
	w, h int
}

func newCanvas(w, h int, title string) *svgCanvas {
	c := &svgCanvas{w: w, h: h}
	fmt.Fprintf(&c.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&c.b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	c.text(float64(w)/2, 22, "middle", 15, title)
	return c
}

func (c *svgCanvas) text(x, y float64, anchor string, size int, s string) {
	fmt.Fprintf(&c.b, `<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%d">%s</text>`+"\n", x, y, anchor, size, html.EscapeString(s))
}

func (c *svgCanvas) line(x1, y1, x2, y2 float64, stroke string, width float64, dash string) {
	d := ""
	if dash != "" {
		d = fmt.Sprintf(` stroke-dasharray="%s"`, dash)
	}
	fmt.Fprintf(&c.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%.1f"%s/>`+"\n", x1, y1, x2, y2, stroke, width, d)
}

func (c *svgCanvas) polyline(xs, ys []float64, stroke string, dash string) {
	if len(xs) == 0 {
		return
	}
	var pts strings.Builder
	for i := range xs {
		fmt.Fprintf(&pts, "%.1f,%.1f ", xs[i], ys[i])
	}
	d := ""
	if dash != "" {
		d = fmt.Sprintf(` stroke-dasharray="%s"`, dash)
	}
	fmt.Fprintf(&c.b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", stroke, d, strings.TrimSpace(pts.String()))
}

func (c *svgCanvas) finish(w io.Writer) error {
	c.b.WriteString("</svg>\n")
	_, err := io.WriteString(w, c.b.String())
	return err
}

// panel is a plotting area with linear or log axes.
type panel struct {
	c                      *svgCanvas
	x0, y0, w, h           float64 // pixels: left, top, width, height
	xmin, xmax, ymin, ymax float64
	logX                   bool
}

func (p *panel) px(x float64) float64 {
	if p.logX {
		x, lo, hi := math.Log10(x), math.Log10(p.xmin), math.Log10(p.xmax)
		return p.x0 + (x-lo)/(hi-lo)*p.w
	}
	return p.x0 + (x-p.xmin)/(p.xmax-p.xmin)*p.w
}

func (p *panel) py(y float64) float64 { return p.y0 + p.h - (y-p.ymin)/(p.ymax-p.ymin)*p.h }

// axes draws the frame, grid and tick labels.
func (p *panel) axes(xlabel, ylabel string, xticks []float64, xfmt func(float64) string) {
	c := p.c
	fmt.Fprintf(&c.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", p.x0, p.y0, p.w, p.h)
	for _, y := range niceTicks(p.ymin, p.ymax, 5) {
		c.line(p.x0, p.py(y), p.x0+p.w, p.py(y), "#ddd", 1, "")
		c.text(p.x0-6, p.py(y)+4, "end", 11, shortNumber(y))
	}
	for _, x := range xticks {
		c.line(p.px(x), p.y0, p.px(x), p.y0+p.h, "#eee", 1, "")
		c.text(p.px(x), p.y0+p.h+16, "middle", 11, xfmt(x))
	}
	c.text(p.x0+p.w/2, p.y0+p.h+34, "middle", 12, xlabel)
	fmt.Fprintf(&c.b, `<text transform="translate(%.1f,%.1f) rotate(-90)" text-anchor="middle" font-size="12">%s</text>`+"\n",
		p.x0-48, p.y0+p.h/2, html.EscapeString(ylabel))
}

// legend draws labels with their colours, top left inside the panel.
func (p *panel) legend(labels, colors []string) {
	for i, l := range labels {
		y := p.y0 + 16 + float64(i)*16
		p.c.line(p.x0+10, y-4, p.x0+30, y-4, colors[i], 2, "")
		p.c.text(p.x0+36, y, "start", 11, l)
	}
}

// niceTicks returns about n round values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		return []float64{lo}
	}
	step := niceStep((hi - lo) / float64(n))
	var out []float64
	for i := math.Ceil(lo / step); i*step <= hi+step*1e-9; i++ {
		out = append(out, i*step+0) // +0 turns -0 into 0
	}
	return out
}

// niceStep rounds raw up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

func shortNumber(v float64) string {
	if v == 0 {
		return "0"
	}
	switch a := math.Abs(v); {
	case a >= 1e6:
		return fmt.Sprintf("%gM", math.Round(v/1e5)/10)
	case a >= 1e4:
		return fmt.Sprintf("%gk", math.Round(v/1e2)/10)
	case a == math.Trunc(a):
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// WriteTimelineSVG plots the on-sale's admin stats over time: fans waiting,
// admitted and active above, seats held and sold below.
func (r *Result) WriteTimelineSVG(w io.Writer) error {
	o := r.Onsale
	if o == nil {
		return fmt.Errorf("no on-sale in this result")
	}
	c := newCanvas(860, 620, fmt.Sprintf("On-sale timeline: %s fans, %s seats", count(int64(o.Fans)), count(int64(o.Seats))))
	tmax := 1.0
	var fmax float64 = 1
	for _, s := range o.Timeline {
		tmax = max(tmax, s.T)
		fmax = max(fmax, float64(s.Waiting), float64(s.Admitted), float64(s.Active))
	}
	tmin := math.Min(0, firstT(o.Timeline))
	xt := niceTicks(tmin, tmax, 8)
	xfmt := func(x float64) string { return shortNumber(x) }

	top := &panel{c: c, x0: 80, y0: 50, w: 740, h: 220, xmin: tmin, xmax: tmax, ymin: 0, ymax: niceCeil(fmax)}
	top.axes("seconds from the opening", "fans", xt, xfmt)
	series := []struct {
		name string
		get  func(Sample) float64
	}{
		{"waiting", func(s Sample) float64 { return float64(s.Waiting) }},
		{"admitted (total)", func(s Sample) float64 { return float64(s.Admitted) }},
		{"active sessions", func(s Sample) float64 { return float64(s.Active) }},
	}
	var labels, colors []string
	for i, s := range series {
		xs, ys := plotSeries(top, o.Timeline, s.get)
		c.polyline(xs, ys, palette[i], "")
		labels, colors = append(labels, s.name), append(colors, palette[i])
	}
	top.legend(labels, colors)

	bottom := &panel{c: c, x0: 80, y0: 340, w: 740, h: 220, xmin: tmin, xmax: tmax, ymin: 0, ymax: niceCeil(float64(max(o.Seats, 1)))}
	bottom.axes("seconds from the opening", "seats", xt, xfmt)
	xs, ys := plotSeries(bottom, o.Timeline, func(s Sample) float64 { return float64(s.Held) })
	c.polyline(xs, ys, palette[3], "")
	xs, ys = plotSeries(bottom, o.Timeline, func(s Sample) float64 { return float64(s.Sold) })
	c.polyline(xs, ys, palette[4], "")
	c.line(bottom.px(tmin), bottom.py(float64(o.Seats)), bottom.px(tmax), bottom.py(float64(o.Seats)), "#555", 1, "4 3")
	bottom.legend([]string{"held", "sold", "all seats"}, []string{palette[3], palette[4], "#555"})
	if o.SoldOut {
		x := bottom.px(o.SoldOutS)
		c.line(x, top.y0, x, bottom.y0+bottom.h, "#555", 1, "2 4")
		c.text(x-4, bottom.y0+bottom.h-8, "end", 11, fmt.Sprintf("sold out at %.1f s", o.SoldOutS))
	}
	return c.finish(w)
}

func firstT(s []Sample) float64 {
	if len(s) == 0 {
		return 0
	}
	return s[0].T
}

// niceCeil rounds v up to a round value.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	s := niceStep(v / 5)
	return math.Ceil(v/s) * s
}

func plotSeries(p *panel, samples []Sample, get func(Sample) float64) (xs, ys []float64) {
	for _, s := range samples {
		xs = append(xs, p.px(s.T))
		ys = append(ys, p.py(get(s)))
	}
	return xs, ys
}

// latencyBinsPerDecade sets the resolution of the latency plot.
const latencyBinsPerDecade = 10

// WriteLatencySVG plots, for each endpoint of the last round's phases, the
// share of requests by latency on a logarithmic axis.
func (r *Result) WriteLatencySVG(w io.Writer) error {
	type curve struct {
		label string
		bins  map[int]float64
	}
	var curves []curve
	lo, hi := math.MaxInt, math.MinInt
	ymax := 0.0
	if len(r.Rounds) > 0 {
		ceilings := 0
		for _, p := range r.Rounds[len(r.Rounds)-1].Phases {
			if p.Name == "ceiling" {
				// One bare handler curve is enough.
				if ceilings++; ceilings > 1 {
					continue
				}
			}
			for _, ep := range p.Endpoints {
				if ep.Requests == 0 {
					continue
				}
				cv := curve{label: fmt.Sprintf("%s: %s (p50 %.1f, p99 %.1f ms)", p.Name, ep.Route, ep.P50MS, ep.P99MS), bins: map[int]float64{}}
				for _, b := range ep.Buckets {
					mid := math.Max(float64(b.LowUS+b.HighUS)/2, 1)
					bin := int(math.Floor(math.Log10(mid) * latencyBinsPerDecade))
					cv.bins[bin] += 100 * float64(b.Count) / float64(ep.Requests)
					lo, hi = min(lo, bin), max(hi, bin)
				}
				for _, v := range cv.bins {
					ymax = max(ymax, v)
				}
				curves = append(curves, cv)
			}
		}
	}
	c := newCanvas(860, 440+16*len(curves), "Latency by endpoint: "+r.Scenario)
	if len(curves) == 0 {
		c.text(430, 200, "middle", 14, "no requests measured")
		return c.finish(w)
	}
	// Axis in milliseconds, whole decades.
	xmin := math.Pow(10, math.Floor(float64(lo)/latencyBinsPerDecade)) / 1000
	xmax := math.Pow(10, math.Ceil(float64(hi+1)/latencyBinsPerDecade)) / 1000
	var xt []float64
	for v := xmin; v <= xmax*1.0001; v *= 10 {
		xt = append(xt, v)
	}
	p := &panel{c: c, x0: 80, y0: 50, w: 740, h: 340, xmin: xmin, xmax: xmax, ymin: 0, ymax: niceCeil(ymax), logX: true}
	p.axes("latency, ms (log scale)", "% of the endpoint's requests", xt, func(x float64) string { return shortNumber(x) })
	var labels, colors []string
	for i, cv := range curves {
		var xs, ys []float64
		for bin := lo - 1; bin <= hi+1; bin++ {
			centre := math.Pow(10, (float64(bin)+0.5)/latencyBinsPerDecade) / 1000
			if centre < xmin || centre > xmax {
				continue
			}
			xs = append(xs, p.px(centre))
			ys = append(ys, p.py(cv.bins[bin]))
		}
		color := palette[i%len(palette)]
		c.polyline(xs, ys, color, "")
		labels, colors = append(labels, cv.label), append(colors, color)
	}
	for i, l := range labels {
		y := p.y0 + p.h + 60 + float64(i)*16
		c.line(p.x0, y-4, p.x0+20, y-4, colors[i], 2, "")
		c.text(p.x0+26, y, "start", 11, l)
	}
	return c.finish(w)
}

// WriteStatusSVG plots the on-sale's answers per second by status: 2xx and
// 4xx above, 5xx by status and error code and unanswered requests below,
// with the fault windows shaded and their grace hatched.
func (r *Result) WriteStatusSVG(w io.Writer) error {
	o := r.Onsale
	if o == nil || len(o.StatusTimeline) == 0 {
		return fmt.Errorf("no status timeline in this result")
	}
	tl := o.StatusTimeline
	tmin, tmax := float64(tl[0].T), float64(tl[len(tl)-1].T+1)
	for _, f := range o.Faults {
		tmin, tmax = math.Min(tmin, math.Floor(f.StartS)), math.Max(tmax, math.Ceil(f.EndS+o.FaultGraceS))
	}
	title := fmt.Sprintf("Answers per second by status: %s fans", count(int64(o.Fans)))
	if len(o.Faults) > 0 {
		title += fmt.Sprintf(", %d faults", len(o.Faults))
	}
	// Series of the lower panel: every status and code seen, most first.
	totals, lower := statusCodeTotals(tl)
	c := newCanvas(860, 640+16*max(len(lower)-4, 0), title)
	xt := niceTicks(tmin, tmax, 8)
	xfmt := func(x float64) string { return shortNumber(x) }
	upper := []struct {
		name string
		get  func(StatusSecond) float64
	}{
		{"2xx", func(s StatusSecond) float64 { return statusClass(s, '2') }},
		{"4xx", func(s StatusSecond) float64 { return statusClass(s, '4') }},
	}
	ymax := 1.0
	for _, s := range tl {
		ymax = max(ymax, statusClass(s, '2'), statusClass(s, '4'))
	}
	top := &panel{c: c, x0: 80, y0: 50, w: 740, h: 220, xmin: tmin, xmax: tmax, ymin: 0, ymax: niceCeil(ymax)}
	lymax := 1.0
	for _, s := range tl {
		for _, n := range s.Codes {
			lymax = max(lymax, float64(n))
		}
	}
	bottom := &panel{c: c, x0: 80, y0: 340, w: 740, h: 220, xmin: tmin, xmax: tmax, ymin: 0, ymax: niceCeil(lymax)}
	shadeFaults(o, top, bottom)
	top.axes("seconds from the opening", "answers per second", xt, xfmt)
	var labels, colors []string
	for i, s := range upper {
		xs, ys := statusSeriesXY(top, tl, s.get)
		c.polyline(xs, ys, palette[[]int{2, 0}[i]], "")
		labels, colors = append(labels, s.name), append(colors, palette[[]int{2, 0}[i]])
	}
	top.legend(labels, colors)

	bottom.axes("seconds from the opening", "5xx and unanswered per second", xt, xfmt)
	plotLowerStatus(bottom, tl, lower, totals)
	note := "shaded: fault windows; lighter: the grace after each"
	if o.FaultGraceS > 0 {
		note += fmt.Sprintf(" (%.0f s)", o.FaultGraceS)
	}
	c.text(bottom.x0+bottom.w, bottom.y0+bottom.h+52, "end", 11, note)
	return c.finish(w)
}

// statusCodeTotals returns the answers of tl per status and code, and
// those statuses and codes, most first.
func statusCodeTotals(tl []StatusSecond) (totals map[string]int64, lower []string) {
	totals = map[string]int64{}
	for _, s := range tl {
		for k, n := range s.Codes {
			totals[k] += n
		}
	}
	for k := range totals {
		lower = append(lower, k)
	}
	sort.Slice(lower, func(i, j int) bool {
		if totals[lower[i]] != totals[lower[j]] {
			return totals[lower[i]] > totals[lower[j]]
		}
		return lower[i] < lower[j]
	})
	return totals, lower
}

// statusClass is how many answers of s had a status of class digit.
func statusClass(s StatusSecond, digit byte) float64 {
	var n int64
	for k, v := range s.Status {
		if k[0] == digit && len(k) == 3 {
			n += v
		}
	}
	return float64(n)
}

// shadeFaults shades the fault windows of o, and their grace, on top and
// bottom, and names them on top.
func shadeFaults(o *Onsale, top, bottom *panel) {
	c := top.c
	for _, p := range []*panel{top, bottom} {
		for _, f := range o.Faults {
			x0, x1, x2 := p.px(f.StartS), p.px(f.EndS), p.px(f.EndS+o.FaultGraceS)
			fmt.Fprintf(&c.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#d62728" fill-opacity="0.15"/>`+"\n", x0, p.y0, math.Max(x1-x0, 1), p.h)
			fmt.Fprintf(&c.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#d62728" fill-opacity="0.06"/>`+"\n", x1, p.y0, x2-x1, p.h)
		}
	}
	for i, f := range o.Faults {
		c.text(top.px(f.StartS)+3, top.y0+14+float64(i%3)*13, "start", 10, f.Name)
	}
}

// plotLowerStatus plots a line per status and code of lower on bottom,
// with a legend under it that counts each.
func plotLowerStatus(bottom *panel, tl []StatusSecond, lower []string, totals map[string]int64) {
	c := bottom.c
	var labels, colors []string
	for i, k := range lower {
		color := palette[(i+1)%len(palette)]
		if strings.HasPrefix(k, "500 ") {
			color = "#000"
		}
		xs, ys := statusSeriesXY(bottom, tl, func(s StatusSecond) float64 { return float64(s.Codes[k]) })
		c.polyline(xs, ys, color, "")
		label := k
		if rest, ok := strings.CutPrefix(k, "0 "); ok {
			label = "no answer: " + rest
		}
		labels, colors = append(labels, fmt.Sprintf("%s (%s)", label, count(totals[k]))), append(colors, color)
	}
	if len(lower) == 0 {
		c.text(bottom.x0+bottom.w/2, bottom.y0+bottom.h/2, "middle", 13, "none")
	}
	for i, l := range labels {
		y := bottom.y0 + bottom.h + 52 + float64(i)*16
		c.line(bottom.x0, y-4, bottom.x0+20, y-4, colors[i], 2, "")
		c.text(bottom.x0+26, y, "start", 11, l)
	}
}

// statusSeriesXY places each second's count at the middle of the second.
func statusSeriesXY(p *panel, tl []StatusSecond, get func(StatusSecond) float64) (xs, ys []float64) {
	for _, s := range tl {
		xs = append(xs, p.px(float64(s.T)+0.5))
		ys = append(ys, p.py(get(s)))
	}
	return xs, ys
}

// WriteRoomSizeSVG plots, for the join scenario's filled rooms, the joins'
// and polls' 2xx requests per second against the room's size (log scale),
// a point per round, with the bare handler's rate alongside.
func (r *Result) WriteRoomSizeSVG(w io.Writer) error {
	names := []string{"join", "poll", "ceiling"}
	labels := []string{"joins (2xx req/s)", "polls (2xx req/s)", "bare handler (req/s)"}
	xs := make([][]float64, len(names))
	ys := make([][]float64, len(names))
	xmin, xmax, ymax := math.Inf(1), 0.0, 0.0
	for _, round := range r.Rounds {
		if round.Room == nil || round.Room.Filled <= 0 {
			continue
		}
		size := float64(round.Room.Filled)
		xmin, xmax = math.Min(xmin, size), math.Max(xmax, size)
		ceilings := 0
		for _, p := range round.Phases {
			k := slices.Index(names, p.Name)
			if k < 0 || (p.Name == "ceiling" && ceilings > 0) {
				continue
			}
			v := p.RPS
			if p.Name == "ceiling" {
				ceilings++
			} else {
				v = 0
				for _, ep := range p.Endpoints {
					v += ep.OKRPS
				}
			}
			xs[k], ys[k] = append(xs[k], size), append(ys[k], v)
			ymax = math.Max(ymax, v)
		}
	}
	c := newCanvas(860, 480, "Joins and polls against the room's size")
	if xmax == 0 {
		c.text(430, 200, "middle", 14, "no filled room measured")
		return c.finish(w)
	}
	lo, hi := math.Pow(10, math.Floor(math.Log10(xmin))), math.Pow(10, math.Ceil(math.Log10(xmax)))
	if hi <= lo {
		hi = lo * 10
	}
	var xt []float64
	for v := lo; v <= hi*1.0001; v *= 10 {
		xt = append(xt, v)
	}
	p := &panel{c: c, x0: 80, y0: 50, w: 740, h: 360, xmin: lo, xmax: hi, ymin: 0, ymax: niceCeil(ymax), logX: true}
	p.axes("fans in the room before the phases (log scale)", "requests per second", xt, func(x float64) string { return shortNumber(x) })
	var colors []string
	for k := range names {
		color := palette[k%len(palette)]
		colors = append(colors, color)
		// Left to right: rounds may measure the sizes in any order.
		order := make([]int, len(xs[k]))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(i, j int) bool { return xs[k][order[i]] < xs[k][order[j]] })
		px, py := make([]float64, len(xs[k])), make([]float64, len(xs[k]))
		for n, i := range order {
			px[n], py[n] = p.px(xs[k][i]), p.py(ys[k][i])
			fmt.Fprintf(&c.b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px[n], py[n], color)
		}
		dash := ""
		if names[k] == "ceiling" {
			dash = "4,3"
		}
		c.polyline(px, py, color, dash)
	}
	p.legend(labels, colors)
	return c.finish(w)
}
