package wallet

import "github.com/boxoffice/boxoffice"

// The errors every Store returns, written once so that every adapter says
// the same.

// UserNotFound is the NOT_FOUND of an unknown user.
func UserNotFound(id string) error {
	return boxoffice.Errorf(boxoffice.CodeNotFound, "user %s not found", id)
}

// BadCursor is the INVALID_REQUEST of a history cursor the store did not
// hand out for this user.
func BadCursor() error {
	return boxoffice.Errorf(boxoffice.CodeInvalidRequest, "unknown cursor")
}

// ChargeKeyReused is the IDEMPOTENCY_KEY_REUSED of a charge whose key was
// used for a charge of another amount.
func ChargeKeyReused() error {
	return boxoffice.Errorf(boxoffice.CodeIdempotencyKeyReused, "Idempotency-Key was used for a charge of another amount")
}

// OverCap is the INVALID_REQUEST refusal of a charge that would take the
// balance past maxBalance. A store that words the refusal in SQL (to keep
// it under the charge's key) writes this message.
func OverCap(maxBalance boxoffice.Money) error {
	return boxoffice.Errorf(boxoffice.CodeInvalidRequest, "balance would exceed %d", maxBalance)
}

// Check is the INVALID_REQUEST of a request no store can carry out: an
// amount below 1 or a malformed charge id. The Service's limits are
// checked before it; a Store checks this at its boundary.
func (r ChargeRequest) Check() error {
	if r.Amount < 1 {
		return boxoffice.Errorf(boxoffice.CodeInvalidRequest, "amount must be positive")
	}
	if !boxoffice.ValidID(r.ChargeID) {
		return boxoffice.Errorf(boxoffice.CodeInvalidRequest, "malformed charge id")
	}
	return nil
}
