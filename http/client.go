package http

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/token"
)

// Client calls the Boxoffice API. Credentials are passed per call: an
// access token, a queue token or the admin key. It is safe for concurrent
// use.
//
// Every non-2xx answer is returned as a *ResponseError, which unwraps to the
// *boxoffice.Error of the answer's code, so errors.Is(err,
// boxoffice.ErrSeatUnavailable) and boxoffice.ErrorCode(err) work on it.
type Client struct {
	base string
	hc   *nethttp.Client
}

// NewClient returns a client of the API at baseURL (such as
// "http://localhost:8080"), sending requests with hc, or
// net/http.DefaultClient when hc is nil.
func NewClient(baseURL string, hc *nethttp.Client) *Client {
	if hc == nil {
		hc = nethttp.DefaultClient
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc}
}

// ResponseError is a non-2xx answer of the API.
type ResponseError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// RetryAfter is the answer's Retry-After, or 0.
	RetryAfter time.Duration
	// Err has the answer's code, detail (as Message) and position.
	Err *boxoffice.Error
	// Errors lists the invalid parts of a request that failed validation.
	Errors []ProblemDetail
}

func (e *ResponseError) Error() string {
	return strconv.Itoa(e.StatusCode) + " " + e.Err.Error()
}

// Unwrap returns the answer's *boxoffice.Error.
func (e *ResponseError) Unwrap() error { return e.Err }

