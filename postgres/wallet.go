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
	return s.db.wrapWrite("create user", err)
}

// EnsureUser stores u with an empty wallet unless a user with u.ID exists.
func (s *WalletStore) EnsureUser(ctx context.Context, u wallet.User) error {
	_, err := s.db.pool.Exec(ctx, `
		WITH u AS (INSERT INTO users (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING)
		INSERT INTO wallets (user_id, balance) VALUES ($1, 0) ON CONFLICT (user_id) DO NOTHING`, u.ID, u.Name, u.CreatedAt)
	return s.db.wrapWrite("ensure user", err)
}

// User returns a user. Errors: NOT_FOUND.
func (s *WalletStore) User(ctx context.Context, id string) (wallet.User, error) {
	u := wallet.User{ID: id}
	err := s.db.pool.QueryRow(ctx, `SELECT name, created_at FROM users WHERE id = $1`, id).Scan(&u.Name, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return wallet.User{}, wallet.UserNotFound(id)
	}
	if err != nil {
		return wallet.User{}, s.db.wrap("read user", err)
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}

// Balance returns a user's balance, 0 for a user without a wallet.
func (s *WalletStore) Balance(ctx context.Context, userID string) (boxoffice.Money, error) {
	var b boxoffice.Money
	err := s.db.pool.QueryRow(ctx, `SELECT balance FROM wallets WHERE user_id = $1`, userID).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.db.wrap("read balance", err)
	}
	return b, nil
}

// chargeSQL runs once the wallet row is locked, so its snapshot sees every
// charge of this user that committed before: the idempotency lookup is
// exact. The credit happens only without an earlier charge or refusal under
// the key and within the cap; the ledger entry only with the credit. A
// charge past the cap with a key is refused, and the refusal kept under
// the key, by the same statement. The cap is checked as amount <= cap -
// balance, which cannot overflow (0 <= balance).
const chargeSQL = `
WITH prior AS MATERIALIZED (
	SELECT id, amount, balance_after, at FROM ledger
	WHERE user_id = $1 AND kind = 'CHARGE' AND idempotency_key = $2
),
failed AS MATERIALIZED (
	SELECT amount, code, message FROM idempotency_failures
	WHERE user_id = $1 AND kind = 'CHARGE' AND idempotency_key = $2
),
fresh AS MATERIALIZED (
	SELECT balance FROM wallets
	WHERE user_id = $1 AND NOT EXISTS (SELECT 1 FROM prior) AND NOT EXISTS (SELECT 1 FROM failed)
),
credit AS (
	UPDATE wallets SET balance = wallets.balance + $3::int8, entries = entries + 1 FROM fresh
	WHERE user_id = $1 AND $3::int8 <= $4::int8 - fresh.balance
	RETURNING wallets.balance, entries
),
entry AS (
	INSERT INTO ledger (id, user_id, seq, kind, amount, balance_after, at, idempotency_key)
	SELECT $5::uuid, $1, entries, 'CHARGE', $3::int8, balance, $6::timestamptz, $2 FROM credit
),
refuse AS (
	INSERT INTO idempotency_failures (user_id, kind, idempotency_key, amount, code, message, at)
	SELECT $1, 'CHARGE', $2, $3::int8, 'INVALID_REQUEST', 'balance would exceed ' || $4::int8, $6::timestamptz
	FROM fresh WHERE $2::text IS NOT NULL AND $3::int8 > $4::int8 - fresh.balance
),
ev AS (` + balanceChargedEventSQL + `)
SELECT (SELECT balance FROM wallets WHERE user_id = $1),
       p.id, p.amount, p.balance_after, p.at,
       (SELECT balance FROM credit),
       f.amount, f.code, f.message
FROM (SELECT) AS one LEFT JOIN prior p ON true LEFT JOIN failed f ON true`

