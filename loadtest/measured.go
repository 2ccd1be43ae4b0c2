package loadtest

import (
	"context"
	"fmt"
	nethttp "net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	boxhttp "github.com/boxoffice/boxoffice/http"
)

// measured runs one repetition of a measured scenario into round, adding its
// checks to res.
func (e *engine) measured(ctx context.Context, round *Round, res *Result) error {
	label := ""
	if e.opts.Runs > 1 {
		label = fmt.Sprintf(" (round %d)", len(res.Rounds)+1)
	}
	var (
		checks []Check
		err    error
	)
	switch e.opts.Scenario {
	case "join":
		err = e.joinScenario(ctx, round)
	case "browse":
		err = e.browseScenario(ctx, round)
	case "hold":
		checks, err = e.holdScenario(ctx, round)
	case "pay":
		checks, err = e.payScenario(ctx, round)
	}
	for _, c := range checks {
		c.Name += label
		res.Checks = append(res.Checks, c)
	}
	return err
}

// phase measures the phase name, and the bare handler alongside unless
// NoCeiling, giving the phase's endpoints their ratio to it.
func (e *engine) phase(ctx context.Context, round *Round, name string, newLoop func(w int) loop) error {
	if e.opts.Pause > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(e.opts.Pause):
		}
	}
	before, berr := e.batchCounters(ctx)
	phases, err := e.measure(ctx, name, !e.opts.NoCeiling, newLoop)
	if err != nil {
		return err
	}
	if berr == nil {
		var after map[string]float64
		if after, berr = e.batchCounters(ctx); berr == nil {
			phases[len(phases)-1].Batches = batchesBetween(before, after)
		}
	}
	if berr != nil && ctx.Err() == nil {
		e.mu.Lock()
		if e.noBatches == "" {
			e.noBatches = berr.Error()
		}
		e.mu.Unlock()
	}
	if len(phases) == 2 && phases[0].RPS > 0 {
		c := phases[0].RPS
		phases[1].CeilingRPS = c
		for i := range phases[1].Endpoints {
			phases[1].Endpoints[i].Ratio = phases[1].Endpoints[i].OKRPS / c
		}
	}
	round.Phases = append(round.Phases, phases...)
	return ctx.Err()
}

// sized returns the work for a phase: Fans when set, otherwise share of the
// bare handler's throughput over a phase, its warmup and its settling
// between stretches, within [lo, hi].
func (e *engine) sized(ctx context.Context, share float64, lo, hi int) (int, error) {
	if e.opts.Fans > 0 {
		return min(e.opts.Fans, hi), nil
	}
	rps, err := e.probe(ctx)
	if err != nil {
		return 0, err
	}
	n := int(rps * share * (e.opts.Warmup + e.opts.Duration + time.Duration(e.stretches())*settle).Seconds())
	return min(max(n, lo), hi), nil
}

// listLoop sends its requests in turn, forever.
type listLoop struct {
	rt   route
	reqs []*rawRequest
	i    int
}

func (l *listLoop) next() (route, *rawRequest) {
	r := l.reqs[l.i%len(l.reqs)]
	l.i++
	return l.rt, r
}

func (*listLoop) done(int, []byte, error) {}