// StatusCode returns the HTTP status of the *ResponseError in err's chain,
// or 0 when there is none.
func StatusCode(err error) int {
	var re *ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// call is one request.
type call struct {
	method, path string
	query        url.Values
	bearer       string // access token or admin key
	queueToken   string
	idemKey      string
	proof        string // Queue-Proof
	body         any    // sent as JSON when not nil
	out          any    // 2xx JSON is decoded into it when not nil
}

// do sends c and returns the status of a 2xx answer.
func (cl *Client) do(ctx context.Context, c call) (int, error) {
	u := cl.base + c.path
	if len(c.query) > 0 {
		u += "?" + c.query.Encode()
	}
	var body io.Reader
	if c.body != nil {
		b, err := json.Marshal(c.body)
		if err != nil {
			return 0, fmt.Errorf("%s %s: encode request: %w", c.method, c.path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := nethttp.NewRequestWithContext(ctx, c.method, u, body)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", c.method, c.path, err)
	}
	req.Header.Set("Accept", "application/json")
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.queueToken != "" {
		req.Header.Set("Queue-Token", c.queueToken)
	}
	if c.idemKey != "" {
		req.Header.Set("Idempotency-Key", c.idemKey)
	}
	if c.proof != "" {
		req.Header.Set("Queue-Proof", c.proof)
	}
	resp, err := cl.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", c.method, c.path, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, responseError(resp)
	}
	if c.out != nil && resp.StatusCode != nethttp.StatusNoContent {
		if err := json.NewDecoder(resp.Body).Decode(c.out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode answer: %w", c.method, c.path, err)
		}
	}
	return resp.StatusCode, nil
}

// responseError reads a non-2xx answer. A body that is not a problem (from
// a proxy, say) gets the code its status stands for.
func responseError(resp *nethttp.Response) *ResponseError {
	e := &ResponseError{StatusCode: resp.StatusCode}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	var p Problem
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&p); err == nil && p.Code != "" {
		e.Err = &boxoffice.Error{Code: p.Code, Message: p.Detail, Position: p.Position}
		e.Errors = p.Errors
		return e
	}
	e.Err = &boxoffice.Error{Code: codeOfStatus(resp.StatusCode), Message: nethttp.StatusText(resp.StatusCode)}
	return e
}

func codeOfStatus(status int) boxoffice.Code {
	switch status {
	case nethttp.StatusBadRequest, nethttp.StatusUnprocessableEntity, nethttp.StatusMethodNotAllowed:
		return boxoffice.CodeInvalidRequest
	case nethttp.StatusUnauthorized:
		return boxoffice.CodeUnauthenticated
	case nethttp.StatusForbidden:
		return boxoffice.CodeForbidden
	case nethttp.StatusNotFound:
		return boxoffice.CodeNotFound
	case nethttp.StatusTooManyRequests:
		return boxoffice.CodeRateLimited
	case nethttp.StatusBadGateway, nethttp.StatusServiceUnavailable, nethttp.StatusGatewayTimeout:
		return boxoffice.CodeUnavailable
	}
	return boxoffice.CodeInternal
}

func esc(s string) string { return url.PathEscape(s) }

// CreateUser creates a user and returns their access token.
func (cl *Client) CreateUser(ctx context.Context, name string) (UserCreated, error) {
	var out UserCreated
	_, err := cl.do(ctx, call{method: "POST", path: "/v1/users", body: NewUser{Name: name}, out: &out})
	return out, err
}

// Balance returns the caller's balance.
func (cl *Client) Balance(ctx context.Context, accessToken, userID string) (Balance, error) {
	var out Balance
	_, err := cl.do(ctx, call{method: "GET", path: "/v1/users/" + esc(userID) + "/balance", bearer: accessToken, out: &out})
	return out, err
}

// Charge adds amount won to the caller's wallet. idempotencyKey may be "".
func (cl *Client) Charge(ctx context.Context, accessToken, userID string, amount int64, idempotencyKey string) (Charge, error) {
	var out Charge
	_, err := cl.do(ctx, call{
		method: "POST", path: "/v1/users/" + esc(userID) + "/balance/charges",
		bearer: accessToken, idemKey: idempotencyKey, body: ChargeRequest{Amount: amount}, out: &out,
	})
	return out, err
}

// History returns a page of the caller's ledger, newest first. limit 0
// takes the server's default; cursor "" starts at the newest entry.
func (cl *Client) History(ctx context.Context, accessToken, userID string, limit int, cursor string) (History, error) {
	q := url.Values{}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var out History
	_, err := cl.do(ctx, call{method: "GET", path: "/v1/users/" + esc(userID) + "/balance/history", query: q, bearer: accessToken, out: &out})
	return out, err
}

// Concerts lists concerts.
func (cl *Client) Concerts(ctx context.Context) (ConcertList, error) {
	var out ConcertList
	_, err := cl.do(ctx, call{method: "GET", path: "/v1/concerts", out: &out})
	return out, err
}

// Concert returns one concert with its waiting room.
func (cl *Client) Concert(ctx context.Context, concertID string) (ConcertDetail, error) {
	var out ConcertDetail
	_, err := cl.do(ctx, call{method: "GET", path: "/v1/concerts/" + esc(concertID), out: &out})
	return out, err
}

// Join enters a concert's waiting room; created is false when the caller
// already had a place or session there.
func (cl *Client) Join(ctx context.Context, accessToken, concertID string) (st QueueStatus, created bool, err error) {
	status, err := cl.do(ctx, call{method: "POST", path: "/v1/concerts/" + esc(concertID) + "/queue", bearer: accessToken, out: &st})
	return st, status == nethttp.StatusCreated, err
}

// Challenge returns a proof-of-work challenge for the caller to join a
// concert's waiting room.
func (cl *Client) Challenge(ctx context.Context, accessToken, concertID string) (Challenge, error) {
	var out Challenge
	_, err := cl.do(ctx, call{method: "GET", path: "/v1/concerts/" + esc(concertID) + "/queue/challenge", bearer: accessToken, out: &out})
	return out, err
}

// Solve solves c as the altcha widget does, trying every number from 0 to
// c.MaxNumber, and returns the Queue-Proof of its solution. Errors: no
// number solves c, or ctx ended first.
func Solve(ctx context.Context, c Challenge) (string, error) {
	tc := token.Challenge{Algorithm: c.Algorithm, Challenge: c.Challenge, Salt: c.Salt, MaxNumber: c.MaxNumber, Signature: c.Signature}
	n, ok := token.Solve(ctx, tc)
	if !ok {
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("solve challenge: %w", err)
		}
		return "", errors.New("solve challenge: no number in 0..maxnumber solves it")
	}
	return token.EncodeProof(tc, n), nil
}

