// Package wallet is each user's prepaid balance and the ledger that
// explains it. Users are the holders of wallets, so they live here too.
package wallet

import (
	"context"
	"fmt"
	"time"

	"github.com/boxoffice/boxoffice"
)

// User is a fan. A user is created with an empty wallet.
type User struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// MaxNameLen is the longest user name, in characters.
const MaxNameLen = boxoffice.MaxTextLen

// NewUser checks name (see boxoffice.CheckText) and returns a new user.
// Errors: INVALID_REQUEST.
func NewUser(id, name string, now time.Time) (User, error) {
	name, err := boxoffice.CheckText("name", name)
	if err != nil {
		return User{}, err
	}
	return User{ID: id, Name: name, CreatedAt: now.UTC()}, nil
}

// Kind says why a ledger entry moved money.
type Kind string

// Ledger entry kinds.
const (
	Charge  Kind = "CHARGE"  // money in
	Payment Kind = "PAYMENT" // money out, for a reservation
	Refund  Kind = "REFUND"  // money back
)

// Entry is one movement of a wallet. Amount is never negative (a free
// reservation is paid with 0); Kind gives the direction. BalanceAfter is
// the balance right after the movement.
type Entry struct {
	ID           string
	UserID       string
	Kind         Kind
	Amount       boxoffice.Money
	BalanceAfter boxoffice.Money
	At           time.Time
}

// Limits bound charges and balances.
type Limits struct {
	MaxCharge  boxoffice.Money // largest single charge
	MaxBalance boxoffice.Money // largest balance
}

// DefaultLimits are the limits of the public contract.
func DefaultLimits() Limits {
	return Limits{MaxCharge: 1_000_000, MaxBalance: 100_000_000}
}

// MaxLimit bounds MaxBalance, and so every balance and charge: 10^12 won.
// With it no sum the service computes can overflow an int64 (a balance plus
// a charge is at most 2×10^12; the balances of 9 million wallets at the cap
// still fit), and every amount stays exact in a JSON number read as a
// float64 (2^53 ≈ 9×10^15). See docs/design.md.
const MaxLimit boxoffice.Money = 1_000_000_000_000

// Validate checks that 1 <= MaxCharge <= MaxBalance <= MaxLimit.
func (l Limits) Validate() error {
	switch {
	case l.MaxBalance < 1 || l.MaxBalance > MaxLimit:
		return fmt.Errorf("the largest balance must be between 1 and %d won, got %d", MaxLimit, l.MaxBalance)
	case l.MaxCharge < 1 || l.MaxCharge > l.MaxBalance:
		return fmt.Errorf("the largest charge must be between 1 and the largest balance (%d won), got %d", l.MaxBalance, l.MaxCharge)
	}
	return nil
}

// ChargeRequest asks a Store to add Amount to UserID's wallet.
type ChargeRequest struct {
	ChargeID       string // id of the new ledger entry
	UserID         string
	Amount         boxoffice.Money
	MaxBalance     boxoffice.Money
	IdempotencyKey string // optional
	Now            time.Time
}

// Receipt is the answer to a charge.
type Receipt struct {
	ChargeID string
	UserID   string
	Amount   boxoffice.Money
	Balance  boxoffice.Money // balance right after this charge
	At       time.Time
}

// MaxHistory is the most entries one page of history holds.
const MaxHistory = 100

// Store keeps users, balances and the ledger.
type Store interface {
	// CreateUser stores u with a zero balance.
	CreateUser(ctx context.Context, u User) error

	// EnsureUser stores u with a zero balance unless a user with u.ID
	// exists, whom it leaves as they are.
	EnsureUser(ctx context.Context, u User) error

	// User returns a user. Errors: NOT_FOUND.
	User(ctx context.Context, id string) (User, error)

	// Balance returns a user's balance, 0 for a user it does not know.
	Balance(ctx context.Context, userID string) (boxoffice.Money, error)

	// Charge adds req.Amount to the wallet and writes a CHARGE entry with id
	// req.ChargeID, atomically. With an IdempotencyKey already used by this
	// user for the same amount it changes nothing and returns the first
	// receipt. Errors: NOT_FOUND; INVALID_REQUEST when the balance would
	// exceed req.MaxBalance; IDEMPOTENCY_KEY_REUSED when the key was used
	// for another amount.
	Charge(ctx context.Context, req ChargeRequest) (Receipt, error)

	// History returns up to limit entries of the user's ledger, newest
	// first in the order they moved the balance, older than the entry with
	// id before (from the newest when before is ""); none for a user it
	// does not know. Errors: INVALID_REQUEST when before is not one of the
	// user's entries.
	History(ctx context.Context, userID, before string, limit int) ([]Entry, error)
}

// Service applies the wallet's rules on a Store.
type Service struct {
	store  Store
	clock  boxoffice.Clock
	limits Limits
}

// NewService returns a Service with the given limits, which must pass
// Limits.Validate.
func NewService(store Store, clock boxoffice.Clock, limits Limits) *Service {
	return &Service{store: store, clock: clock, limits: limits}
}

// Limits returns the service's limits.
func (s *Service) Limits() Limits { return s.limits }

// CreateUser creates a user with an empty wallet. Errors: INVALID_REQUEST.
func (s *Service) CreateUser(ctx context.Context, name string) (User, error) {
	u, err := NewUser(boxoffice.NewID(), name, s.clock.Now())
	if err != nil {
		return User{}, err
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return User{}, err
	}
	return u, nil
}

// EnsureUser makes sure the user id, known to an identity provider rather
// than created here, has a wallet: it creates one with a zero balance the
// first time, named name (id when name is not a valid name).
func (s *Service) EnsureUser(ctx context.Context, id, name string) error {
	u, err := NewUser(id, name, s.clock.Now())
	if err != nil {
		u = User{ID: id, Name: id, CreatedAt: s.clock.Now().UTC()}
	}
	return s.store.EnsureUser(ctx, u)
}

// Balance returns a user's balance, 0 for a user without a wallet.
func (s *Service) Balance(ctx context.Context, userID string) (boxoffice.Money, error) {
	return s.store.Balance(ctx, userID)
}

// Charge adds amount to a user's wallet. Errors: INVALID_REQUEST for an
// amount outside 1..MaxCharge or a balance that would pass MaxBalance,
// NOT_FOUND, IDEMPOTENCY_KEY_REUSED.
func (s *Service) Charge(ctx context.Context, userID string, amount boxoffice.Money, idempotencyKey string) (Receipt, error) {
	if amount < 1 || amount > s.limits.MaxCharge {
		return Receipt{}, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "amount must be between 1 and %d", s.limits.MaxCharge)
	}
	return s.store.Charge(ctx, ChargeRequest{
		ChargeID:       boxoffice.NewID(),
		UserID:         userID,
		Amount:         amount,
		MaxBalance:     s.limits.MaxBalance,
		IdempotencyKey: idempotencyKey,
		Now:            s.clock.Now(),
	})
}

// History returns a page of the user's ledger, newest first. Errors:
// INVALID_REQUEST for a limit outside 1..MaxHistory or a malformed cursor.
func (s *Service) History(ctx context.Context, userID, before string, limit int) ([]Entry, error) {
	if limit < 1 || limit > MaxHistory {
		return nil, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "limit must be between 1 and %d", MaxHistory)
	}
	if before != "" {
		var ok bool
		if before, ok = boxoffice.CanonID(before); !ok {
			return nil, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "malformed cursor")
		}
	}
	return s.store.History(ctx, userID, before, limit)
}
