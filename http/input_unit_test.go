package http

import (
	"strings"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name, body string
		into       func() any
		want       string // "" for success, else a fragment of the error
	}{
		{"OK", `{"amount":1000}`, func() any { return new(ChargeRequest) }, ""},
		{"OKRateExponent", `{"strategy":"RATE","admitPerSecond":1e1,"sessionSeconds":1,"idleSeconds":1}`, func() any { return new(WaitingRoom) }, ""},
		{"OKNull", `{"waitingRoom":null}`, func() any { return new(ConcertSpec) }, ""},
		{"ErrExponent", `{"amount":1e3}`, func() any { return new(ChargeRequest) }, "amount must be a whole number"},
		{"ErrIntegralFraction", `{"amount":3.0}`, func() any { return new(ChargeRequest) }, "amount must be a whole number"},
		{"ErrOverflow", `{"amount":9223372036854775808}`, func() any { return new(ChargeRequest) }, "amount is out of range"},
		{"ErrInfinite", `{"amount":1e400}`, func() any { return new(ChargeRequest) }, "amount must be a whole number"},
		{"ErrSeatIndex", `{"seatNumbers":[1,2,18446744073709551616]}`, func() any { return new(HoldRequest) }, "seatNumbers[2] is out of range"},
		{"ErrNestedArray", `{"grades":[{"price":1},{"price":1e2}]}`, func() any { return new(ConcertSpec) }, "grades[1].price must be"},
		{"ErrNestedPointer", `{"waitingRoom":{"maxActive":2.5}}`, func() any { return new(ConcertSpec) }, "waitingRoom.maxActive must be"},
		{"ErrTime", `{"dates":["2026-07-01T19:00:00+09:00","soon"]}`, func() any { return new(ConcertSpec) }, "dates[1] must be an RFC 3339 time"},
		{"ErrRateOverflow", `{"admitPerSecond":1e400}`, func() any { return new(WaitingRoom) }, "admitPerSecond is out of range"},
		{"ErrWrongType", `{"name":5}`, func() any { return new(NewUser) }, "name must be a string"},
		{"ErrRootType", `[1]`, func() any { return new(NewUser) }, "body must be an object"},
		{"ErrSecondValue", `{"name":"a"} {"name":"b"}`, func() any { return new(NewUser) }, "body must hold one JSON value"},
		{"ErrSecondValueAny", `{"name":"a"} 1`, func() any { return new(any) }, "body must hold one JSON value"},
		{"ErrTruncated", `{"name":"a"`, func() any { return new(any) }, "body ends before"},
		{"ErrSyntax", `{"name":x}`, func() any { return new(any) }, "body is not valid JSON at byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeJSON([]byte(tt.body), tt.into())
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want success", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
	t.Run("OKHugeNumberForValidation", func(t *testing.T) {
		var v any
		if err := decodeJSON([]byte(`{"name":1e999}`), &v); err != nil {
			t.Fatalf("got %v, want the tree for the validator to refuse", err)
		}
	})
}
