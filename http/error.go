package http

import (
	"errors"
	nethttp "net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/boxoffice/boxoffice"
)

// codeInfo is how one error code is answered.
type codeInfo struct {
	status int
	title  string
}

// codes is the one table from error code to HTTP status. INVALID_REQUEST is
// 422 here (a well-formed request with a bad value); input that cannot be
// parsed at all is answered 400 by badRequest.
var codes = map[boxoffice.Code]codeInfo{
	boxoffice.CodeInvalidRequest:       {nethttp.StatusUnprocessableEntity, "Invalid request"},
	boxoffice.CodeUnauthenticated:      {nethttp.StatusUnauthorized, "Unauthenticated"},
	boxoffice.CodeForbidden:            {nethttp.StatusForbidden, "Forbidden"},
	boxoffice.CodeQueueTokenInvalid:    {nethttp.StatusUnauthorized, "Queue token invalid"},
	boxoffice.CodeQueueTokenExpired:    {nethttp.StatusUnauthorized, "Queue token expired"},
	boxoffice.CodeNotAdmitted:          {nethttp.StatusForbidden, "Not admitted"},
	boxoffice.CodeNotFound:             {nethttp.StatusNotFound, "Not found"},
	boxoffice.CodeSeatUnavailable:      {nethttp.StatusConflict, "Seat unavailable"},
	boxoffice.CodeSeatLimitExceeded:    {nethttp.StatusConflict, "Seat limit exceeded"},
	boxoffice.CodeHoldExpired:          {nethttp.StatusConflict, "Hold expired"},
	boxoffice.CodeAlreadyPaid:          {nethttp.StatusConflict, "Already paid"},
	boxoffice.CodeInsufficientBalance:  {nethttp.StatusConflict, "Insufficient balance"},
	boxoffice.CodeIdempotencyKeyReused: {nethttp.StatusUnprocessableEntity, "Idempotency key reused"},
	boxoffice.CodeSoldOut:              {nethttp.StatusConflict, "Sold out"},
	boxoffice.CodeRateLimited:          {nethttp.StatusTooManyRequests, "Rate limited"},
	boxoffice.CodeUnavailable:          {nethttp.StatusServiceUnavailable, "Unavailable"},
	boxoffice.CodeOutcomeUnknown:       {nethttp.StatusServiceUnavailable, "Outcome unknown"},
	boxoffice.CodeProofInvalid:         {nethttp.StatusForbidden, "Proof of work invalid"},
	boxoffice.CodeInternal:             {nethttp.StatusInternalServerError, "Internal error"},
}

// StatusOf returns the HTTP status that answers code; codes the API does not
// define are internal errors (500).
func StatusOf(code boxoffice.Code) int {
	if ci, ok := codes[code]; ok {
		return ci.status
	}
	return nethttp.StatusInternalServerError
}

// unavailableRetry is the Retry-After, in seconds, of UNAVAILABLE and
// OUTCOME_UNKNOWN answers.
const unavailableRetry = 1

// Problem is the RFC 9457 body of every non-2xx answer.
type Problem struct {
	Type   string         `json:"type" doc:"Always about:blank."`
	Title  string         `json:"title" doc:"Short summary of the error code."`
	Status int            `json:"status" doc:"HTTP status code."`
	Code   boxoffice.Code `json:"code" doc:"Machine-readable error code."` // enum: boxoffice.Codes, see TransformSchema
	Detail string         `json:"detail" doc:"What went wrong in this occurrence."`
	// Position is the caller's place in the waiting room, with NOT_ADMITTED.
	Position int64 `json:"position,omitempty" doc:"Place in the waiting room (NOT_ADMITTED only)."`
	// Errors lists each invalid part of a request that failed validation.
	Errors []ProblemDetail `json:"errors,omitempty" doc:"Each invalid part of the request (validation failures only)."`

	retryAfter int  // seconds; set for 429 and 503
	challenge  bool // send WWW-Authenticate: Bearer
}

