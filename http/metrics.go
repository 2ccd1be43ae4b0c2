package http

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/boxoffice/boxoffice/queue"
)

// metrics are the server's Prometheus metrics.
type metrics struct {
	duration   *prometheus.HistogramVec
	admissions *prometheus.CounterVec
	steps      prometheus.Histogram
	holds      prometheus.Counter
	sales      prometheus.Counter
	payments   prometheus.Counter
}

// maxScrapedRooms bounds the rooms whose gauges one scrape reports.
const maxScrapedRooms = 200

// scrapeTimeout bounds the time one scrape spends asking for room stats.
const scrapeTimeout = 2 * time.Second

func newMetrics(reg prometheus.Registerer, s *Server, log *slog.Logger) *metrics {
	m := &metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "boxoffice_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern, method and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "code"}),
		admissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "boxoffice_admissions_total",
			Help: "Fans admitted from waiting rooms by this instance's admission steps.",
		}, []string{"concert"}),
		steps: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "boxoffice_admission_step_seconds",
			Help:    "Time one admission step of a waiting room took in the waiting room's store, on the instance that led it.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		holds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "boxoffice_holds_total",
			Help: "Reservations held.",
		}),
		sales: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "boxoffice_sales_total",
			Help: "Seats sold.",
		}),
		payments: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "boxoffice_payments_total",
			Help: "Payments made.",
		}),
	}
	m.duration = register(reg, log, m.duration)
	m.admissions = register(reg, log, m.admissions)
	m.steps = register(reg, log, m.steps)
	m.holds = register(reg, log, m.holds)
	m.sales = register(reg, log, m.sales)
	m.payments = register(reg, log, m.payments)
	concert := []string{"concert"}
	register(reg, log, prometheus.Collector(&roomCollector{
		s:           s,
		waiting:     prometheus.NewDesc("boxoffice_queue_waiting", "Fans waiting in a concert's waiting room.", concert, nil),
		active:      prometheus.NewDesc("boxoffice_queue_active", "Admitted sessions alive in a concert's waiting room.", concert, nil),
		admitRate:   prometheus.NewDesc("boxoffice_queue_admit_rate", "Measured admissions per second of a concert's waiting room.", concert, nil),
		abandonRate: prometheus.NewDesc("boxoffice_queue_abandon_rate", "Measured rate, fans per second, at which waiting fans leave or are dropped for idleness.", concert, nil),
		wait:        prometheus.NewDesc("boxoffice_queue_wait_seconds", "Quantiles of the time admitted fans waited, from joining or from the opening.", []string{"concert", "quantile"}, nil),
		admitted:    prometheus.NewDesc("boxoffice_queue_admitted_total", "Fans ever admitted from a concert's waiting room, by every instance.", concert, nil),
		abandoned:   prometheus.NewDesc("boxoffice_queue_abandoned_total", "Waiting places ever left or dropped for idleness.", concert, nil),
		dropped:     prometheus.NewDesc("boxoffice_queue_dropped_total", "Waiting places ever dropped for idleness.", concert, nil),
	}))
	register(reg, log, prometheus.Collector(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "boxoffice_queue_streams",
		Help: "Queue event streams open on this instance.",
	}, func() float64 { return float64(s.Streams()) })))
	return m
}

// register registers c, or returns the equal collector already registered.
func register[T prometheus.Collector](reg prometheus.Registerer, log *slog.Logger, c T) T {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing
		}
	}
	log.Warn("register metric", "err", err)
	return c
}

// codeLabels holds the label of every HTTP status code, to label requests
// without allocating.
var codeLabels = func() (l [600]string) {
	for i := range l {
		l[i] = strconv.Itoa(i)
	}
	return l
}()

func codeLabel(code int) string {
	if code >= 0 && code < len(codeLabels) {
		return codeLabels[code]
	}
	return "other"
}

// methodLabel bounds the method label to the methods the API knows.
func methodLabel(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS":
		return m
	}
	return "OTHER"
}

// roomCollector reports each waiting room's metrics, asking the queue at
// scrape time about up to maxScrapedRooms rooms with places or sessions.
// The totals are the store's, shared by every instance: they are counters
// whose source is the store, so every instance reports the same values.
type roomCollector struct {
	s                            *Server
	waiting, active              *prometheus.Desc
	admitRate, abandonRate, wait *prometheus.Desc
	admitted, abandoned, dropped *prometheus.Desc
}

func (c *roomCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.waiting, c.active, c.admitRate, c.abandonRate, c.wait, c.admitted, c.abandoned, c.dropped} {
		ch <- d
	}
}

func (c *roomCollector) Collect(ch chan<- prometheus.Metric) {
	if c.s.o.Queue == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	rooms, err := c.s.o.Queue.Rooms(ctx)
	if err != nil {
		c.s.o.Logger.Warn("metrics: list waiting rooms", "err", err)
		return
	}
	if len(rooms) > maxScrapedRooms {
		rooms = rooms[:maxScrapedRooms]
	}
	for _, id := range rooms {
		st, err := c.s.o.Queue.Stats(ctx, id)
		if err != nil {
			continue // gone since listed, or the queue is unreachable
		}
		ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(st.Waiting), id)
		ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(st.Active), id)
		ch <- prometheus.MustNewConstMetric(c.admitRate, prometheus.GaugeValue, st.Rate, id)
		ch <- prometheus.MustNewConstMetric(c.abandonRate, prometheus.GaugeValue, st.AbandonRate, id)
		ch <- prometheus.MustNewConstMetric(c.wait, prometheus.GaugeValue, st.Waits.Quantile(0.5).Seconds(), id, "0.5")
		ch <- prometheus.MustNewConstMetric(c.wait, prometheus.GaugeValue, st.Waits.Quantile(0.9).Seconds(), id, "0.9")
		ch <- prometheus.MustNewConstMetric(c.admitted, prometheus.CounterValue, float64(st.AdmittedTotal), id)
		ch <- prometheus.MustNewConstMetric(c.abandoned, prometheus.CounterValue, float64(st.AbandonedTotal), id)
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(st.DroppedTotal), id)
	}
}

// ObserveAdmission counts the fans an admission step admitted and times
// the step. Set it as queue.Service.OnStep.
func (s *Server) ObserveAdmission(concertID string, a queue.Admission) {
	if a.Took > 0 {
		s.metrics.steps.Observe(a.Took.Seconds())
	}
	if a.Admitted > 0 {
		s.metrics.admissions.WithLabelValues(concertID).Add(float64(a.Admitted))
	}
}
