package boxoffice_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/boxoffice/boxoffice"
)

func TestErrorIs(t *testing.T) {
	err := fmt.Errorf("hold seats: %w", boxoffice.Errorf(boxoffice.CodeSeatUnavailable, "seat %d is held", 17))
	t.Run("OK", func(t *testing.T) {
		if !errors.Is(err, boxoffice.ErrSeatUnavailable) {
			t.Errorf("errors.Is(%v, ErrSeatUnavailable) = false, want true", err)
		}
	})
	t.Run("OtherCode", func(t *testing.T) {
		if errors.Is(err, boxoffice.ErrHoldExpired) {
			t.Errorf("errors.Is(%v, ErrHoldExpired) = true, want false", err)
		}
	})
}

func TestErrorCode(t *testing.T) {
	cause := errors.New("connection refused")
	tests := []struct {
		name string
		err  error
		want boxoffice.Code
	}{
		{"Nil", nil, ""},
		{"Plain", errors.New("boom"), boxoffice.CodeInternal},
		{"Wrapped", fmt.Errorf("x: %w", boxoffice.ErrNotFound), boxoffice.CodeNotFound},
		{"Unavailable", boxoffice.Unavailable("database", cause), boxoffice.CodeUnavailable},
		{"OutcomeUnknown", boxoffice.OutcomeUnknown("database", cause), boxoffice.CodeOutcomeUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := boxoffice.ErrorCode(tt.err); got != tt.want {
				t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
	t.Run("UnavailableKeepsCause", func(t *testing.T) {
		if err := boxoffice.Unavailable("redis", cause); !errors.Is(err, cause) {
			t.Errorf("errors.Is(%v, cause) = false, want true", err)
		}
	})
	t.Run("OutcomeUnknownKeepsCause", func(t *testing.T) {
		err := boxoffice.OutcomeUnknown("database", cause)
		if !errors.Is(err, cause) || !errors.Is(err, boxoffice.ErrOutcomeUnknown) {
			t.Errorf("errors.Is(%v, cause / ErrOutcomeUnknown) = false, want true", err)
		}
		if errors.Is(err, boxoffice.ErrUnavailable) {
			t.Errorf("errors.Is(%v, ErrUnavailable) = true, want false: UNAVAILABLE promises nothing changed", err)
		}
	})
}

func TestCheckIdempotencyKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		ok   bool
	}{
		{"Empty", "", true},
		{"OK", "pay-2026-12-24-#1", true},
		{"Max", strings.Repeat("k", 128), true},
		{"ErrTooLong", strings.Repeat("k", 129), false},
		{"ErrControl", "a\tb", false},
		{"ErrNonASCII", "결제", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := boxoffice.CheckIdempotencyKey(tt.key)
			if got := err == nil; got != tt.ok {
				t.Errorf("CheckIdempotencyKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
			}
			if err != nil && !errors.Is(err, boxoffice.ErrInvalidRequest) {
				t.Errorf("got %v, want INVALID_REQUEST", err)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	a, b := boxoffice.NewID(), boxoffice.NewID()
	if !boxoffice.ValidID(a) || !boxoffice.ValidID(b) {
		t.Fatalf("NewID gave invalid ids %q, %q", a, b)
	}
	if a >= b {
		t.Errorf("ids not time-ordered: %q then %q", a, b)
	}
	for _, bad := range []string{"", "17", "not-a-uuid-at-all-but-36-chars-long!", "01890a5d-ac96-774b-bcce-b302099a8057x"} {
		if boxoffice.ValidID(bad) {
			t.Errorf("ValidID(%q) = true, want false", bad)
		}
	}
}
