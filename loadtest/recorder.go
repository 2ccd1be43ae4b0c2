package loadtest

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// route is an endpoint of the API by its route pattern, so that requests
// to different concerts, dates or users add up in one line of the report.
type route int

const (
	routeHealthz route = iota
	routeCreateUser
	routeCharge
	routeBalance
	routeJoin
	routeQueueStatus
	routeQueueEvents
	routeLeave
	routeDates
	routeSeats
	routeHold
	routeReservation
	routeCancel
	routePay
	routeConcert
	routeCreateConcert
	routeSetWaitingRoom
	routeStats
	routeAdmissions
	routeChallenge
	routeEvents
	numRoutes
)

var routeNames = [numRoutes]string{
	routeHealthz:        "GET /healthz",
	routeCreateUser:     "POST /v1/users",
	routeCharge:         "POST /v1/users/{userId}/balance/charges",
	routeBalance:        "GET /v1/users/{userId}/balance",
	routeJoin:           "POST /v1/concerts/{concertId}/queue",
	routeQueueStatus:    "GET /v1/queue",
	routeQueueEvents:    "GET /v1/queue/events",
	routeLeave:          "DELETE /v1/queue",
	routeDates:          "GET /v1/concerts/{concertId}/dates",
	routeSeats:          "GET /v1/concerts/{concertId}/dates/{date}/seats",
	routeHold:           "POST /v1/reservations",
	routeReservation:    "GET /v1/reservations/{reservationId}",
	routeCancel:         "DELETE /v1/reservations/{reservationId}",
	routePay:            "POST /v1/payments",
	routeConcert:        "GET /v1/concerts/{concertId}",
	routeCreateConcert:  "POST /v1/admin/concerts",
	routeSetWaitingRoom: "PUT /v1/admin/concerts/{concertId}/waiting-room",
	routeStats:          "GET /v1/admin/concerts/{concertId}/stats",
	routeAdmissions:     "GET /v1/admin/concerts/{concertId}/admissions",
	routeChallenge:      "GET /v1/concerts/{concertId}/queue/challenge",
	routeEvents:         "GET /v1/admin/events",
}

func (r route) String() string { return routeNames[r] }

// Pseudo codes for requests that got no answer from the API.
const (
	codeNetwork = "NETWORK" // connection failed or broke
	codeTimeout = "TIMEOUT" // no answer in time
)

// knownCodes are counted without locking; any other code goes to a map.
var knownCodes = [...]string{
	"INVALID_REQUEST", "UNAUTHENTICATED", "FORBIDDEN", "QUEUE_TOKEN_INVALID", "QUEUE_TOKEN_EXPIRED",
	"NOT_ADMITTED", "NOT_FOUND", "SEAT_UNAVAILABLE", "SEAT_LIMIT_EXCEEDED", "HOLD_EXPIRED",
	"ALREADY_PAID", "INSUFFICIENT_BALANCE", "IDEMPOTENCY_KEY_REUSED", "SOLD_OUT", "RATE_LIMITED",
	"UNAVAILABLE", "INTERNAL", string(codeOutcomeUnknown), codeNetwork, codeTimeout, "PROOF_INVALID",
}

var knownCodeIndex = func() map[string]int {
	m := make(map[string]int, len(knownCodes))
	for i, c := range knownCodes {
		m[c] = i
	}
	return m
}()

// endpoint accumulates the answers of one route.
type endpoint struct {
	latency Histogram
	status  [600]atomic.Int64 // by HTTP status; 0 for no answer
	codes   [len(knownCodes)]atomic.Int64

	mu    sync.Mutex
	other map[string]int64
}

// observe records one request: its latency, its HTTP status (0 when there
// was no answer) and, for a failure, its error code.
func (e *endpoint) observe(d time.Duration, status int, code []byte) {
	e.latency.Record(d)
	if status < 0 || status >= len(e.status) {
		status = 0
	}
	e.status[status].Add(1)
	if status >= 200 && status < 300 {
		return
	}
	if len(code) == 0 {
		code = []byte("HTTP_" + strconv.Itoa(status))
	}
	if i, ok := knownCodeIndex[string(code)]; ok {
		e.codes[i].Add(1)
		return
	}
	e.mu.Lock()
	if e.other == nil {
		e.other = make(map[string]int64)
	}
	e.other[string(code)]++
	e.mu.Unlock()
}