// Charge adds req.Amount to the wallet and writes its CHARGE entry.
// Errors: NOT_FOUND, INVALID_REQUEST, IDEMPOTENCY_KEY_REUSED.
func (s *WalletStore) Charge(ctx context.Context, req wallet.ChargeRequest) (wallet.Receipt, error) {
	if err := req.Check(); err != nil {
		return wallet.Receipt{}, err
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
		failedAmount              *int64
		failedCode, failedMessage *string
	)
	err := s.db.sendBatch(ctx, b, func(row pgx.Row) error {
		return row.Scan(&balance, &priorID, &priorAmount, &priorBalance, &priorAt, &credited,
			&failedAmount, &failedCode, &failedMessage)
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && key != nil {
		return s.replayCharge(ctx, req)
	}
	if err != nil {
		return wallet.Receipt{}, s.db.wrapWrite("charge", err)
	}
	switch {
	case balance == nil:
		return wallet.Receipt{}, wallet.UserNotFound(req.UserID)
	case priorID != nil:
		if boxoffice.Money(*priorAmount) != req.Amount {
			return wallet.Receipt{}, wallet.ChargeKeyReused()
		}
		return wallet.Receipt{ChargeID: *priorID, UserID: req.UserID, Amount: req.Amount,
			Balance: boxoffice.Money(*priorBalance), At: priorAt.UTC()}, nil
	case failedCode != nil:
		if boxoffice.Money(*failedAmount) != req.Amount {
			return wallet.Receipt{}, wallet.ChargeKeyReused()
		}
		return wallet.Receipt{}, &boxoffice.Error{Code: boxoffice.Code(*failedCode), Message: *failedMessage}
	case credited == nil:
		return wallet.Receipt{}, wallet.OverCap(req.MaxBalance)
	}
	return wallet.Receipt{ChargeID: req.ChargeID, UserID: req.UserID, Amount: req.Amount,
		Balance: boxoffice.Money(*credited), At: utc(req.Now)}, nil
}

// replayCharge answers a charge that lost a race on its idempotency key from
// the winner's entry or refusal.
func (s *WalletStore) replayCharge(ctx context.Context, req wallet.ChargeRequest) (wallet.Receipt, error) {
	r := wallet.Receipt{UserID: req.UserID}
	var amount boxoffice.Money
	var code, message *string
	var at *time.Time
	var id *string
	var balance *boxoffice.Money
	err := s.db.pool.QueryRow(ctx, `
		SELECT id, amount, balance_after, at, NULL, NULL FROM ledger
		WHERE user_id = $1 AND kind = 'CHARGE' AND idempotency_key = $2
		UNION ALL
		SELECT NULL, amount, NULL, at, code, message FROM idempotency_failures
		WHERE user_id = $1 AND kind = 'CHARGE' AND idempotency_key = $2
		LIMIT 1`,
		req.UserID, req.IdempotencyKey).Scan(&id, &amount, &balance, &at, &code, &message)
	if err != nil {
		return wallet.Receipt{}, s.db.wrap("charge", err)
	}
	switch {
	case amount != req.Amount:
		return wallet.Receipt{}, wallet.ChargeKeyReused()
	case code != nil:
		return wallet.Receipt{}, &boxoffice.Error{Code: boxoffice.Code(*code), Message: *message}
	}
	r.ChargeID, r.Amount, r.Balance, r.At = *id, amount, *balance, at.UTC()
	return r, nil
}

// History returns up to limit ledger entries older than before, newest
// first; none for an unknown user. Errors: INVALID_REQUEST for a cursor that
// is not one of the user's entries.
func (s *WalletStore) History(ctx context.Context, userID, before string, limit int) ([]wallet.Entry, error) {
	var cursor *string
	if before != "" {
		if !boxoffice.ValidID(before) {
			return nil, wallet.BadCursor()
		}
		cursor = &before
	}
	limit = max(limit, 0)
	b := &pgx.Batch{}
	b.Queue(`SELECT $2::uuid IS NULL OR EXISTS (SELECT 1 FROM ledger WHERE user_id = $1 AND id = $2)`, userID, cursor)
	b.Queue(`
		SELECT id, kind, amount, balance_after, at FROM ledger
		WHERE user_id = $1
		  AND seq < coalesce((SELECT seq FROM ledger WHERE user_id = $1 AND id = $2), 9223372036854775807)
		ORDER BY seq DESC LIMIT $3`, userID, cursor, limit)
	br := s.db.pool.SendBatch(ctx, b)
	defer br.Close()
	var known bool
	if err := br.QueryRow().Scan(&known); err != nil {
		return nil, s.db.wrap("read history", err)
	}
	if !known {
		return nil, wallet.BadCursor()
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