// JoinWithProof is Join with proof, a Queue-Proof from Solve, for a room
// that asks for a proof of work. Errors: PROOF_INVALID, and those of Join.
func (cl *Client) JoinWithProof(ctx context.Context, accessToken, concertID, proof string) (st QueueStatus, created bool, err error) {
	status, err := cl.do(ctx, call{method: "POST", path: "/v1/concerts/" + esc(concertID) + "/queue", bearer: accessToken, proof: proof, out: &st})
	return st, status == nethttp.StatusCreated, err
}

// JoinSolving fetches a challenge, solves it and joins with its proof.
func (cl *Client) JoinSolving(ctx context.Context, accessToken, concertID string) (st QueueStatus, created bool, err error) {
	c, err := cl.Challenge(ctx, accessToken, concertID)
	if err != nil {
		return QueueStatus{}, false, err
	}
	proof, err := Solve(ctx, c)
	if err != nil {
		return QueueStatus{}, false, err
	}
	return cl.JoinWithProof(ctx, accessToken, concertID, proof)
}

// QueueStatus returns the caller's standing; it also keeps a waiting place
// alive.
func (cl *Client) QueueStatus(ctx context.Context, accessToken, queueToken string) (QueueStatus, error) {
	var out QueueStatus
	_, err := cl.do(ctx, call{method: "GET", path: "/v1/queue", bearer: accessToken, queueToken: queueToken, out: &out})
	return out, err
}

// Leave gives up the caller's place or session.
func (cl *Client) Leave(ctx context.Context, accessToken, queueToken string) error {
	_, err := cl.do(ctx, call{method: "DELETE", path: "/v1/queue", bearer: accessToken, queueToken: queueToken})
	return err
}

// Dates lists a concert's bookable dates.
func (cl *Client) Dates(ctx context.Context, accessToken, queueToken, concertID string) (DateList, error) {
	var out DateList
	_, err := cl.do(ctx, call{method: "GET", path: "/v1/concerts/" + esc(concertID) + "/dates", bearer: accessToken, queueToken: queueToken, out: &out})
	return out, err
}

// Seats returns every seat of one date.
func (cl *Client) Seats(ctx context.Context, accessToken, queueToken, concertID, date string) (SeatMap, error) {
	var out SeatMap
	_, err := cl.do(ctx, call{
		method: "GET", path: "/v1/concerts/" + esc(concertID) + "/dates/" + esc(date) + "/seats",
		bearer: accessToken, queueToken: queueToken, out: &out,
	})
	return out, err
}

// Hold holds seats of one date, all or none.
func (cl *Client) Hold(ctx context.Context, accessToken, queueToken string, req HoldRequest) (Reservation, error) {
	var out Reservation
	_, err := cl.do(ctx, call{method: "POST", path: "/v1/reservations", bearer: accessToken, queueToken: queueToken, body: req, out: &out})
	return out, err
}

// HoldWithKey holds seats like Hold, with an Idempotency-Key: a retry with
// the same key and request answers the first reservation again.
func (cl *Client) HoldWithKey(ctx context.Context, accessToken, queueToken string, req HoldRequest, idempotencyKey string) (Reservation, error) {
	var out Reservation
	_, err := cl.do(ctx, call{method: "POST", path: "/v1/reservations", bearer: accessToken, queueToken: queueToken,
		idemKey: idempotencyKey, body: req, out: &out})
	return out, err
}

// ReservationsQuery filters and pages Reservations; its zero value asks
// for the first page of every reservation, at the server's default size.
type ReservationsQuery struct {
	ConcertID string
	Status    string // HELD, PAID, EXPIRED or CANCELLED
	Limit     int
	Cursor    string
}