// Recorder collects the answers of one phase by route. It is safe for
// concurrent use.
type Recorder struct {
	endpoints [numRoutes]endpoint
	// series, when set, also counts the answers by status per second.
	series *statusSeries
}

func newRecorder() *Recorder { return new(Recorder) }

func (r *Recorder) observe(rt route, d time.Duration, status int, code []byte) {
	r.endpoints[rt].observe(d, status, code)
	if r.series != nil {
		r.series.observe(time.Now(), status, code)
	}
}

// requests returns the number of requests recorded so far.
func (r *Recorder) requests() int64 {
	var n int64
	for i := range r.endpoints {
		e := &r.endpoints[i]
		for j := range e.status {
			n += e.status[j].Load()
		}
	}
	return n
}

// countStatus returns the requests answered with a status in [lo, hi].
func (r *Recorder) countStatus(lo, hi int) int64 {
	var n int64
	for i := range r.endpoints {
		for s := lo; s <= hi; s++ {
			n += r.endpoints[i].status[s].Load()
		}
	}
	return n
}

// Endpoint is the summary of one route in one phase.
type Endpoint struct {
	Route    string  `json:"route"`
	Requests int64   `json:"requests"`
	RPS      float64 `json:"rps"`
	// OK counts the 2xx answers; ratios are of their rate.
	OK    int64   `json:"ok"`
	OKRPS float64 `json:"okRps"`
	// Ratio is OKRPS over the bare handler's rate measured alongside the
	// phase; 0 when there is none.
	Ratio float64 `json:"ratio,omitempty"`
	// Latencies in milliseconds.
	P50MS  float64 `json:"p50Ms"`
	P90MS  float64 `json:"p90Ms"`
	P99MS  float64 `json:"p99Ms"`
	MaxMS  float64 `json:"maxMs"`
	MeanMS float64 `json:"meanMs"`
	// Errors counts failed requests by problem code, or by NETWORK, TIMEOUT
	// or HTTP_<status> when the answer carried no code.
	Errors map[string]int64 `json:"errors,omitempty"`
	// Status counts answers by HTTP status; "0" is no answer.
	Status  map[string]int64 `json:"status"`
	Buckets []Bucket         `json:"latencyBuckets"`
}

// summary returns one Endpoint per route that saw requests, with
// throughput over elapsed.
func (r *Recorder) summary(elapsed time.Duration) []Endpoint {
	var out []Endpoint
	for i := range r.endpoints {
		e := &r.endpoints[i]
		ep := Endpoint{Route: route(i).String(), Status: map[string]int64{}}
		for s := range e.status {
			if n := e.status[s].Load(); n > 0 {
				ep.Status[strconv.Itoa(s)] = n
				ep.Requests += n
				if s >= 200 && s < 300 {
					ep.OK += n
				}
			}
		}
		if ep.Requests == 0 {
			continue
		}
		for j := range e.codes {
			if n := e.codes[j].Load(); n > 0 {
				if ep.Errors == nil {
					ep.Errors = map[string]int64{}
				}
				ep.Errors[knownCodes[j]] = n
			}
		}
		e.mu.Lock()
		for c, n := range e.other {
			if ep.Errors == nil {
				ep.Errors = map[string]int64{}
			}
			ep.Errors[c] = n
		}
		e.mu.Unlock()
		if elapsed > 0 {
			ep.RPS = float64(ep.Requests) / elapsed.Seconds()
			ep.OKRPS = float64(ep.OK) / elapsed.Seconds()
		}
		d := e.latency.Snapshot()
		ep.P50MS = ms(d.Quantile(0.50))
		ep.P90MS = ms(d.Quantile(0.90))
		ep.P99MS = ms(d.Quantile(0.99))
		ep.MaxMS = ms(d.Max())
		ep.MeanMS = ms(d.Mean())
		ep.Buckets = d.Buckets()
		out = append(out, ep)
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
