package http

import (
	"encoding/json"
	"errors"
	"fmt"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/boxoffice/boxoffice"
)

func TestStatusOf(t *testing.T) {
	tests := []struct {
		code boxoffice.Code
		want int
	}{
		{boxoffice.CodeInvalidRequest, 422},
		{boxoffice.CodeUnauthenticated, 401},
		{boxoffice.CodeForbidden, 403},
		{boxoffice.CodeQueueTokenInvalid, 401},
		{boxoffice.CodeQueueTokenExpired, 401},
		{boxoffice.CodeNotAdmitted, 403},
		{boxoffice.CodeNotFound, 404},
		{boxoffice.CodeSeatUnavailable, 409},
		{boxoffice.CodeSeatLimitExceeded, 409},
		{boxoffice.CodeHoldExpired, 409},
		{boxoffice.CodeAlreadyPaid, 409},
		{boxoffice.CodeInsufficientBalance, 409},
		{boxoffice.CodeIdempotencyKeyReused, 422},
		{boxoffice.CodeSoldOut, 409},
		{boxoffice.CodeRateLimited, 429},
		{boxoffice.CodeUnavailable, 503},
		{boxoffice.CodeOutcomeUnknown, 503},
		{boxoffice.CodeProofInvalid, 403},
		{boxoffice.CodeInternal, 500},
		{"SOMETHING_ELSE", 500},
	}
	for _, tt := range tests {
		t.Run(string(tt.code), func(t *testing.T) {
			if got := StatusOf(tt.code); got != tt.want {
				t.Errorf("StatusOf(%s) = %d, want %d", tt.code, got, tt.want)
			}
		})
	}
}

func TestProblemFor(t *testing.T) {
	tests := []struct {
		name         string
		err          error
		wantCode     boxoffice.Code
		wantStatus   int
		wantDetail   string
		wantPosition int64
		wantInternal bool
	}{
		{"SeatUnavailable", boxoffice.Errorf(boxoffice.CodeSeatUnavailable, "seat 17 is held"), boxoffice.CodeSeatUnavailable, 409, "seat 17 is held", 0, false},
		{"Wrapped", fmt.Errorf("hold: %w", boxoffice.Errorf(boxoffice.CodeHoldExpired, "lapsed")), boxoffice.CodeHoldExpired, 409, "lapsed", 0, false},
		{"NotAdmitted", &boxoffice.Error{Code: boxoffice.CodeNotAdmitted, Message: "still waiting", Position: 42}, boxoffice.CodeNotAdmitted, 403, "still waiting", 42, false},
		{"PositionOnlyWithNotAdmitted", &boxoffice.Error{Code: boxoffice.CodeNotFound, Message: "x", Position: 42}, boxoffice.CodeNotFound, 404, "x", 0, false},
		{"Unavailable", boxoffice.Unavailable("database", errors.New("dial tcp: refused")), boxoffice.CodeUnavailable, 503, "database unavailable", 0, false},
		{"PlainError", errors.New("pq: relation does not exist"), boxoffice.CodeInternal, 500, "internal error", 0, true},
		{"InternalCode", &boxoffice.Error{Code: boxoffice.CodeInternal, Message: "secret detail"}, boxoffice.CodeInternal, 500, "internal error", 0, true},
		{"UnknownCode", &boxoffice.Error{Code: "WHAT", Message: "secret detail"}, boxoffice.CodeInternal, 500, "internal error", 0, true},
		{"EmptyMessage", &boxoffice.Error{Code: boxoffice.CodeForbidden}, boxoffice.CodeForbidden, 403, "Forbidden", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, internal := problemFor(tt.err)
			if p.Code != tt.wantCode || p.Status != tt.wantStatus || p.Detail != tt.wantDetail || p.Position != tt.wantPosition {
				t.Errorf("got %s %d %q position %d, want %s %d %q position %d",
					p.Code, p.Status, p.Detail, p.Position, tt.wantCode, tt.wantStatus, tt.wantDetail, tt.wantPosition)
			}
			if internal != tt.wantInternal {
				t.Errorf("internal = %v, want %v", internal, tt.wantInternal)
			}
			if p.Type != "about:blank" || p.Title == "" {
				t.Errorf("got type %q title %q, want about:blank and a title", p.Type, p.Title)
			}
		})
	}
}

