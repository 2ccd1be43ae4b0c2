package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/wallet"
)

// WalletStore is wallet.Store on PostgreSQL.
type WalletStore struct{ db *DB }

var _ wallet.Store = (*WalletStore)(nil)

// NewWalletStore returns the wallet store of db.
func NewWalletStore(db *DB) *WalletStore { return &WalletStore{db: db} }

// CreateUser stores u with an empty wallet.
func (s *WalletStore) CreateUser(ctx context.Context, u wallet.User) error {
	_, err := s.db.pool.Exec(ctx, `
		WITH u AS (INSERT INTO users (id, name, created_at) VALUES ($1, $2, $3) RETURNING id)
		INSERT INTO wallets (user_id, balance) SELECT id, 0 FROM u`, u.ID, u.Name, u.CreatedAt)
	return s.db.wrap("create user", err)
}

// User returns a user. Errors: NOT_FOUND.
func (s *WalletStore) User(ctx context.Context, id string) (wallet.User, error) {
	u := wallet.User{ID: id}
	err := s.db.pool.QueryRow(ctx, `SELECT name, created_at FROM users WHERE id = $1`, id).Scan(&u.Name, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return wallet.User{}, userNotFound(id)
	}
	if err != nil {
		return wallet.User{}, s.db.wrap("read user", err)
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}

// Balance returns a user's balance. Errors: NOT_FOUND.
func (s *WalletStore) Balance(ctx context.Context, userID string) (boxoffice.Money, error) {
	var b boxoffice.Money
	err := s.db.pool.QueryRow(ctx, `SELECT balance FROM wallets WHERE user_id = $1`, userID).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, userNotFound(userID)
	}
	if err != nil {
		return 0, s.db.wrap("read balance", err)
	}
	return b, nil
}

// chargeSQL runs once the wallet row is locked, so its snapshot sees every
// charge of this user that committed before: the idempotency lookup is
// exact. The credit happens only without an earlier charge under the key and
// within the cap; the ledger entry only with the credit. The cap is checked
// as amount <= cap - balance, which cannot overflow (0 <= balance <= cap).
const chargeSQL = `
WITH prior AS MATERIALIZED (
	SELECT id, amount, balance_after, at FROM ledger
	WHERE user_id = $1 AND kind = 'CHARGE' AND idempotency_key = $2
),
credit AS (
	UPDATE wallets SET balance = balance + $3, entries = entries + 1
	WHERE user_id = $1 AND $3 <= $4 - balance AND NOT EXISTS (SELECT 1 FROM prior)
	RETURNING balance, entries
),
entry AS (
	INSERT INTO ledger (id, user_id, seq, kind, amount, balance_after, at, idempotency_key)
	SELECT $5::uuid, $1, entries, 'CHARGE', $3, balance, $6::timestamptz, $2 FROM credit
)
SELECT (SELECT balance FROM wallets WHERE user_id = $1),
       p.id, p.amount, p.balance_after, p.at,
       (SELECT balance FROM credit)
FROM (SELECT) AS one LEFT JOIN prior p ON true`

