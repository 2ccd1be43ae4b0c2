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
		return "", db.wrap("store setting", err)
	}
	return v, nil
}

// sendBatch sends b, one implicit transaction whose statements all but the
// last only take locks, and hands the row of the last to scan. It returns
// the first error of the batch, unwrapped.
func (db *DB) sendBatch(ctx context.Context, b *pgx.Batch, scan func(pgx.Row) error) error {
	br := db.pool.SendBatch(ctx, b)
	var err error
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

// wrap translates a driver error: context errors stay themselves, failures
// to reach the server become UNAVAILABLE, domain errors pass through, and
// anything else is wrapped with op.
func (db *DB) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var be *boxoffice.Error
	if errors.As(err, &be) {
		return err
	}
	err = fmt.Errorf("%s: %w", op, err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if db.closed.Load() || unreachable(err) {
		return boxoffice.Unavailable("database", err)
	}
	return err
}

// unreachable reports whether err means the server could not be reached or
// the connection broke, as opposed to the server refusing a statement.
func unreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "53300", // too many connections
			pgErr.Code == "57P01", // admin shutdown
			pgErr.Code == "57P02", // crash shutdown
			pgErr.Code == "57P03": // cannot connect now
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) ||
		pgconn.SafeToRetry(err) ||
		pgconn.Timeout(err) ||
		errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET)
}

// micro is how precisely PostgreSQL keeps a timestamptz.
const micro = time.Microsecond

// utc returns t as PostgreSQL stores it, in UTC.
func utc(t time.Time) time.Time { return t.UTC().Truncate(micro) }