// joinScenario: fans join waiting rooms that admit almost nobody, then
// poll their standing. Creating users is slow next to joining, so each
// user joins up to joinRooms concerts' rooms, each place a new one.
func (e *engine) joinScenario(ctx context.Context, round *Round) error {
	const joinRooms = 16
	joins, err := e.sized(ctx, 1.2, 2000, joinRooms*100000)
	if err != nil {
		return err
	}
	joins += e.opts.Connections
	rooms := min((joins+29999)/30000, joinRooms)
	if e.roomSize > 0 {
		// One room, already holding roomSize fans.
		rooms = 1
	}
	n := (joins + rooms - 1) / rooms
	room := &boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: 0.01, SessionSeconds: 60, IdleSeconds: 3600}
	urls := make([][]*url.URL, rooms) // by room, then target
	for k := range urls {
		c, err := e.createConcert(ctx, concertSpec(fmt.Sprintf("Join test %d", k+1), 1, 300, 4, time.Now().Add(-time.Minute), room))
		if err != nil {
			return err
		}
		if e.roomSize > 0 {
			if round.Room, err = e.fill(ctx, c.ConcertID, e.roomSize); err != nil {
				return err
			}
		}
		for _, t := range e.opts.Targets {
			u, err := url.Parse(t + "/v1/concerts/" + c.ConcertID + "/queue")
			if err != nil {
				return err
			}
			urls[k] = append(urls[k], u)
		}
	}
	fans, err := e.users(ctx, n, 0)
	if err != nil {
		return err
	}
	headers := make([]nethttp.Header, n)
	for i, f := range fans {
		headers[i] = credentials(f.access, "")
		headers[i]["Accept"] = []string{"application/json"}
	}
	tokens := make([]string, n*rooms)
	var taken atomic.Int64
	err = e.phase(ctx, round, "join", func(int) loop {
		return &joinLoop{fans: fans, headers: headers, urls: urls, taken: &taken, tokens: tokens}
	})
	if err != nil {
		return err
	}
	var polls []*rawRequest
	for i, tok := range tokens {
		if tok == "" {
			continue
		}
		f := fans[i%n]
		r, err := newRawRequest("GET", e.opts.Targets[f.target], "/v1/queue", nil, credentials(f.access, tok))
		if err != nil {
			return err
		}
		polls = append(polls, r)
	}
	if len(polls) == 0 {
		return fmt.Errorf("no join succeeded; nothing to poll")
	}
	err = e.phase(ctx, round, "poll", func(w int) loop {
		return &listLoop{rt: routeQueueStatus, reqs: polls, i: w * len(polls) / e.opts.Connections}
	})
	if err != nil || round.Room == nil {
		return err
	}
	return e.measureRoom(ctx, round.Room)
}

// fillChunk is how many users fill creates before they join: users and
// their joins alternate in chunks, so that a big fill holds few tokens.
const fillChunk = 20000

// fill has size new fans join the room of concertID through the API, as
// the join phase does, and reports how long that took.
func (e *engine) fill(ctx context.Context, concertID string, size int) (*FilledRoom, error) {
	start := time.Now()
	for done := 0; done < size; done += fillChunk {
		fans, err := e.users(ctx, min(fillChunk, size-done), 0)
		if err != nil {
			return nil, err
		}
		err = e.parallel(ctx, "fill", len(fans), func(ctx context.Context, i int) error {
			return e.setup(ctx, fans[i].target, routeJoin, func(c *boxhttp.Client) error {
				_, _, err := c.Join(ctx, fans[i].access, concertID)
				return err
			})
		})
		if err != nil {
			return nil, fmt.Errorf("fill the room: %w", err)
		}
	}
	return &FilledRoom{ConcertID: concertID, Filled: size, FillSeconds: time.Since(start).Seconds()}, nil
}

// measureRoom reads the room's waiting fans and, with RoomBytes, the
// bytes its keys take.
func (e *engine) measureRoom(ctx context.Context, r *FilledRoom) error {
	err := e.setup(ctx, 0, routeStats, func(c *boxhttp.Client) error {
		st, err := c.Stats(ctx, e.opts.AdminKey, r.ConcertID)
		r.Waiting = st.Waiting
		return err
	})
	if err != nil {
		return fmt.Errorf("room stats: %w", err)
	}
	if e.opts.RoomBytes == nil {
		return nil
	}
	if r.Bytes, err = e.opts.RoomBytes(ctx, r.ConcertID); err != nil {
		return fmt.Errorf("room bytes: %w", err)
	}
	if r.Waiting > 0 {
		r.BytesPerFan = float64(r.Bytes) / float64(r.Waiting)
	}
	return nil
}

// joinLoop joins with the next unused pair of fan and room, and keeps the
// queue token. Join i is fan i%len(fans) in room i/len(fans).
type joinLoop struct {
	fans    []fan
	headers []nethttp.Header
	urls    [][]*url.URL
	taken   *atomic.Int64
	tokens  []string
	req     rawRequest
	cur     int
}

func (l *joinLoop) next() (route, *rawRequest) {
	i := int(l.taken.Add(1) - 1)
	if i >= len(l.tokens) {
		return routeJoin, nil
	}
	f, k := i%len(l.fans), i/len(l.fans)
	l.cur = i
	l.req = rawRequest{method: "POST", url: l.urls[k][l.fans[f].target], header: l.headers[f]}
	return routeJoin, &l.req
}