// Reservations returns a page of the caller's reservations, newest first.
func (cl *Client) Reservations(ctx context.Context, accessToken, userID string, q ReservationsQuery) (ReservationList, error) {
	v := url.Values{}
	if q.ConcertID != "" {
		v.Set("concertId", q.ConcertID)
	}
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	var out ReservationList
	_, err := cl.do(ctx, call{method: "GET", path: "/v1/users/" + esc(userID) + "/reservations", query: v, bearer: accessToken, out: &out})
	return out, err
}

// Reservation returns one of the caller's reservations.
func (cl *Client) Reservation(ctx context.Context, accessToken, reservationID string) (Reservation, error) {
	var out Reservation
	_, err := cl.do(ctx, call{method: "GET", path: "/v1/reservations/" + esc(reservationID), bearer: accessToken, out: &out})
	return out, err
}

// Cancel releases one of the caller's holds.
func (cl *Client) Cancel(ctx context.Context, accessToken, queueToken, reservationID string) error {
	_, err := cl.do(ctx, call{method: "DELETE", path: "/v1/reservations/" + esc(reservationID), bearer: accessToken, queueToken: queueToken})
	return err
}

// Pay pays a held reservation. idempotencyKey may be "".
func (cl *Client) Pay(ctx context.Context, accessToken, queueToken, reservationID, idempotencyKey string) (Payment, error) {
	var out Payment
	_, err := cl.do(ctx, call{
		method: "POST", path: "/v1/payments", bearer: accessToken, queueToken: queueToken, idemKey: idempotencyKey,
		body: PaymentRequest{ReservationID: reservationID}, out: &out,
	})
	return out, err
}

// CreateConcert creates a concert.
func (cl *Client) CreateConcert(ctx context.Context, adminKey string, spec ConcertSpec) (Concert, error) {
	var out Concert
	_, err := cl.do(ctx, call{method: "POST", path: "/v1/admin/concerts", bearer: adminKey, body: spec, out: &out})
	return out, err
}

// SetWaitingRoom replaces a concert's waiting room settings.
func (cl *Client) SetWaitingRoom(ctx context.Context, adminKey, concertID string, wr WaitingRoom) (WaitingRoom, error) {
	var out WaitingRoom
	_, err := cl.do(ctx, call{method: "PUT", path: "/v1/admin/concerts/" + esc(concertID) + "/waiting-room", bearer: adminKey, body: wr, out: &out})
	return out, err
}

// Stats returns a concert's sale and waiting room now.
func (cl *Client) Stats(ctx context.Context, adminKey, concertID string) (ConcertStats, error) {
	var out ConcertStats
	_, err := cl.do(ctx, call{method: "GET", path: "/v1/admin/concerts/" + esc(concertID) + "/stats", bearer: adminKey, out: &out})
	return out, err
}

// Lottery returns the publication of a concert's draw.
func (cl *Client) Lottery(ctx context.Context, concertID string) (Lottery, error) {
	var out Lottery
	_, err := cl.do(ctx, call{method: "GET", path: "/v1/concerts/" + esc(concertID) + "/lottery", out: &out})
	return out, err
}

// Admissions returns a page of a waiting room's admission log from entry
// from; limit 0 takes the server's default.
func (cl *Client) Admissions(ctx context.Context, adminKey, concertID string, from int64, limit int) (AdmissionLog, error) {
	q := url.Values{}
	if from != 0 {
		q.Set("from", strconv.FormatInt(from, 10))
	}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out AdmissionLog
	_, err := cl.do(ctx, call{method: "GET", path: "/v1/admin/concerts/" + esc(concertID) + "/admissions", query: q, bearer: adminKey, out: &out})
	return out, err
}

