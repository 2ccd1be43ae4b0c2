package http

import (
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
	body         any // sent as JSON when not nil
	out          any // 2xx JSON is decoded into it when not nil
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

// Healthz checks that the server process is up.
func (cl *Client) Healthz(ctx context.Context) error {
	var out Health
	_, err := cl.do(ctx, call{method: "GET", path: "/healthz", out: &out})
	return err
}