func (l *joinLoop) done(status int, body []byte, _ error) {
	if status == 200 || status == 201 {
		l.tokens[l.cur] = string(jsonValue(body, "token"))
	}
}

// browseScenario: admitted fans list the dates, then read seat maps.
func (e *engine) browseScenario(ctx context.Context, round *Round) error {
	c, err := e.createConcert(ctx, concertSpec("Browse test", e.opts.Dates, 300, 4, time.Now().Add(-time.Minute), fastRoom()))
	if err != nil {
		return err
	}
	fans, err := e.admitted(ctx, c.ConcertID, e.opts.Connections, 0)
	if err != nil {
		return err
	}
	ds := days(c)
	dates := make([][]*rawRequest, len(fans))
	seats := make([][]*rawRequest, len(fans))
	for w, f := range fans {
		h := credentials(f.access, f.queueToken)
		base := e.opts.Targets[f.target]
		r, err := newRawRequest("GET", base, "/v1/concerts/"+c.ConcertID+"/dates", nil, h)
		if err != nil {
			return err
		}
		dates[w] = []*rawRequest{r}
		for _, d := range ds {
			r, err := newRawRequest("GET", base, "/v1/concerts/"+c.ConcertID+"/dates/"+d+"/seats", nil, h)
			if err != nil {
				return err
			}
			seats[w] = append(seats[w], r)
		}
	}
	if err := e.phase(ctx, round, "dates", func(w int) loop { return &listLoop{rt: routeDates, reqs: dates[w]} }); err != nil {
		return err
	}
	return e.phase(ctx, round, "seats", func(w int) loop { return &listLoop{rt: routeSeats, reqs: seats[w], i: w} })
}

// holdRecord is a hold the server granted.
type holdRecord struct {
	seat    int32 // index over the concert's seats
	expires string
}

// holdScenario: admitted fans hold seats no one else asks for, one at a
// time, on concerts whose holds last a second; each fan cycles through
// seats of its own, re-holding a seat once its earlier hold has lapsed.
func (e *engine) holdScenario(ctx context.Context, round *Round) ([]Check, error) {
	const holdSeconds = 1
	w := e.opts.Connections
	total := maxDates * seatsPerDate
	if w > total {
		return nil, fmt.Errorf("hold needs a seat per connection: at most %d connections", total)
	}
	concerts := make([]boxhttp.Concert, holdConcerts)
	for j := range concerts {
		var err error
		if concerts[j], err = e.createConcert(ctx, concertSpec(fmt.Sprintf("Hold test %d", j+1), maxDates, holdSeconds, seatsPerDate, time.Now().Add(-time.Minute), fastRoom())); err != nil {
			return nil, err
		}
	}
	fans, tokens, err := e.admittedTo(ctx, concerts, w, 0)
	if err != nil {
		return nil, err
	}
	ds := make([][]string, holdConcerts)
	for j, c := range concerts {
		ds[j] = days(c)
	}
	loops := make([]*holdLoop, w)
	for i, f := range fans {
		l := &holdLoop{}
		for _, k := range fanSeats(i, w, holdConcerts*total) {
			j, s := k/total, k%total
			body := fmt.Appendf(nil, `{"concertId":%q,"date":%q,"seatNumbers":[%d]}`, concerts[j].ConcertID, ds[j][s/seatsPerDate], s%seatsPerDate+1)
			r, err := newRawRequest("POST", e.opts.Targets[f.target], "/v1/reservations", body, credentials(f.access, tokens[j][i]))
			if err != nil {
				return nil, err
			}
			l.reqs, l.seats = append(l.reqs, r), append(l.seats, int32(k))
		}
		loops[i] = l
	}
	if err := e.phase(ctx, round, "hold", func(i int) loop { return loops[i] }); err != nil {
		return nil, err
	}
	var holds []holdRecord
	for _, l := range loops {
		holds = append(holds, l.granted...)
	}
	n, err := doubleHolds(holds, holdSeconds*time.Second)
	if err != nil {
		return nil, err
	}
	checks := []Check{{
		Name: "no double holds", OK: n == 0,
		Detail: fmt.Sprintf("%s holds granted; %d granted while an earlier hold of the same seat was live", count(int64(len(holds))), n),
	}}
	if e.opts.HotSeats == 0 {
		return checks, nil
	}
	hot, err := e.hotSeatPhase(ctx, round)
	if err != nil {
		return nil, err
	}
	return append(checks, hot), nil
}

