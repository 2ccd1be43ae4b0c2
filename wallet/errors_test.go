package wallet_test

import (
	"testing"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/wallet"
)

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		code boxoffice.Code
		msg  string
	}{
		{"UserNotFound", wallet.UserNotFound("u1"), boxoffice.CodeNotFound, "user u1 not found"},
		{"BadCursor", wallet.BadCursor(), boxoffice.CodeInvalidRequest, "unknown cursor"},
		{"ChargeKeyReused", wallet.ChargeKeyReused(), boxoffice.CodeIdempotencyKeyReused, "Idempotency-Key was used for a charge of another amount"},
		// The PostgreSQL store words this refusal in SQL too.
		{"OverCap", wallet.OverCap(100), boxoffice.CodeInvalidRequest, "balance would exceed 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := boxoffice.ErrorCode(tc.err); got != tc.code {
				t.Errorf("code: got %s, want %s", got, tc.code)
			}
			if got := tc.err.(*boxoffice.Error).Message; got != tc.msg {
				t.Errorf("message: got %q, want %q", got, tc.msg)
			}
		})
	}
}

func TestChargeRequestCheck(t *testing.T) {
	ok := wallet.ChargeRequest{UserID: "u", Amount: 1, ChargeID: boxoffice.NewID()}
	t.Run("OK", func(t *testing.T) {
		if err := ok.Check(); err != nil {
			t.Errorf("got %v, want nil", err)
		}
	})
	for name, req := range map[string]wallet.ChargeRequest{
		"ErrAmountZero":        {UserID: "u", Amount: 0, ChargeID: ok.ChargeID},
		"ErrMalformedChargeID": {UserID: "u", Amount: 1, ChargeID: "x"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := req.Check(); boxoffice.ErrorCode(err) != boxoffice.CodeInvalidRequest {
				t.Errorf("got %v, want INVALID_REQUEST", err)
			}
		})
	}
}