// Charge adds req.Amount to the wallet and writes its CHARGE entry.
// Errors: NOT_FOUND, INVALID_REQUEST, IDEMPOTENCY_KEY_REUSED.
func (s *WalletStore) Charge(ctx context.Context, req wallet.ChargeRequest) (wallet.Receipt, error) {
	if req.Amount < 1 {
		return wallet.Receipt{}, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "amount must be positive")
	}
	if !boxoffice.ValidID(req.ChargeID) {
		return wallet.Receipt{}, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "malformed charge id")
	}
	var key *string
	if req.IdempotencyKey != "" {
		key = &req.IdempotencyKey
	}
	// The batch is one implicit transaction; the lock is held to its end.
	b := &pgx.Batch{}
	b.Queue(lockWallet, req.UserID)
	b.Queue(chargeSQL, req.UserID, key, int64(req.Amount), int64(req.MaxBalance), req.ChargeID, req.Now)
	var (
		balance, credited         *int64
		priorID                   *string
		priorAmount, priorBalance *int64
		priorAt                   *time.Time
	)
	err := s.db.sendBatch(ctx, b, func(row pgx.Row) error {
		return row.Scan(&balance, &priorID, &priorAmount, &priorBalance, &priorAt, &credited)
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && key != nil {
		return s.replayCharge(ctx, req)
	}
	if err != nil {
		return wallet.Receipt{}, s.db.wrap("charge", err)
	}
	switch {
	case balance == nil:
		return wallet.Receipt{}, userNotFound(req.UserID)
	case priorID != nil:
		if boxoffice.Money(*priorAmount) != req.Amount {
			return wallet.Receipt{}, chargeKeyReused()
		}
		return wallet.Receipt{ChargeID: *priorID, UserID: req.UserID, Amount: req.Amount,
			Balance: boxoffice.Money(*priorBalance), At: priorAt.UTC()}, nil
	case credited == nil:
		return wallet.Receipt{}, boxoffice.Errorf(boxoffice.CodeInvalidRequest,
			"balance would exceed %d", req.MaxBalance)
	}
	return wallet.Receipt{ChargeID: req.ChargeID, UserID: req.UserID, Amount: req.Amount,
		Balance: boxoffice.Money(*credited), At: utc(req.Now)}, nil
}

// replayCharge answers a charge that lost a race on its idempotency key from
// the winner's entry.
func (s *WalletStore) replayCharge(ctx context.Context, req wallet.ChargeRequest) (wallet.Receipt, error) {
	r := wallet.Receipt{UserID: req.UserID}
	var amount boxoffice.Money
	err := s.db.pool.QueryRow(ctx, `
		SELECT id, amount, balance_after, at FROM ledger
		WHERE user_id = $1 AND kind = 'CHARGE' AND idempotency_key = $2`,
		req.UserID, req.IdempotencyKey).Scan(&r.ChargeID, &amount, &r.Balance, &r.At)
	if err != nil {
		return wallet.Receipt{}, s.db.wrap("charge", err)
	}
	if amount != req.Amount {
		return wallet.Receipt{}, chargeKeyReused()
	}
	r.Amount, r.At = amount, r.At.UTC()
	return r, nil
}

// History returns up to limit ledger entries older than before, newest
// first. Errors: NOT_FOUND; INVALID_REQUEST for a cursor that is not one of
// the user's entries.
func (s *WalletStore) History(ctx context.Context, userID, before string, limit int) ([]wallet.Entry, error) {
	var cursor *string
	if before != "" {
		if !boxoffice.ValidID(before) {
			return nil, badCursor()
		}
		cursor = &before
	}
	limit = max(limit, 0)
	b := &pgx.Batch{}
	b.Queue(`SELECT EXISTS (SELECT 1 FROM users WHERE id = $1),
		$2::uuid IS NULL OR EXISTS (SELECT 1 FROM ledger WHERE user_id = $1 AND id = $2)`, userID, cursor)
	b.Queue(`
		SELECT id, kind, amount, balance_after, at FROM ledger
		WHERE user_id = $1
		  AND seq < coalesce((SELECT seq FROM ledger WHERE user_id = $1 AND id = $2), 9223372036854775807)
		ORDER BY seq DESC LIMIT $3`, userID, cursor, limit)
	br := s.db.pool.SendBatch(ctx, b)
	defer br.Close()
	var exists, known bool
	if err := br.QueryRow().Scan(&exists, &known); err != nil {
		return nil, s.db.wrap("read history", err)
	}
	if !exists {
		return nil, userNotFound(userID)
	}
	if !known {
		return nil, badCursor()
	}
	rows, err := br.Query()
	if err != nil {
		return nil, s.db.wrap("read history", err)
	}
	entries, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (wallet.Entry, error) {
		e := wallet.Entry{UserID: userID}
		err := row.Scan(&e.ID, &e.Kind, &e.Amount, &e.BalanceAfter, &e.At)
		e.At = e.At.UTC()
		return e, err
	})
	if err != nil {
		return nil, s.db.wrap("read history", err)
	}
	return entries, nil
}

const uniqueViolation = "23505"

func userNotFound(id string) error {
	return boxoffice.Errorf(boxoffice.CodeNotFound, "user %s not found", id)
}

func badCursor() error {
	return boxoffice.Errorf(boxoffice.CodeInvalidRequest, "unknown cursor")
}

func chargeKeyReused() error {
	return boxoffice.Errorf(boxoffice.CodeIdempotencyKeyReused, "Idempotency-Key was used for a charge of another amount")
}
