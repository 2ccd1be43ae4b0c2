package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/event"
	"github.com/boxoffice/boxoffice/wallet"
)

// WalletStore is wallet.Store on SQLite.
type WalletStore struct{ db *DB }

var _ wallet.Store = (*WalletStore)(nil)

// NewWalletStore returns the wallet store of db.
func NewWalletStore(db *DB) *WalletStore { return &WalletStore{db: db} }

// CreateUser stores u with an empty wallet.
func (s *WalletStore) CreateUser(ctx context.Context, u wallet.User) error {
	return s.db.update(ctx, "create user", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, created_at) VALUES (?, ?, ?)`,
			u.ID, u.Name, micros(u.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO wallets (user_id, balance) VALUES (?, 0)`, u.ID)
		return err
	})
}

// EnsureUser stores u with an empty wallet unless a user with u.ID exists.
func (s *WalletStore) EnsureUser(ctx context.Context, u wallet.User) error {
	return s.db.update(ctx, "ensure user", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			u.ID, u.Name, micros(u.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO wallets (user_id, balance) VALUES (?, 0) ON CONFLICT (user_id) DO NOTHING`, u.ID)
		return err
	})
}

// User returns a user. Errors: NOT_FOUND.
func (s *WalletStore) User(ctx context.Context, id string) (wallet.User, error) {
	u := wallet.User{ID: id}
	var created int64
	err := s.db.read.QueryRowContext(ctx, `SELECT name, created_at FROM users WHERE id = ?`, id).Scan(&u.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return wallet.User{}, wallet.UserNotFound(id)
	}
	if err != nil {
		return wallet.User{}, s.db.wrap(ctx, "read user", err)
	}
	u.CreatedAt = at(created)
	return u, nil
}

const walletBalanceSQL = `SELECT balance FROM wallets WHERE user_id = ?`

// Balance returns a user's balance, 0 for a user without a wallet.
func (s *WalletStore) Balance(ctx context.Context, userID string) (boxoffice.Money, error) {
	var b boxoffice.Money
	err := s.db.read.QueryRowContext(ctx, walletBalanceSQL, userID).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.db.wrap(ctx, "read balance", err)
	}
	return b, nil
}

const insertEntrySQL = `
INSERT INTO ledger (id, user_id, seq, kind, amount, balance_after, at, idempotency_key)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

// Charge adds req.Amount to the wallet and writes its CHARGE entry, in one
// write transaction: the idempotency lookup, the cap and the credit all see
// the wallet as it is when the charge commits.
// Errors: NOT_FOUND, INVALID_REQUEST, IDEMPOTENCY_KEY_REUSED.
func (s *WalletStore) Charge(ctx context.Context, req wallet.ChargeRequest) (wallet.Receipt, error) {
	if err := req.Check(); err != nil {
		return wallet.Receipt{}, err
	}
	id, _ := canonID(req.ChargeID)
	var key *string
	if req.IdempotencyKey != "" {
		key = &req.IdempotencyKey
	}
	var r wallet.Receipt
	var refusal error // decided and kept under the key: the transaction commits
	err := s.db.update(ctx, "charge", func(tx *sql.Tx) error {
		var balance boxoffice.Money
		err := tx.StmtContext(ctx, s.db.st.walletBalance).QueryRowContext(ctx, req.UserID).Scan(&balance)
		if errors.Is(err, sql.ErrNoRows) {
			return wallet.UserNotFound(req.UserID)
		}
		if err != nil {
			return err
		}
		if key != nil {
			var prior int64
			r = wallet.Receipt{UserID: req.UserID}
			err := tx.QueryRowContext(ctx, `
				SELECT id, amount, balance_after, at FROM ledger
				WHERE user_id = ? AND kind = 'CHARGE' AND idempotency_key = ?`, req.UserID, *key).
				Scan(&r.ChargeID, &r.Amount, &r.Balance, &prior)
			switch {
			case err == nil && r.Amount != req.Amount:
				return wallet.ChargeKeyReused()
			case err == nil:
				r.At = at(prior)
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			f, found, err := failureByKey(ctx, tx, req.UserID, "CHARGE", *key)
			switch {
			case err != nil:
				return err
			case found && boxoffice.Money(f.amount.Int64) != req.Amount:
				return wallet.ChargeKeyReused()
			case found:
				return f.err()
			}
		}
		if req.Amount > req.MaxBalance-balance { // balance+amount could overflow
			refusal = wallet.OverCap(req.MaxBalance)
			if key == nil {
				return refusal
			}
			return keepFailure(ctx, tx, req.UserID, "CHARGE", *key, int64(req.Amount), "", refusal, req.Now)
		}
		var seq int64
		err = tx.QueryRowContext(ctx, `
			UPDATE wallets SET balance = balance + ?2, entries = entries + 1
			WHERE user_id = ?1 RETURNING balance, entries`, req.UserID, int64(req.Amount)).Scan(&balance, &seq)
		if err != nil {
			return err
		}
		r = wallet.Receipt{ChargeID: id, UserID: req.UserID, Amount: req.Amount, Balance: balance, At: utc(req.Now)}
		_, err = tx.StmtContext(ctx, s.db.st.insertEntry).ExecContext(ctx,
			id, req.UserID, seq, wallet.Charge, int64(req.Amount), int64(balance), micros(req.Now), key)
		if err != nil {
			return err
		}
		return s.db.writeEvents(ctx, tx, event.OfBalanceCharged(r))
	})
	if err != nil {
		return wallet.Receipt{}, err
	}
	if refusal != nil {
		return wallet.Receipt{}, refusal
	}
	return r, nil
}

// failure is a refusal kept under an idempotency key.
type failure struct {
	amount        sql.NullInt64  // CHARGE
	reservationID sql.NullString // PAYMENT
	code, message string
}

func (f failure) err() error {
	return &boxoffice.Error{Code: boxoffice.Code(f.code), Message: f.message}
}

// failureByKey reads the refusal kept under (userID, kind, key), if any.
func failureByKey(ctx context.Context, tx *sql.Tx, userID, kind, key string) (failure, bool, error) {
	var f failure
	err := tx.QueryRowContext(ctx, `
		SELECT amount, reservation_id, code, message FROM idempotency_failures
		WHERE user_id = ? AND kind = ? AND idempotency_key = ?`, userID, kind, key).
		Scan(&f.amount, &f.reservationID, &f.code, &f.message)
	if errors.Is(err, sql.ErrNoRows) {
		return failure{}, false, nil
	}
	return f, err == nil, err
}

// keepFailure keeps refusal, a *boxoffice.Error, under (userID, kind, key)
// with what was asked: amount for a charge, reservationID for a payment.
func keepFailure(ctx context.Context, tx *sql.Tx, userID, kind, key string, amount int64, reservationID string, refusal error, now time.Time) error {
	var be *boxoffice.Error
	if !errors.As(refusal, &be) {
		return refusal
	}
	var a, res any
	if kind == "CHARGE" {
		a = amount
	} else {
		res = reservationID
	}
	_, err := tx.ExecContext(ctx, `
		INSERT INTO idempotency_failures (user_id, kind, idempotency_key, amount, reservation_id, code, message, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, userID, kind, key, a, res, string(be.Code), be.Message, micros(now))
	return err
}

// History returns up to limit ledger entries older than before, newest
// first in the order they moved the balance; none for an unknown user.
// Errors: INVALID_REQUEST for a cursor that is not one of the user's
// entries.
func (s *WalletStore) History(ctx context.Context, userID, before string, limit int) ([]wallet.Entry, error) {
	cursor := int64(math.MaxInt64)
	if before != "" {
		id, ok := canonID(before)
		if !ok {
			return nil, wallet.BadCursor()
		}
		err := s.db.read.QueryRowContext(ctx, `SELECT seq FROM ledger WHERE id = ? AND user_id = ?`, id, userID).Scan(&cursor)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, wallet.BadCursor()
		}
		if err != nil {
			return nil, s.db.wrap(ctx, "read history", err)
		}
	}
	rows, err := s.db.read.QueryContext(ctx, `
		SELECT id, kind, amount, balance_after, at FROM ledger
		WHERE user_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`, userID, cursor, max(limit, 0))
	if err != nil {
		return nil, s.db.wrap(ctx, "read history", err)
	}
	defer rows.Close()
	entries := []wallet.Entry{}
	for rows.Next() {
		e := wallet.Entry{UserID: userID}
		var t int64
		if err := rows.Scan(&e.ID, &e.Kind, &e.Amount, &e.BalanceAfter, &t); err != nil {
			return nil, s.db.wrap(ctx, "read history", err)
		}
		e.At = at(t)
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.db.wrap(ctx, "read history", err)
	}
	return entries, nil
}