// QueueEvents opens the caller's queue event stream. lastEventID, when not
// 0, is sent as Last-Event-ID. The stream lasts until the server ends it
// or ctx ends: the Client's http.Client must have no Timeout. Errors: the
// answer of a refused stream, as a *ResponseError (UNAUTHENTICATED,
// QUEUE_TOKEN_INVALID, UNAVAILABLE, …).
func (cl *Client) QueueEvents(ctx context.Context, accessToken, queueToken string, lastEventID uint64) (*EventStream, error) {
	req, err := nethttp.NewRequestWithContext(ctx, "GET", cl.base+"/v1/queue/events", nil)
	if err != nil {
		return nil, fmt.Errorf("GET /v1/queue/events: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if accessToken != "" {
		req.Header.Set("Authorization", "Bearer "+accessToken)
	}
	if queueToken != "" {
		req.Header.Set("Queue-Token", queueToken)
	}
	if lastEventID != 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(lastEventID, 10))
	}
	resp, err := cl.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET /v1/queue/events: %w", err)
	}
	if resp.StatusCode != nethttp.StatusOK {
		defer resp.Body.Close()
		return nil, responseError(resp)
	}
	return &EventStream{body: resp.Body, r: bufio.NewReaderSize(resp.Body, 1024)}, nil
}

// QueueEvent is one status event of a queue event stream.
type QueueEvent struct {
	ID     uint64 // the event's id; ids increase along a stream and its resumptions
	Status QueueStatus
}

// EventStream reads a queue event stream. It is not safe for concurrent
// use.
type EventStream struct {
	body io.ReadCloser
	r    *bufio.Reader
	// Retry is the reconnection delay the server asked for, 0 until it
	// does.
	Retry time.Duration
	// Heartbeats counts the comment lines read.
	Heartbeats int
}

// maxEventBytes bounds one event of a stream.
const maxEventBytes = 64 << 10

// ErrStreamReplaced is the end of an event stream that the server ended
// because another stream of the same queue token was opened; the client
// should not reconnect.
var ErrStreamReplaced = errors.New("queue event stream replaced by a newer stream of the same queue token")

// Next returns the next status event, skipping heartbeats and events of
// other types. It returns io.EOF once the server has ended the stream, as
// it does after an ADMITTED, EXPIRED or SOLD_OUT event, and
// ErrStreamReplaced when another stream of the same queue token ended it.
func (es *EventStream) Next() (QueueEvent, error) {
	var (
		ev        QueueEvent
		kind      string
		data      []byte
		hasData   bool
		seenBytes int
	)
	for {
		line, err := es.r.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return ev, errors.New("queue event stream: line too long")
			}
			if errors.Is(err, io.EOF) && len(line) == 0 {
				return ev, io.EOF
			}
			return ev, fmt.Errorf("queue event stream: %w", err)
		}
		if seenBytes += len(line); seenBytes > maxEventBytes {
			return ev, errors.New("queue event stream: event too long")
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if hasData && kind == "replaced" {
				return ev, ErrStreamReplaced
			}
			if hasData && (kind == "" || kind == "status") {
				if err := json.Unmarshal(data, &ev.Status); err != nil {
					return ev, fmt.Errorf("queue event stream: decode status: %w", err)
				}
				return ev, nil
			}
			kind, data, hasData = "", data[:0], false
			continue
		}
		if line[0] == ':' {
			es.Heartbeats++
			continue
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(name) {
		case "event":
			kind = string(value)
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data, hasData = append(data, value...), true
		case "id":
			if n, err := strconv.ParseUint(string(value), 10, 64); err == nil {
				ev.ID = n
			}
		case "retry":
			if n, err := strconv.Atoi(string(value)); err == nil && n >= 0 {
				es.Retry = time.Duration(n) * time.Millisecond
			}
		}
	}
}

// Close ends the stream.
func (es *EventStream) Close() error { return es.body.Close() }

// Healthz checks that the server process is up.
func (cl *Client) Healthz(ctx context.Context) error {
	var out Health
	_, err := cl.do(ctx, call{method: "GET", path: "/healthz", out: &out})
	return err
}
