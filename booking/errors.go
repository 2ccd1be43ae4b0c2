package booking

import "github.com/boxoffice/boxoffice"

// The errors every Store returns, written once so that every adapter says
// the same.

// ReservationNotFound is the NOT_FOUND of an unknown reservation.
func ReservationNotFound(id string) error {
	return boxoffice.Errorf(boxoffice.CodeNotFound, "reservation %s not found", id)
}

// Forbidden is the FORBIDDEN of a reservation of another user.
func Forbidden(id string) error {
	return boxoffice.Errorf(boxoffice.CodeForbidden, "reservation %s belongs to another user", id)
}

// OtherConcert is the QUEUE_TOKEN_INVALID of paying or cancelling, with
// the queue pass of one concert, a reservation of another.
func OtherConcert() error {
	return boxoffice.Errorf(boxoffice.CodeQueueTokenInvalid, "queue token is for another concert")
}

// AlreadyPaid is the ALREADY_PAID of paying a paid reservation under
// another key.
func AlreadyPaid(id string) error {
	return boxoffice.Errorf(boxoffice.CodeAlreadyPaid, "reservation %s is already paid", id)
}

// HoldExpired is the HOLD_EXPIRED of a reservation whose hold lapsed or
// was released.
func HoldExpired(id string) error {
	return boxoffice.Errorf(boxoffice.CodeHoldExpired, "the hold of reservation %s has lapsed or was released", id)
}

// HoldKeyReused is the IDEMPOTENCY_KEY_REUSED of a hold whose key was used
// to hold other seats.
func HoldKeyReused() error {
	return boxoffice.Errorf(boxoffice.CodeIdempotencyKeyReused, "Idempotency-Key was used to hold other seats")
}

// NoHoldWithKey is the NOT_FOUND of a replay that finds no hold under its
// key.
func NoHoldWithKey() error {
	return boxoffice.Errorf(boxoffice.CodeNotFound, "no hold with this Idempotency-Key")
}

// NoPaymentWithKey is the NOT_FOUND of a replay that finds no payment under
// its key.
func NoPaymentWithKey() error {
	return boxoffice.Errorf(boxoffice.CodeNotFound, "no payment with this Idempotency-Key")
}

// PayKeyReused is the IDEMPOTENCY_KEY_REUSED of a payment whose key was
// used to pay another reservation.
func PayKeyReused() error {
	return boxoffice.Errorf(boxoffice.CodeIdempotencyKeyReused, "Idempotency-Key was used to pay another reservation")
}

// InsufficientBalance is the INSUFFICIENT_BALANCE of a payment of due
// from a wallet holding balance.
func InsufficientBalance(balance, due boxoffice.Money) error {
	return boxoffice.Errorf(boxoffice.CodeInsufficientBalance, "balance %d is less than the %d due", balance, due)
}
