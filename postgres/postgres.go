// Package postgres keeps every Store of Boxoffice in PostgreSQL: concerts and
// seats, wallets and the ledger, reservations and payments. Its schema
// migrations are embedded and applied with Migrate.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/boxoffice/boxoffice"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a pool of connections to one PostgreSQL database (and schema, when
// the URL sets search_path). It is safe for concurrent use.
type DB struct {
	pool   *pgxpool.Pool
	closed atomic.Bool
	// dbClock: decide with the database's clock; see UseDatabaseClock.
	dbClock bool
}

// UseDatabaseClock makes the stores of db take the instants that decide
// something for everyone from the database's own clock, read once the
// statement's locks are held, instead of from the instants their callers
// pass: whether a hold is free, lapsed or live at hold, pay, cancel and
// sweep time, a new hold's expiry (the database's time plus the hold length
// the caller asked for, ExpiresAt − Now), a payment's time, and the instant
// seat maps, dates and inventories are read at. The instants decided come
// back in what the stores return. Every instance of a deployment then
// agrees whatever its own clock says. Call it before the stores are used;
// without it the stores use the caller's instants, which lets tests decide
// at exact instants.
func (db *DB) UseDatabaseClock() { db.dbClock = true }

// Open connects to the database at url, a postgres:// URL or key=value
// string that may carry pool_max_conns and search_path. Errors: UNAVAILABLE
// when the server cannot be reached.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = defaultPoolSize()
	}
	// A connection the server ended while it sat in the pool (a restart)
	// is dropped before anything is sent on it, so that a change is not
	// sent into the void and answered OUTCOME_UNKNOWN.
	cfg.PrepareConn = func(_ context.Context, c *pgx.Conn) (bool, error) {
		return !endedByServer(c.PgConn().Conn()), nil
	}
	// When a request's context ends during a statement, ask the server to
	// cancel it (so a statement stuck on a lock frees its backend and its
	// transaction rolls back), and drop the connection only if the server
	// does not answer that soon.
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: cancelGrace}
	}
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		registerTypes(c.TypeMap())
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db := &DB{pool: pool}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// cancelGrace is how long a statement whose context ended may wait for the
// server to cancel it before its connection is dropped.
const cancelGrace = 500 * time.Millisecond

// defaultPoolSize is the pool size when the URL sets none: holds and
// payments spend most of their time waiting on row locks and commits, so
// more connections than cores keep PostgreSQL busy (measured on 2 cores:
// 4 connections 1,200 holds/s, 16 1,500, 32–48 about 2,000). Size
// pool_max_conns so that instances × pool stays below max_connections.
func defaultPoolSize() int32 {
	return int32(min(64, max(16, 16*runtime.NumCPU())))
}

// Ping checks that the database answers. Errors: UNAVAILABLE.
func (db *DB) Ping(ctx context.Context) error {
	return db.wrap("ping", db.pool.Ping(ctx))
}

// Close closes every connection. Calls made after Close fail with
// UNAVAILABLE.
func (db *DB) Close() {
	db.closed.Store(true)
	db.pool.Close()
}

// Migrate brings the schema up to date. Any number of instances may call it
// at once: they take turns on an advisory lock of the current schema, and
// all but the first find nothing to do.
func (db *DB) Migrate(ctx context.Context) error {
	var schema string
	if err := db.pool.QueryRow(ctx, "SELECT coalesce(current_schema(), '')").Scan(&schema); err != nil {
		return db.wrap("migrate", err)
	}
	h := fnv.New64a()
	io.WriteString(h, "boxoffice migrations "+schema)
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(h.Sum64())),
		lock.WithLockTimeout(1, 600),
	)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sqlDB := stdlib.OpenDBFromPool(db.pool)
	defer sqlDB.Close()
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return db.wrap("migrate", err)
	}
	return nil
}

