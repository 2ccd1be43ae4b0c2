// Package sqlite keeps every Store of Boxoffice in one SQLite file, for a
// single instance that needs no database server: concerts and seats,
// wallets and the ledger, reservations and payments. Its schema migrations
// are embedded and applied by Open.
//
// The file belongs to one DB at a time. SQLite lets one transaction write at
// a time, so every change goes through one connection, in a transaction
// that takes the write lock as it begins (BEGIN IMMEDIATE) and carries the
// whole decision: what it reads cannot change before its writes commit.
// Reads go through a pool of read-only connections that, in WAL mode, run
// beside the writer on the last committed state.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	modsqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/boxoffice/boxoffice"
)

//go:embed migrations/*.sql
var migrations embed.FS

// busyTimeout bounds how long a connection waits for a lock SQLite holds
// for a moment, such as a checkpoint, before it fails with UNAVAILABLE.
const busyTimeout = 5 * time.Second

// DB is one SQLite database file, held by this process until Close. It is
// safe for concurrent use.
type DB struct {
	path   string
	lock   *fileLock
	write  *sql.DB // one connection: every change
	read   *sql.DB // read-only connections
	st     statements
	closed atomic.Bool
	close  sync.Once
}

// Open opens the database file at path, creating it (not its directory)
// when missing, and brings its schema up to date. The file is held until Close: another Open
// of it, in this process or another, fails with an error that wraps
// ErrLocked. Other errors name what failed.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("open database: no file name")
	}
	lock, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	db := &DB{path: path, lock: lock}
	if err := db.open(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return db, nil
}

func (db *DB) open(ctx context.Context) error {
	abs, err := filepath.Abs(db.path)
	if err != nil {
		return err
	}
	// The writer: WAL so that readers never wait for it; synchronous=NORMAL
	// so that a commit appends to the WAL without waiting for the disk (the
	// file stays consistent through a power loss, which may only undo the
	// last commits); foreign keys checked; transactions begin IMMEDIATE.
	w := url.Values{}
	w.Set("_txlock", "immediate")
	w.Set("_busy_timeout", fmt.Sprint(busyTimeout.Milliseconds()))
	w.Set("_journal_mode", "WAL")
	w.Set("_synchronous", "NORMAL")
	w.Set("_foreign_keys", "1")
	db.write, err = sql.Open("sqlite", fileURI(abs, w))
	if err != nil {
		return err
	}
	db.write.SetMaxOpenConns(1)
	db.write.SetMaxIdleConns(1)
	db.write.SetConnMaxLifetime(0)
	db.write.SetConnMaxIdleTime(0)
	if err := db.migrate(ctx); err != nil {
		return err
	}

	r := url.Values{}
	r.Set("mode", "ro")
	r.Set("_busy_timeout", fmt.Sprint(busyTimeout.Milliseconds()))
	db.read, err = sql.Open("sqlite", fileURI(abs, r))
	if err != nil {
		return err
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	db.read.SetMaxOpenConns(readers)
	db.read.SetMaxIdleConns(readers)
	db.read.SetConnMaxLifetime(0)
	db.read.SetConnMaxIdleTime(0)
	if err := db.read.PingContext(ctx); err != nil {
		return err
	}
	return db.st.prepare(ctx, db)
}

// fileURI is the SQLite URI of the file at abs with query q. Escaping the
// path keeps a '?' or '#' in a file name from starting the query.
func fileURI(abs string, q url.Values) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter
	}
	return (&url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}).String()
}

func (db *DB) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// No session locker: the file lock already keeps other processes out.
	p, err := goose.NewProvider(goose.DialectSQLite3, db.write, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Ping checks that the database answers. Errors: UNAVAILABLE.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return db.wrap(ctx, "ping", err)
	}
	return db.wrap(ctx, "ping", db.write.PingContext(ctx))
}

// Close closes every connection and releases the file. Calls made after
// Close fail with UNAVAILABLE.
func (db *DB) Close() {
	db.close.Do(func() {
		db.closed.Store(true)
		db.st.close()
		if db.read != nil {
			db.read.Close()
		}
		// The last connection to close checkpoints the WAL into the file.
		if db.write != nil {
			db.write.Close()
		}
		db.lock.unlock()
	})
}

// Setting returns the value stored under key, storing generate()'s result
// first if there is none. All callers get the same value.
func (db *DB) Setting(ctx context.Context, key string, generate func() (string, error)) (string, error) {
	var v string
	err := db.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", db.wrap(ctx, "read setting", err)
	}
	nv, err := generate()
	if err != nil {
		return "", fmt.Errorf("generate setting %s: %w", key, err)
	}
	err = db.update(ctx, "store setting", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, nv); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	})
	if err != nil {
		return "", err
	}
	return v, nil
}

// update runs fn in one write transaction and commits it when fn returns
// nil. The transaction runs on the only writer connection and begins with
// BEGIN IMMEDIATE, so it holds SQLite's write lock from its first statement
// to its end: nothing fn reads can change before its writes commit, and no
// transaction ever waits to turn a read lock into a write lock.
func (db *DB) update(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return db.wrap(ctx, op, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return db.wrap(ctx, op, err)
	}
	return db.wrap(ctx, op, tx.Commit())
}

