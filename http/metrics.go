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
	m.holds = register(reg, log, m.holds)
	m.sales = register(reg, log, m.sales)
	m.payments = register(reg, log, m.payments)
	register(reg, log, prometheus.Collector(&roomCollector{
		s:       s,
		waiting: prometheus.NewDesc("boxoffice_queue_waiting", "Fans waiting in a concert's waiting room.", []string{"concert"}, nil),
		active:  prometheus.NewDesc("boxoffice_queue_active", "Admitted sessions alive in a concert's waiting room.", []string{"concert"}, nil),
	}))
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

// roomCollector reports each waiting room's gauges, asking the queue at
// scrape time about up to maxScrapedRooms rooms with places or sessions.
type roomCollector struct {
	s               *Server
	waiting, active *prometheus.Desc
}

func (c *roomCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.waiting
	ch <- c.active
}

func (c *roomCollector) Collect(ch chan<- prometheus.Metric) {
	if c.s.queue == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	rooms, err := c.s.queue.Rooms(ctx)
	if err != nil {
		c.s.log.Warn("metrics: list waiting rooms", "err", err)
		return
	}
	if len(rooms) > maxScrapedRooms {
		rooms = rooms[:maxScrapedRooms]
	}
	for _, id := range rooms {
		st, err := c.s.queue.Stats(ctx, id)
		if err != nil {
			continue // gone since listed, or the queue is unreachable
		}
		ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(st.Waiting), id)
		ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(st.Active), id)
	}
}

// ObserveAdmission counts the fans an admission step admitted. Set it as
// queue.Service.OnStep.
func (s *Server) ObserveAdmission(concertID string, a queue.Admission) {
	if a.Admitted > 0 {
		s.metrics.admissions.WithLabelValues(concertID).Add(float64(a.Admitted))
	}
}
