package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	modsqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/wallet"
)

func newTestDB(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "boxoffice.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(db.Close)
	return db, path
}

func sqliteCode(err error) int {
	var se *modsqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return -1
}

// TestConnections checks how the DB sets up its connections.
func TestConnections(t *testing.T) {
	ctx := context.Background()
	db, path := newTestDB(t)

	t.Run("WriterSettings", func(t *testing.T) {
		for _, tc := range []struct{ pragma, want string }{
			{"journal_mode", "wal"},
			{"synchronous", "1"}, // NORMAL
			{"foreign_keys", "1"},
			{"busy_timeout", "5000"},
		} {
			var got string
			if err := db.write.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
			}
			if got != tc.want {
				t.Errorf("PRAGMA %s: got %s, want %s", tc.pragma, got, tc.want)
			}
		}
		if n := db.write.Stats().MaxOpenConnections; n != 1 {
			t.Errorf("writer connections: got at most %d, want 1", n)
		}
	})

	t.Run("ReadersAreReadOnly", func(t *testing.T) {
		_, err := db.read.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('k', 'v')`)
		if sqliteCode(err) != sqlite3.SQLITE_READONLY {
			t.Errorf("write through a reader: got %v, want SQLITE_READONLY", err)
		}
	})

	// A write transaction holds the write lock from BEGIN on, before its
	// first statement: another connection cannot begin writing.
	t.Run("WritesBeginImmediate", func(t *testing.T) {
		abs, _ := filepath.Abs(path)
		other, err := sql.Open("sqlite", fileURI(abs, url.Values{"_busy_timeout": {"0"}}))
		if err != nil {
			t.Fatalf("open another connection: %v", err)
		}
		defer other.Close()
		other.SetMaxOpenConns(1)
		tx, err := db.write.BeginTx(ctx, nil)
		if err != nil {
			t.Fatalf("BeginTx: %v", err)
		}
		_, err = other.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('other', 'v')`)
		if sqliteCode(err) != sqlite3.SQLITE_BUSY {
			t.Errorf("write beside an open write transaction: got %v, want SQLITE_BUSY", err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatalf("Rollback: %v", err)
		}
		if _, err := other.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('other', 'v')`); err != nil {
			t.Errorf("write once the transaction ended: got %v, want none", err)
		}
	})

	// Readers run beside an open write transaction and see the last commit.
	t.Run("ReadsBesideAWrite", func(t *testing.T) {
		tx, err := db.write.BeginTx(ctx, nil)
		if err != nil {
			t.Fatalf("BeginTx: %v", err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('pending', 'v')`); err != nil {
			t.Fatalf("insert: %v", err)
		}
		var n int
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM settings WHERE key = 'pending'`).Scan(&n); err != nil {
			t.Fatalf("read beside the write: got %v, want none", err)
		}
		if n != 0 {
			t.Errorf("read beside the write: got %d uncommitted rows, want 0", n)
		}
		if err := tx.Commit(); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM settings WHERE key = 'pending'`).Scan(&n); err != nil || n != 1 {
			t.Errorf("read after the commit: got %d rows, %v, want 1", n, err)
		}
	})
}

func TestMicros(t *testing.T) {
	// Year 9999 is the last a concert may carry; nanoseconds since the
	// epoch end in 2262.
	for _, tc := range []struct {
		name string
		in   string
	}{
		{"Epoch", "1970-01-01T00:00:00Z"},
		{"Now", "2026-06-01T03:00:00.123456Z"},
		{"LastYear", "9999-12-31T23:59:59.999999Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := time.Parse(time.RFC3339Nano, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := at(micros(in)); !got.Equal(in) {
				t.Errorf("at(micros(%v)): got %v, want %v", in, got, in)
			}
		})
	}
}

// TestMicrosFloor checks that an instant between two stored ones compares
// as it should with both: stored <= t exactly when stored <= micros(t).
func TestMicrosFloor(t *testing.T) {
	stored := time.Date(2026, 6, 1, 3, 5, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		t       time.Time
		reached bool
	}{
		{"NanosecondBefore", stored.Add(-time.Nanosecond), false},
		{"AtTheInstant", stored, true},
		{"NanosecondAfter", stored.Add(time.Nanosecond), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := micros(stored) <= micros(tc.t); got != tc.reached {
				t.Errorf("micros(stored) <= micros(%v): got %v, want %v", tc.t, got, tc.reached)
			}
		})
	}
}

// TestWaitingWriteCancelled checks that a change waiting for the writer
// gives up when its context ends, and that the writer serves the next one.
func TestWaitingWriteCancelled(t *testing.T) {
	db, _ := newTestDB(t)
	ws := NewWalletStore(db)
	tx, err := db.write.BeginTx(context.Background(), nil) // takes the only writer connection
	if err != nil {
		t.Fatalf("BeginTx: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- ws.CreateUser(ctx, wallet.User{ID: "fan-1", Name: "Kim", CreatedAt: time.Unix(0, 0)})
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("CreateUser cancelled while waiting: got %v, want context.Canceled", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	if err := ws.CreateUser(context.Background(), wallet.User{ID: "fan-2", Name: "Lee", CreatedAt: time.Unix(0, 0)}); err != nil {
		t.Errorf("CreateUser after a cancelled wait: got %v, want none", err)
	}
	if _, err := ws.User(context.Background(), "fan-1"); !errors.Is(err, boxoffice.ErrNotFound) {
		t.Errorf("User of the cancelled CreateUser: got %v, want %s", err, boxoffice.CodeNotFound)
	}
}
