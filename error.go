package boxoffice

import (
	"errors"
	"fmt"
)

// Code is a machine-readable error code of the public API.
type Code string

// The error codes of the public API. Each maps to one HTTP status in package http.
const (
	CodeInvalidRequest       Code = "INVALID_REQUEST"
	CodeUnauthenticated      Code = "UNAUTHENTICATED"
	CodeForbidden            Code = "FORBIDDEN"
	CodeQueueTokenInvalid    Code = "QUEUE_TOKEN_INVALID"
	CodeQueueTokenExpired    Code = "QUEUE_TOKEN_EXPIRED"
	CodeNotAdmitted          Code = "NOT_ADMITTED"
	CodeNotFound             Code = "NOT_FOUND"
	CodeSeatUnavailable      Code = "SEAT_UNAVAILABLE"
	CodeSeatLimitExceeded    Code = "SEAT_LIMIT_EXCEEDED"
	CodeHoldExpired          Code = "HOLD_EXPIRED"
	CodeAlreadyPaid          Code = "ALREADY_PAID"
	CodeInsufficientBalance  Code = "INSUFFICIENT_BALANCE"
	CodeIdempotencyKeyReused Code = "IDEMPOTENCY_KEY_REUSED"
	CodeSoldOut              Code = "SOLD_OUT"
	CodeRateLimited          Code = "RATE_LIMITED"
	CodeUnavailable          Code = "UNAVAILABLE"
	CodeOutcomeUnknown       Code = "OUTCOME_UNKNOWN"
	CodeProofInvalid         Code = "PROOF_INVALID"
	CodeInternal             Code = "INTERNAL"
)

// Codes lists every code of the public API in the order of its contract.
// Tests hold the constants above, the sentinels below and package http's
// table to it; the OpenAPI document's enum of codes is derived from it.
func Codes() []Code {
	return []Code{
		CodeInvalidRequest, CodeUnauthenticated, CodeForbidden, CodeQueueTokenInvalid,
		CodeQueueTokenExpired, CodeNotAdmitted, CodeNotFound, CodeSeatUnavailable,
		CodeSeatLimitExceeded, CodeHoldExpired, CodeAlreadyPaid, CodeInsufficientBalance,
		CodeIdempotencyKeyReused, CodeSoldOut, CodeRateLimited, CodeUnavailable,
		CodeOutcomeUnknown, CodeProofInvalid, CodeInternal,
	}
}

// Error is a domain error: a Code of the public API and a message that is
// safe to show to the client.
//
// Errors compare by code: errors.Is(err, boxoffice.ErrSeatUnavailable) is
// true for any *Error with that code, whatever its message.
type Error struct {
	Code    Code
	Message string
	// Position is the caller's place in the waiting room; set with
	// CodeNotAdmitted only.
	Position int64
	// Cause is the underlying failure, for logs; never shown to clients.
	Cause error
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Message
}

// Unwrap returns the underlying failure, if any.
func (e *Error) Unwrap() error { return e.Cause }

// Unavailable wraps err, a failure to reach a backing service, as an
// *Error with CodeUnavailable. what names the service ("database", "redis").
func Unavailable(what string, err error) *Error {
	return &Error{Code: CodeUnavailable, Message: what + " unavailable", Cause: err}
}

// OutcomeUnknown wraps err, a failure that left a change's outcome unknown,
// as an *Error with CodeOutcomeUnknown: the change was sent to what
// (the "database") but no answer came back (the connection broke or the
// deadline passed), so it may or may not have been made. The client learns
// which by retrying with the same Idempotency-Key or by reading the
// resource.
func OutcomeUnknown(what string, err error) *Error {
	return &Error{Code: CodeOutcomeUnknown, Message: what + " did not answer; the change may or may not have been made: retry with the same Idempotency-Key or read the resource", Cause: err}
}

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// ErrorCode returns the code of the first *Error in err's chain, "" for a nil
// error and CodeInternal for any other error.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Sentinels to match with errors.Is.
var (
	ErrInvalidRequest       = &Error{Code: CodeInvalidRequest}
	ErrUnauthenticated      = &Error{Code: CodeUnauthenticated}
	ErrForbidden            = &Error{Code: CodeForbidden}
	ErrQueueTokenInvalid    = &Error{Code: CodeQueueTokenInvalid}
	ErrQueueTokenExpired    = &Error{Code: CodeQueueTokenExpired}
	ErrNotAdmitted          = &Error{Code: CodeNotAdmitted}
	ErrNotFound             = &Error{Code: CodeNotFound}
	ErrSeatUnavailable      = &Error{Code: CodeSeatUnavailable}
	ErrSeatLimitExceeded    = &Error{Code: CodeSeatLimitExceeded}
	ErrHoldExpired          = &Error{Code: CodeHoldExpired}
	ErrAlreadyPaid          = &Error{Code: CodeAlreadyPaid}
	ErrInsufficientBalance  = &Error{Code: CodeInsufficientBalance}
	ErrIdempotencyKeyReused = &Error{Code: CodeIdempotencyKeyReused}
	ErrSoldOut              = &Error{Code: CodeSoldOut}
	ErrRateLimited          = &Error{Code: CodeRateLimited}
	ErrUnavailable          = &Error{Code: CodeUnavailable}
	ErrOutcomeUnknown       = &Error{Code: CodeOutcomeUnknown}
	ErrProofInvalid         = &Error{Code: CodeProofInvalid}
)

// MaxIdempotencyKeyLen is the longest Idempotency-Key accepted.
const MaxIdempotencyKeyLen = 128

// CheckIdempotencyKey accepts "" (no key) or 1..128 printable ASCII
// characters. Errors: INVALID_REQUEST.
func CheckIdempotencyKey(k string) error {
	if len(k) > MaxIdempotencyKeyLen {
		return Errorf(CodeInvalidRequest, "Idempotency-Key must have at most %d characters", MaxIdempotencyKeyLen)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return Errorf(CodeInvalidRequest, "Idempotency-Key must be printable ASCII")
		}
	}
	return nil
}