// hotSeatPhase: every fan asks, in turn, for one of the same HotSeats
// seats of one date, as the front rows are wanted when a room opens. The
// holds last an hour, so each seat is won once, in the phase's first
// instants, and every later request is refused: the phase measures how
// fast contended holds are answered, and checks that each seat has
// exactly one winner.
func (e *engine) hotSeatPhase(ctx context.Context, round *Round) (Check, error) {
	hot, w := e.opts.HotSeats, e.opts.Connections
	c, err := e.createConcert(ctx, concertSpec("Hot seat test", 1, 3600, 4, time.Now().Add(-time.Minute), fastRoom()))
	if err != nil {
		return Check{}, err
	}
	fans, err := e.admitted(ctx, c.ConcertID, w, 0)
	if err != nil {
		return Check{}, err
	}
	day := days(c)[0]
	loops := make([]*holdLoop, w)
	for i, f := range fans {
		h := credentials(f.access, f.queueToken)
		l := &holdLoop{}
		for k := range hot {
			seat := (i+k)%hot + 1
			body := fmt.Appendf(nil, `{"concertId":%q,"date":%q,"seatNumbers":[%d]}`, c.ConcertID, day, seat)
			r, err := newRawRequest("POST", e.opts.Targets[f.target], "/v1/reservations", body, h)
			if err != nil {
				return Check{}, err
			}
			l.reqs, l.seats = append(l.reqs, r), append(l.seats, int32(seat-1))
		}
		loops[i] = l
	}
	if err := e.phase(ctx, round, "hot-seat", func(i int) loop { return loops[i] }); err != nil {
		return Check{}, err
	}
	wins := make([]int, hot)
	for _, l := range loops {
		for _, g := range l.granted {
			wins[g.seat]++
		}
	}
	return oneWinnerEach(wins), nil
}

// oneWinnerEach checks that every seat of wins (holds granted, by seat)
// was won exactly once.
func oneWinnerEach(wins []int) Check {
	var none, more []string
	for i, n := range wins {
		switch {
		case n == 0:
			none = append(none, strconv.Itoa(i+1))
		case n > 1:
			more = append(more, fmt.Sprintf("%d (%d winners)", i+1, n))
		}
	}
	c := Check{Name: "exactly one winner per hot seat", OK: len(none) == 0 && len(more) == 0,
		Detail: fmt.Sprintf("%d hot seats, each won once", len(wins))}
	if !c.OK {
		c.Detail = fmt.Sprintf("%d hot seats; won by nobody: %s; won more than once: %s",
			len(wins), orNone(none), orNone(more))
	}
	return c
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// holdConcerts is how many concerts the hold phase spreads its fans'
// seats over. A fan comes back to a seat once it has held all of its own,
// and must not come back within 2·holdSeconds (the hold, then the re-hold
// cooldown: a user may not hold a seat again within holdSeconds of their
// own hold of it lapsing), or the phase would measure that rule instead
// of holds. With 3·18,300 seats over 600 fans, each has 91 and comes
// back to one after 2 s at up to 27,000 holds a second; no two fans ever
// ask for one seat.
const holdConcerts = 3

// fanSeats returns the seats (0 … n-1) of fan i of w: every w-th, from
// the i-th.
func fanSeats(i, w, n int) []int {
	var seats []int
	for k := i; k < n; k += w {
		seats = append(seats, k)
	}
	return seats
}

// holdLoop holds its seats one after another, over and over.
type holdLoop struct {
	reqs    []*rawRequest
	seats   []int32 // the seat of each request
	i       int     // the next request
	granted []holdRecord
}

func (l *holdLoop) next() (route, *rawRequest) { return routeHold, l.reqs[l.i] }

func (l *holdLoop) done(status int, body []byte, _ error) {
	if status == 201 {
		l.granted = append(l.granted, holdRecord{seat: l.seats[l.i], expires: string(jsonValue(body, "expiresAt"))})
	}
	l.i = (l.i + 1) % len(l.reqs)
}

// doubleHolds counts the holds granted on a seat while an earlier hold of
// it was live. Every hold lasts hold, so it began at its expiry minus hold.
func doubleHolds(holds []holdRecord, hold time.Duration) (int, error) {
	type span struct {
		seat       int32
		start, end time.Time
	}
	spans := make([]span, len(holds))
	for i, h := range holds {
		end, err := time.Parse(time.RFC3339Nano, h.expires)
		if err != nil {
			return 0, fmt.Errorf("hold answer with expiresAt %q: %w", h.expires, err)
		}
		spans[i] = span{seat: h.seat, start: end.Add(-hold), end: end}
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].seat != spans[j].seat {
			return spans[i].seat < spans[j].seat
		}
		return spans[i].start.Before(spans[j].start)
	})
	n := 0
	for i := 1; i < len(spans); i++ {
		if spans[i].seat == spans[i-1].seat && spans[i].start.Before(spans[i-1].end) {
			n++
		}
	}
	return n, nil
}