// savepoint runs fn, one request of a batch in the write transaction tx,
// inside a savepoint: what fn wrote is kept when it returns nil and undone
// when it returns an error, which savepoint returns as failed, translated
// as update translates it. err is a failure of the savepoint itself, after
// which tx must be rolled back.
func (db *DB) savepoint(ctx context.Context, tx *sql.Tx, op string, fn func() error) (failed, err error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT request"); err != nil {
		return nil, err
	}
	if failed = fn(); failed != nil {
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO request"); err != nil {
			return nil, err
		}
		failed = db.wrap(ctx, op, failed)
	}
	if _, err := tx.ExecContext(ctx, "RELEASE request"); err != nil {
		return nil, err
	}
	return failed, nil
}

// wrap translates the failure of a statement, as the PostgreSQL store's
// wrap does: domain errors and the caller's own cancellation or deadline
// pass through; a closed DB or a file that cannot be used now is
// UNAVAILABLE; anything else (SQLite refused the statement) is wrapped
// with op (an internal error). A change of the embedded file is never
// lost on the way, so there is no OUTCOME_UNKNOWN.
func (db *DB) wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var be *boxoffice.Error
	if errors.As(err, &be) {
		return err
	}
	// A cancelled transaction reports that it is done, not why.
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w (%v)", cerr, err)
	}
	err = fmt.Errorf("%s: %w", op, err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err // the caller gave up: not a failure of the database
	}
	if effectOf(err) == refused && !db.closed.Load() {
		return err
	}
	return boxoffice.Unavailable("database", err)
}

// effect is what a driver error says about a statement's effect.
type effect int

const (
	// refused: SQLite refused the statement itself (a constraint, bad
	// SQL); the transaction was rolled back.
	refused effect = iota
	// unchanged: the file cannot be used now (I/O, full, locked, …) or
	// the connection is gone: nothing changed.
	unchanged
)

// effectOf classifies err, a failure of a statement.
func effectOf(err error) effect {
	var se *modsqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM,
			sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CORRUPT,
			sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_PROTOCOL:
			return unchanged
		}
		return refused
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		return unchanged
	}
	return refused
}

// micros is how the schema keeps an instant. Flooring to the microsecond
// keeps comparisons exact: every stored instant is a whole microsecond, and
// for such an instant s, s <= t exactly when s <= floor(t).
func micros(t time.Time) int64 { return t.UnixMicro() }

// at is the instant micros kept, in UTC.
func at(us int64) time.Time { return time.UnixMicro(us).UTC() }

// utc returns t as the schema keeps it.
func utc(t time.Time) time.Time { return at(micros(t)) }

// canonID returns id in the form the schema keeps UUIDs in, and whether it
// is a UUID at all.
func canonID(id string) (string, bool) { return boxoffice.CanonID(id) }

// statements are prepared once, when the DB opens: the hot paths, and
// what the write transactions run.
type statements struct {
	all []*sql.Stmt

	// On the readers.
	concert, concertDates, dates, seats, reservation, paymentByKey *sql.Stmt

	// On the writer.
	walletExists, walletBalance, holdSeats, userSeats, takeSeats,
	insertReservation, lockedReservation, paymentByKeyW,
	heldSeats, debit, sellSeats, markPaid, insertPayment, insertEntry,
	freeSeats, setStatus, setCancelled, cool *sql.Stmt

	insertOutbox *sql.Stmt // on the writer: every change's event
}

func (s *statements) prepare(ctx context.Context, db *DB) error {
	for _, p := range []struct {
		dst   **sql.Stmt
		on    *sql.DB
		query string
	}{
		{&s.concert, db.read, concertSQL},
		{&s.concertDates, db.read, concertDatesSQL},
		{&s.dates, db.read, datesSQL},
		{&s.seats, db.read, seatsSQL},
		{&s.reservation, db.read, reservationSQL},
		{&s.paymentByKey, db.read, paymentByKeySQL},

		{&s.walletExists, db.write, walletExistsSQL},
		{&s.walletBalance, db.write, walletBalanceSQL},
		{&s.holdSeats, db.write, holdSeatsSQL},
		{&s.userSeats, db.write, userSeatsSQL},
		{&s.takeSeats, db.write, takeSeatsSQL},
		{&s.insertReservation, db.write, insertReservationSQL},
		{&s.lockedReservation, db.write, reservationSQL},
		{&s.paymentByKeyW, db.write, paymentByKeySQL},
		{&s.heldSeats, db.write, heldSeatsSQL},
		{&s.debit, db.write, debitSQL},
		{&s.sellSeats, db.write, sellSeatsSQL},
		{&s.markPaid, db.write, markPaidSQL},
		{&s.insertPayment, db.write, insertPaymentSQL},
		{&s.insertEntry, db.write, insertEntrySQL},
		{&s.freeSeats, db.write, freeSeatsSQL},
		{&s.setStatus, db.write, setStatusSQL},
		{&s.setCancelled, db.write, setCancelledSQL},
		{&s.cool, db.write, coolSQL},
		{&s.insertOutbox, db.write, insertOutboxSQL},
	} {
		st, err := p.on.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", strings.Join(strings.Fields(p.query), " "), err)
		}
		*p.dst = st
		s.all = append(s.all, st)
	}
	return nil
}

func (s *statements) close() {
	for _, st := range s.all {
		st.Close()
	}
}