// Setting returns the value stored under key, storing generate()'s result
// first if there is none. All callers, on any instance, get the same value.
func (db *DB) Setting(ctx context.Context, key string, generate func() (string, error)) (string, error) {
	var v string
	err := db.pool.QueryRow(ctx, "SELECT value FROM settings WHERE key = $1", key).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", db.wrap("read setting", err)
	}
	nv, err := generate()
	if err != nil {
		return "", fmt.Errorf("generate setting %s: %w", key, err)
	}
	// On conflict the no-op update locks and returns the value that won.
	err = db.pool.QueryRow(ctx, `
		INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = settings.value
		RETURNING value`, key, nv).Scan(&v)
	if err != nil {
		return "", db.wrapWrite("store setting", err)
	}
	return v, nil
}

// sendBatch sends b, one implicit transaction whose statements all but the
// last only take locks, and hands the row of the last to scan. It returns
// the first error of the batch, unwrapped, except that a failure to get a
// connection is marked as sent nowhere (see wrapWrite).
func (db *DB) sendBatch(ctx context.Context, b *pgx.Batch, scan func(pgx.Row) error) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return notSent{err}
	}
	defer conn.Release()
	br := conn.SendBatch(ctx, b)
	for range b.Len() - 1 {
		if _, err = br.Exec(); err != nil {
			break
		}
	}
	if err == nil {
		err = scan(br.QueryRow())
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// transact runs one transaction of two round trips on one connection. The
// first sends BEGIN and the statements queue adds, whose results read
// takes in order; the second sends the statements second adds, decided
// from what was read without I/O, and COMMIT.
//
// A failure of the first trip committed nothing: it is returned as it is
// when the server refused a statement, otherwise marked as having changed
// nothing (see uncommitted). A failure of the second trip is returned as
// it is: a statement the server refused committed nothing; a lost answer
// may have come after the commit. On any failure the transaction is
// rolled back, or its connection dropped: no connection goes back to the
// pool inside a transaction.
func (db *DB) transact(ctx context.Context, queue func(*pgx.Batch), read func(pgx.BatchResults) error, second func(*pgx.Batch)) (err error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return notSent{err}
	}
	defer conn.Release()
	defer func() {
		if err != nil {
			rollback(ctx, conn.Conn())
		}
	}()
	b := &pgx.Batch{}
	begun := beginKeyed(b)
	queue(b)
	br := conn.SendBatch(ctx, b)
	for range begun {
		if _, err = br.Exec(); err != nil {
			break
		}
	}
	if err == nil {
		err = read(br)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if failureOf(err) == lost {
			return uncommitted{err}
		}
		return err
	}
	b = &pgx.Batch{}
	second(b)
	b.Queue("COMMIT")
	br = conn.SendBatch(ctx, b)
	for range b.Len() {
		if _, err = br.Exec(); err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// keyedPlansSQL turns off, for the rest of its transaction, the plans that
// a statement reading or writing rows by a few hundred keys never wants:
// hash and merge joins (which read a whole table to join a few keys) and
// bitmap scans (which read a whole index range before the first row). A
// generic plan made while a table was small, or not analyzed since a sale
// grew it, chose them: the batches' writes joined their keys to a
// sequential scan of every seat, wallet and reservation on a new
// database, and the sweep sorted its whole backlog.
const keyedPlansSQL = `SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true),
	set_config('enable_bitmapscan', 'off', true)`

// beginKeyed queues, first in b, the start of a transaction whose plans
// keyedPlansSQL pins, and returns how many statements it queued.
func beginKeyed(b *pgx.Batch) int {
	b.Queue("BEGIN")
	b.Queue(keyedPlansSQL)
	return 2
}

// rollback ends c's transaction, if it is still in one, even once ctx has
// ended; a connection that cannot is dropped when it is released.
func rollback(ctx context.Context, c *pgx.Conn) {
	if c.IsClosed() || c.PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelGrace)
	defer cancel()
	// A connection left in a transaction is dropped when released.
	_, _ = c.Exec(ctx, "ROLLBACK")
}

// uncommitted marks a failure of a transaction whose COMMIT was never
// sent: whatever reached the server, nothing changed.
type uncommitted struct{ err error }

func (e uncommitted) Error() string     { return e.err.Error() }
func (e uncommitted) Unwrap() error     { return e.err }
func (e uncommitted) SafeToRetry() bool { return true }

// notSent marks a failure that happened before anything was sent to the
// server (getting a connection from the pool), in pgconn's own terms.
type notSent struct{ err error }

func (e notSent) Error() string     { return e.err.Error() }
func (e notSent) Unwrap() error     { return e.err }
func (e notSent) SafeToRetry() bool { return true }

// wrap translates the failure of a read, or of a change that reached the
// server and was refused by it: domain errors and the caller's own
// cancellation (context.Canceled) pass through; a server that
// could not be reached, a connection that broke, a deadline that passed or
// a statement the server cancelled is UNAVAILABLE; anything else is
// wrapped with op (an internal error).
func (db *DB) wrap(op string, err error) error {
	return db.translate(op, err, false)
}

// wrapWrite translates the failure of a change. It is wrap, except that a
// change that may have reached the server before the connection broke or
// the deadline passed is OUTCOME_UNKNOWN: only a failure known to have
// happened before anything was sent (no connection, pgconn.SafeToRetry) or
// a statement the server reports as cancelled is UNAVAILABLE, whose
// promise is that nothing changed.
func (db *DB) wrapWrite(op string, err error) error {
	return db.translate(op, err, true)
}

func (db *DB) translate(op string, err error, write bool) error {
	if err == nil {
		return nil
	}
	var be *boxoffice.Error
	if errors.As(err, &be) {
		return err
	}
	err = fmt.Errorf("%s: %w", op, err)
	if errors.Is(err, context.Canceled) {
		return err // the caller gave up: not a failure of the database
	}
	switch f := failureOf(err); {
	case f == refused && !db.closed.Load(): // a closed pool sends nothing
		return err
	case f == lost && write:
		return boxoffice.OutcomeUnknown("database", err)
	}
	return boxoffice.Unavailable("database", err)
}

// failure is what a driver error says about a statement's effect.
type failure int

const (
	// refused: the server answered with an error of the statement itself
	// (a constraint, bad SQL); the transaction was rolled back.
	refused failure = iota
	// unchanged: the statement never reached the server, or the server
	// reports it cancelled and rolled back: nothing changed.
	unchanged
	// lost: the statement may have reached the server, but its answer was
	// lost (connection broken, deadline passed, server shut down under it).
	lost
)

// failureOf classifies err, a failure of a statement.
func failureOf(err error) failure {
	var pgErr *pgconn.PgError
	var connectErr *pgconn.ConnectError
	switch {
	case pgconn.SafeToRetry(err), errors.As(err, &connectErr):
		return unchanged
	case errors.As(err, &pgErr):
		switch {
		case pgErr.Code == "57014", // query canceled (our cancel request, statement_timeout)
			pgErr.Code == "53300", // too many connections
			pgErr.Code == "57P03": // cannot connect now
			return unchanged
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57P01", // admin shutdown
			pgErr.Code == "57P02": // crash shutdown
			return lost
		}
		return refused
	case errors.Is(err, context.DeadlineExceeded) && !pgconn.Timeout(err):
		// The pool's own wait for a connection: pgconn wraps the deadlines
		// it meets on a connection in a timeout error.
		return unchanged
	}
	var netErr net.Error
	if errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) {
		return lost
	}
	return refused
}

// micro is how precisely PostgreSQL keeps a timestamptz.
const micro = time.Microsecond

// utc returns t as PostgreSQL stores it, in UTC.
func utc(t time.Time) time.Time { return t.UTC().Truncate(micro) }