// TransformSchema lists boxoffice.Codes as the enum of Problem.code in the
// OpenAPI document.
func (*Problem) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	if code := s.Properties["code"]; code != nil {
		code.Enum = nil
		for _, c := range boxoffice.Codes() {
			code.Enum = append(code.Enum, string(c))
		}
	}
	return s
}

// ProblemDetail names one invalid part of a request.
type ProblemDetail struct {
	Message  string `json:"message" doc:"What is wrong."`
	Location string `json:"location,omitempty" doc:"Where, e.g. body.seatNumbers[0] or query.limit."`
}

// Error makes a Problem an error; huma writes it with its status.
func (p *Problem) Error() string { return string(p.Code) + ": " + p.Detail }

// GetStatus is the HTTP status of p.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType answers problems as application/problem+json.
func (p *Problem) ContentType(string) string { return problemContentType }

// GetHeaders are the headers that go with p.
func (p *Problem) GetHeaders() nethttp.Header {
	h := nethttp.Header{}
	p.setHeaders(h)
	return h
}

func (p *Problem) setHeaders(h nethttp.Header) {
	if p.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.retryAfter))
	}
	if p.challenge {
		h.Set("WWW-Authenticate", `Bearer realm="boxoffice"`)
	}
}

const problemContentType = "application/problem+json"

// problemFor turns err into the problem that answers it. Errors that are not
// *boxoffice.Error are internal: their detail is "internal error" and
// internal reports them as true so that the caller logs them.
func problemFor(err error) (p *Problem, internal bool) {
	// Most errors are a bare *boxoffice.Error: no chain to search.
	be, bare := err.(*boxoffice.Error)
	bare = bare && be.Cause == nil
	var pe *Problem
	if !bare && errors.As(err, &pe) {
		return pe, pe.Status >= 500 && pe.Code == boxoffice.CodeInternal
	}
	if !bare && !errors.As(err, &be) || be.Code == boxoffice.CodeInternal {
		return newProblem(boxoffice.CodeInternal, "internal error"), true
	}
	if _, ok := codes[be.Code]; !ok {
		return newProblem(boxoffice.CodeInternal, "internal error"), true
	}
	p = newProblem(be.Code, be.Message)
	if be.Code == boxoffice.CodeNotAdmitted {
		p.Position = be.Position
	}
	return p, false
}

// newProblem returns the problem for code with detail.
func newProblem(code boxoffice.Code, detail string) *Problem {
	ci, ok := codes[code]
	if !ok {
		code, ci = boxoffice.CodeInternal, codes[boxoffice.CodeInternal]
	}
	if detail == "" {
		detail = ci.title
	}
	p := &Problem{Type: "about:blank", Title: ci.title, Status: ci.status, Code: code, Detail: detail}
	switch code {
	case boxoffice.CodeUnavailable, boxoffice.CodeOutcomeUnknown:
		p.retryAfter = unavailableRetry
	case boxoffice.CodeRateLimited:
		p.retryAfter = 1
	case boxoffice.CodeUnauthenticated:
		p.challenge = true
	}
	return p
}

// badRequest is an INVALID_REQUEST for input that could not be parsed: 400.
func badRequest(detail string) *Problem {
	p := newProblem(boxoffice.CodeInvalidRequest, detail)
	p.Status = nethttp.StatusBadRequest
	return p
}

// rateLimitedProblem is a RATE_LIMITED problem asking to retry after
// retrySeconds (at least one).
func rateLimitedProblem(retrySeconds int) *Problem {
	p := newProblem(boxoffice.CodeRateLimited, "too many requests; retry later")
	p.retryAfter = max(1, retrySeconds)
	return p
}