// payConcerts bounds the concerts of the pay scenario, and so its
// payments: 10·18,300 last a phase of 2 s of warmup and 10 s at 15,000
// payments a second (6, the bound before, ran out at 9,600 a second). A
// fan is charged the most one seat of each concert costs, 10·150,000 won,
// in parts of at most the contract's largest charge (newUser).
const payConcerts = 10

// paySpread spreads p payments over k concerts of total seats each, as
// few as hold them, paid by n fans, each once in each concert: k·n ≥ p,
// n ≤ total.
func paySpread(p, total int) (k, n int) {
	k = (p + total - 1) / total
	return k, (p + k - 1) / k
}

// payScenario: admitted fans, each holding a seat of their own in each of
// the scenario's concerts, pay. One concert has at most 18,300 seats, fewer
// payments than a fast server makes over a phase; so the payments are
// spread over as many concerts as they need (each fan is admitted to
// every one), and paid one concert after another.
func (e *engine) payScenario(ctx context.Context, round *Round) ([]Check, error) {
	total := maxDates * seatsPerDate
	p, err := e.sized(ctx, 0.2, 500, payConcerts*total)
	if err != nil {
		return nil, err
	}
	k, n := paySpread(p, total)
	nDates := (n + seatsPerDate - 1) / seatsPerDate
	concerts := make([]boxhttp.Concert, k)
	for j := range concerts {
		if concerts[j], err = e.createConcert(ctx, concertSpec(fmt.Sprintf("Pay test %d", j+1), nDates, 3600, 4, time.Now().Add(-time.Minute), fastRoom())); err != nil {
			return nil, err
		}
	}
	fans, tokens, err := e.admittedTo(ctx, concerts, n, vipPrice*int64(k))
	if err != nil {
		return nil, err
	}
	// held[j*n+i] is fan i's hold in concert j: the order they are paid in.
	held := make([]boxhttp.Reservation, k*n)
	ds := make([][]string, k)
	for j, c := range concerts {
		ds[j] = days(c)
	}
	err = e.parallel(ctx, "holds", k*n, func(ctx context.Context, x int) error {
		j, i := x/n, x%n
		f := fans[i]
		req := boxhttp.HoldRequest{ConcertID: concerts[j].ConcertID, Date: ds[j][i/seatsPerDate], SeatNumbers: []int{i%seatsPerDate + 1}}
		return e.setup(ctx, f.target, routeHold, func(cl *boxhttp.Client) error {
			var err error
			held[x], err = cl.Hold(ctx, f.access, tokens[j][i], req)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("hold: %w", err)
	}
	pays := make([]*rawRequest, k*n)
	for x := range pays {
		j, i := x/n, x%n
		f := fans[i]
		h := credentials(f.access, tokens[j][i])
		h["Idempotency-Key"] = []string{"loadtest-pay-" + held[x].ReservationID}
		body := fmt.Appendf(nil, `{"reservationId":%q}`, held[x].ReservationID)
		if pays[x], err = newRawRequest("POST", e.opts.Targets[f.target], "/v1/payments", body, h); err != nil {
			return nil, err
		}
	}
	statuses := make([]int, len(pays))
	var taken atomic.Int64
	if err := e.phase(ctx, round, "pay", func(int) loop { return &payLoop{reqs: pays, taken: &taken, statuses: statuses} }); err != nil {
		return nil, err
	}
	ids := make([]string, k)
	for j, c := range concerts {
		ids[j] = c.ConcertID
	}
	return e.payChecks(ctx, ids, fans, held, statuses)
}

// payLoop pays the next unpaid hold.
type payLoop struct {
	reqs     []*rawRequest
	taken    *atomic.Int64
	statuses []int
	cur      int
}

func (l *payLoop) next() (route, *rawRequest) {
	i := int(l.taken.Add(1) - 1)
	if i >= len(l.reqs) {
		return routePay, nil
	}
	l.cur = i
	return routePay, l.reqs[i]
}

func (l *payLoop) done(status int, _ []byte, _ error) { l.statuses[l.cur] = status }

// payChecks reads every payer's reservations and balance back: each
// balance must be its charge less what the payer paid, each payment once.
// held[j*len(fans)+i] is fan i's hold in concerts[j], and statuses the
// answers to their payments.
func (e *engine) payChecks(ctx context.Context, concerts []string, fans []fan, held []boxhttp.Reservation, statuses []int) ([]Check, error) {
	n := len(fans)
	paid, err := e.paidBack(ctx, fans, held, statuses)
	if err != nil {
		return nil, err
	}
	balances := make([]int64, n)
	err = e.parallel(ctx, "reading back", n, func(ctx context.Context, i int) error {
		f := fans[i]
		return e.setup(ctx, f.target, routeBalance, func(c *boxhttp.Client) error {
			b, err := c.Balance(ctx, f.access, f.userID)
			balances[i] = b.Balance
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	var revenue int64
	for _, id := range concerts {
		var st boxhttp.ConcertStats
		err = e.call(ctx, e.other, 0, routeStats, func(c *boxhttp.Client) error {
			var err error
			st, err = c.Stats(ctx, e.opts.AdminKey, id)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("stats: %w", err)
		}
		revenue += st.Revenue
	}
	want := make([]int64, n)
	var wrong, payments int
	var charged, balance, due int64
	for i, f := range fans {
		want[i] = f.charged
		charged += f.charged
		balance += balances[i]
	}
	for x, r := range held {
		if paid[x] {
			want[x%n] -= r.Amount
			due += r.Amount
			payments++
		}
	}
	for i := range fans {
		if balances[i] != want[i] {
			wrong++
		}
	}
	return []Check{
		{
			Name: "no double debits", OK: wrong == 0,
			Detail: fmt.Sprintf("%s payers, %s payments made; %d balances differ from charge less the payments made", count(int64(n)), count(int64(payments)), wrong),
		},
		{
			Name: "money conserved", OK: charged == balance+revenue && revenue == due,
			Detail: "charged " + won(charged) + " = balances " + won(balance) + " + paid " + won(revenue) + " (reservations paid: " + won(due) + ")",
		},
	}, nil
}

// paidBack tells which of held were paid: those answered 201, and those
// whose answer was lost (none, or 5xx) that the reservation read back
// says are PAID. held[x] is fans[x mod len(fans)]'s.
func (e *engine) paidBack(ctx context.Context, fans []fan, held []boxhttp.Reservation, statuses []int) ([]bool, error) {
	paid := make([]bool, len(held))
	err := e.parallel(ctx, "reading back", len(held), func(ctx context.Context, x int) error {
		f := fans[x%len(fans)]
		switch {
		case statuses[x] == 201:
			paid[x] = true
		case statuses[x] == 0 || statuses[x] >= 500:
			// The outcome is unknown: the reservation tells.
			var r boxhttp.Reservation
			err := e.setup(ctx, f.target, routeReservation, func(c *boxhttp.Client) error {
				var err error
				r, err = c.Reservation(ctx, f.access, held[x].ReservationID)
				return err
			})
			if err != nil {
				return fmt.Errorf("read reservation: %w", err)
			}
			paid[x] = r.Status == "PAID"
		}
		return nil
	})
	return paid, err
}
