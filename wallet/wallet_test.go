package wallet_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/wallet"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func TestNewUser(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"OK", "Kim", "Kim", true},
		{"OKTrimmed", "  Lee  ", "Lee", true},
		{"OKHangul", "김민준", "김민준", true},
		{"OKMaxRunes", strings.Repeat("가", wallet.MaxNameLen), strings.Repeat("가", wallet.MaxNameLen), true},
		{"ErrEmpty", "   ", "", false},
		{"ErrTooLong", strings.Repeat("a", wallet.MaxNameLen+1), "", false},
		{"ErrNUL", "Kim\x00", "", false},
		{"ErrBidiOverride", "Kim\u202e", "", false},
		{"ErrInvalidUTF8", "Kim\xff", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := wallet.NewUser("id", tt.in, t0)
			if (err == nil) != tt.ok {
				t.Fatalf("got %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, boxoffice.ErrInvalidRequest) {
				t.Errorf("got %v, want INVALID_REQUEST", err)
			}
			if u.Name != tt.want {
				t.Errorf("name: got %q, want %q", u.Name, tt.want)
			}
		})
	}
}

// refusingStore fails the test if the service reaches it: limits must be
// checked before any I/O.
type refusingStore struct {
	wallet.Store
	t *testing.T
}

func (s refusingStore) Charge(context.Context, wallet.ChargeRequest) (wallet.Receipt, error) {
	s.t.Fatal("store reached")
	return wallet.Receipt{}, nil
}

func (s refusingStore) History(context.Context, string, string, int) ([]wallet.Entry, error) {
	s.t.Fatal("store reached")
	return nil, nil
}

func TestServiceLimits(t *testing.T) {
	ctx := context.Background()
	svc := wallet.NewService(refusingStore{t: t}, boxoffice.NewManualClock(t0), wallet.DefaultLimits())
	for _, amount := range []boxoffice.Money{0, -1, 1_000_001} {
		if _, err := svc.Charge(ctx, "u", amount, ""); !errors.Is(err, boxoffice.ErrInvalidRequest) {
			t.Errorf("charge %d: got %v, want INVALID_REQUEST", amount, err)
		}
	}
	for _, limit := range []int{0, -1, wallet.MaxHistory + 1} {
		if _, err := svc.History(ctx, "u", "", limit); !errors.Is(err, boxoffice.ErrInvalidRequest) {
			t.Errorf("history limit %d: got %v, want INVALID_REQUEST", limit, err)
		}
	}
	if _, err := svc.History(ctx, "u", "not-a-cursor", 10); !errors.Is(err, boxoffice.ErrInvalidRequest) {
		t.Errorf("bad cursor: got %v, want INVALID_REQUEST", err)
	}
}

func TestLimitsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    wallet.Limits
		ok   bool
	}{
		{"OKDefault", wallet.DefaultLimits(), true},
		{"OKLargest", wallet.Limits{MaxCharge: wallet.MaxLimit, MaxBalance: wallet.MaxLimit}, true},
		{"ErrBalanceAboveBound", wallet.Limits{MaxCharge: 1, MaxBalance: wallet.MaxLimit + 1}, false},
		{"ErrBalanceOverflows", wallet.Limits{MaxCharge: 1, MaxBalance: math.MaxInt64}, false},
		{"ErrBalanceZero", wallet.Limits{MaxCharge: 0, MaxBalance: 0}, false},
		{"ErrChargeAboveBalance", wallet.Limits{MaxCharge: 101, MaxBalance: 100}, false},
		{"ErrChargeZero", wallet.Limits{MaxCharge: 0, MaxBalance: 100}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.l.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate(%+v): got %v, want ok=%v", tc.l, err, tc.ok)
			}
		})
	}
}