func TestHumaError(t *testing.T) {
	detail := &huma.ErrorDetail{Message: "expected integer", Location: "body.amount", Value: "secret"}
	tests := []struct {
		name       string
		status     int
		msg        string
		errs       []error
		wantCode   boxoffice.Code
		wantStatus int
	}{
		{"ValidationIs422", 422, "validation failed", []error{detail}, boxoffice.CodeInvalidRequest, 422},
		{"MalformedJSONIs400", 400, "validation failed", []error{&huma.ErrorDetail{Message: "invalid character", Location: "body"}}, boxoffice.CodeInvalidRequest, 400},
		{"BodyTooLargeIs413", 413, "request body is too large limit=10 bytes", nil, boxoffice.CodeInvalidRequest, 413},
		{"UnknownContentTypeIs400", 415, "validation failed", []error{errors.New("unknown content type")}, boxoffice.CodeInvalidRequest, 400},
		{"NotFound", 404, "nope", nil, boxoffice.CodeNotFound, 404},
		{"Internal", 500, "unexpected error occurred", []error{errors.New("boom")}, boxoffice.CodeInternal, 500},
		{"DomainErrorThrough500", 500, "unexpected error occurred", []error{boxoffice.Errorf(boxoffice.CodeSoldOut, "gone")}, boxoffice.CodeSoldOut, 409},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			se := huma.NewError(tt.status, tt.msg, tt.errs...)
			p, ok := se.(*Problem)
			if !ok {
				t.Fatalf("huma.NewError returned %T, want *Problem", se)
			}
			if p.Code != tt.wantCode || p.GetStatus() != tt.wantStatus {
				t.Errorf("got %s %d, want %s %d", p.Code, p.GetStatus(), tt.wantCode, tt.wantStatus)
			}
		})
	}
	t.Run("DetailsKeepMessageAndLocationOnly", func(t *testing.T) {
		p := huma.NewError(422, "validation failed", detail).(*Problem)
		if len(p.Errors) != 1 || p.Errors[0] != (ProblemDetail{Message: "expected integer", Location: "body.amount"}) {
			t.Errorf("got errors %+v, want one {expected integer body.amount}", p.Errors)
		}
		b, _ := json.Marshal(p)
		if strings.Contains(string(b), "secret") {
			t.Errorf("problem %s echoes the request value", b)
		}
	})
	t.Run("InternalHidesDetail", func(t *testing.T) {
		p := huma.NewError(500, "unexpected error occurred", errors.New("password=hunter2")).(*Problem)
		if p.Detail != "internal error" || len(p.Errors) != 0 {
			t.Errorf("got detail %q errors %v, want \"internal error\" and none", p.Detail, p.Errors)
		}
	})
}

func TestWriteProblem(t *testing.T) {
	tests := []struct {
		name          string
		p             *Problem
		wantStatus    int
		wantRetry     string
		wantChallenge bool
	}{
		{"RateLimited", rateLimitedProblem(3), 429, "3", false},
		{"RateLimitedAtLeastOneSecond", rateLimitedProblem(0), 429, "1", false},
		{"Unavailable", newProblem(boxoffice.CodeUnavailable, "database unavailable"), 503, "1", false},
		{"OutcomeUnknown", newProblem(boxoffice.CodeOutcomeUnknown, "database did not answer"), 503, "1", false},
		{"Unauthenticated", newProblem(boxoffice.CodeUnauthenticated, "no token"), 401, "", true},
		{"QueueTokenInvalidHasNoChallenge", newProblem(boxoffice.CodeQueueTokenInvalid, "forged"), 401, "", false},
		{"BadRequest", badRequest("malformed"), 400, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			writeProblem(w, tt.p)
			if w.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			if got := w.Header().Get("Content-Type"); got != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", got)
			}
			if got := w.Header().Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After = %q, want %q", got, tt.wantRetry)
			}
			if got := w.Header().Get("WWW-Authenticate") != ""; got != tt.wantChallenge {
				t.Errorf("WWW-Authenticate set = %v, want %v", got, tt.wantChallenge)
			}
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			for _, k := range []string{"type", "title", "status", "code", "detail"} {
				if _, ok := body[k]; !ok {
					t.Errorf("body %s lacks %q", w.Body, k)
				}
			}
			if body["status"] != float64(tt.wantStatus) {
				t.Errorf("body status = %v, want %d", body["status"], tt.wantStatus)
			}
		})
	}
}

func TestProblemJSON(t *testing.T) {
	tests := []struct {
		name string
		p    *Problem
	}{
		{"Plain", newProblem(boxoffice.CodeSeatUnavailable, `seat 17 is "held"`)},
		{"Position", &Problem{Type: "about:blank", Title: "Not admitted", Status: 403, Code: boxoffice.CodeNotAdmitted, Detail: "wait", Position: 7}},
		{"Errors", &Problem{Type: "about:blank", Title: "Invalid request", Status: 422, Code: boxoffice.CodeInvalidRequest, Detail: "validation failed",
			Errors: []ProblemDetail{{Message: "expected integer", Location: "body.amount"}, {Message: "no location"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertSameJSON(t, tt.p)
		})
	}
}

func TestProblemAsHumaError(t *testing.T) {
	p := newProblem(boxoffice.CodeUnauthenticated, "x")
	var se huma.StatusError = p
	var he huma.HeadersError = p
	if se.GetStatus() != nethttp.StatusUnauthorized {
		t.Errorf("GetStatus = %d, want 401", se.GetStatus())
	}
	if he.GetHeaders().Get("WWW-Authenticate") == "" {
		t.Error("GetHeaders lacks WWW-Authenticate, want Bearer challenge")
	}
	if got := p.ContentType("application/json"); got != "application/problem+json" {
		t.Errorf("ContentType = %q, want application/problem+json", got)
	}
}