// writeProblem writes p as the whole answer. Every error answered outside
// huma's operation handlers goes through it.
func writeProblem(w nethttp.ResponseWriter, p *Problem) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", problemContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	p.setHeaders(h)
	w.WriteHeader(p.Status)
	buf := getBuf()
	*buf = append(p.appendJSON(*buf), '\n')
	_, _ = w.Write(*buf)
	putBuf(buf)
}

// humaError answers the errors huma makes itself (validation, unreadable or
// too large bodies, unknown content types) as problems with the code of
// their status: INVALID_REQUEST for every 4xx that has no code of its own,
// 400 for unparseable input and 422 for failed validation.
func humaError(status int, msg string, errs ...error) huma.StatusError {
	var p *Problem
	switch {
	case status >= 500:
		for _, err := range errs {
			if pe, internal := problemFor(err); !internal {
				return pe
			}
		}
		return newProblem(boxoffice.CodeInternal, "internal error")
	case status == nethttp.StatusUnauthorized:
		p = newProblem(boxoffice.CodeUnauthenticated, msg)
	case status == nethttp.StatusForbidden:
		p = newProblem(boxoffice.CodeForbidden, msg)
	case status == nethttp.StatusNotFound:
		p = newProblem(boxoffice.CodeNotFound, msg)
	case status == nethttp.StatusTooManyRequests:
		p = newProblem(boxoffice.CodeRateLimited, msg)
	case status == nethttp.StatusUnprocessableEntity:
		p = newProblem(boxoffice.CodeInvalidRequest, msg)
	case status == nethttp.StatusRequestEntityTooLarge:
		// The contract has no code of its own for it: INVALID_REQUEST,
		// with the status that says what is wrong.
		p = newProblem(boxoffice.CodeInvalidRequest, "the request body is too large")
		if _, limit, ok := strings.Cut(msg, "limit="); ok {
			p.Detail = "the request body is larger than " + limit
		}
		p.Status = status
	default:
		p = badRequest(msg)
	}
	for _, err := range errs {
		if err == nil {
			continue
		}
		d := ProblemDetail{Message: err.Error()}
		var ed huma.ErrorDetailer
		if errors.As(err, &ed) {
			detail := ed.ErrorDetail()
			d = ProblemDetail{Message: detail.Message, Location: detail.Location}
		}
		p.Errors = append(p.Errors, d)
	}
	if len(p.Errors) > 0 && msg == "validation failed" {
		first := p.Errors[0]
		if p.Status == nethttp.StatusBadRequest {
			p.Detail = "malformed request: " + first.Message
		} else {
			p.Detail = "invalid request: " + first.Message
			if field, ok := strings.CutPrefix(first.Location, "body."); ok {
				// The field as the API names it: "seatNumbers[1]: expected integer".
				p.Detail = "invalid request: " + field + ": " + first.Message
			} else if first.Location != "" && first.Location != "body" {
				p.Detail += " (" + first.Location + ")"
			}
		}
	}
	return p
}

func init() {
	huma.NewError = humaError
	huma.NewErrorWithContext = func(_ huma.Context, status int, msg string, errs ...error) huma.StatusError {
		return humaError(status, msg, errs...)
	}
	// Response slices are never null; the schemas say so.
	huma.DefaultArrayNullable = false
}

func (p *Problem) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = field(b, "type")
	b = appendString(b, p.Type)
	b = field(b, "title")
	b = appendString(b, p.Title)
	b = field(b, "status")
	b = appendInt(b, int64(p.Status))
	b = field(b, "code")
	b = appendString(b, string(p.Code))
	b = field(b, "detail")
	b = appendString(b, p.Detail)
	if p.Position != 0 {
		b = field(b, "position")
		b = appendInt(b, p.Position)
	}
	if len(p.Errors) > 0 {
		b = append(b, `,"errors":[`...)
		for i, d := range p.Errors {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			b = field(b, "message")
			b = appendString(b, d.Message)
			if d.Location != "" {
				b = field(b, "location")
				b = appendString(b, d.Location)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}
