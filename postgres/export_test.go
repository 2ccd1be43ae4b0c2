package postgres

import (
	"context"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/boxoffice/boxoffice/event"
)

// RegisterTypes is registerTypes, for the tests of package postgres_test.
var RegisterTypes = registerTypes

// RelayPlans analyzes the outbox, then returns the generic plans, as
// EXPLAIN prints them, of the relay's read of the outbox and its delete,
// made on the connection of claim c.
func RelayPlans(ctx context.Context, c event.Claim) (read, del string, err error) {
	conn := c.(*eventClaim).conn
	if _, err := conn.Exec(ctx, `ANALYZE outbox`); err != nil {
		return "", "", err
	}
	if read, err = genericPlan(ctx, conn, "relay_read", "(int)", outboxRefSQL, "(500)"); err != nil {
		return "", "", err
	}
	del, err = genericPlan(ctx, conn, "relay_delete", "(tid[])", deleteOutboxSQL, "('{}')")
	return read, del, err
}

// SupplyPlan analyzes the seats, then returns the generic plan, as EXPLAIN
// prints it, of the supply report of concertID.
func SupplyPlan(ctx context.Context, db *DB, concertID string) (string, error) {
	id, err := uuid.Parse(concertID) // EXPLAIN takes no parameters: the id is written in
	if err != nil {
		return "", err
	}
	return poolPlan(ctx, db, `ANALYZE seats`, "supply_plan", "(uuid, timestamptz, bool)", supplySQL,
		"('"+id.String()+"', now(), false)")
}

// reservationsSQL makes a reservation of each of the first 3,000 seats,
// numbered i from 1, its user, status and expiry the SQL expressions of i
// given.
func reservationsSQL(user, status, expiresAt string) string {
	return `
		INSERT INTO reservations (id, user_id, concert_id, day, seat_numbers, seat_prices, amount, status, expires_at, created_at)
		SELECT gen_random_uuid(), ` + user + `, concert_id, day, ARRAY[number], ARRAY[price], price, ` + status + `,
		       ` + expiresAt + `, now() - interval '2 minutes'
		FROM (SELECT row_number() OVER () AS i, * FROM seats LIMIT 3000) AS s`
}

// The reservations of UserDatesPlan and HeldSeatsPlan: a third each paid,
// held and expired, among 100 users.
const (
	thirdsUser   = `'user ' || (i % 100)`
	thirdsStatus = `(ARRAY['PAID', 'HELD', 'EXPIRED'])[i % 3 + 1]`
	thirdsExpiry = `now() + CASE i % 3 WHEN 1 THEN interval '1 minute' ELSE interval '-1 minute' END`
)

// holdingSQL makes the reservations of reservationsSQL(user, status,
// expiresAt) and holds the seats of those held.
func holdingSQL(user, status, expiresAt string) string {
	return `
		WITH r AS (` + reservationsSQL(user, status, expiresAt) + ` RETURNING *)
		UPDATE seats s SET status = 'HELD', reservation_id = r.id, user_id = r.user_id, hold_expires_at = r.expires_at
		FROM r WHERE r.status = 'HELD' AND s.concert_id = r.concert_id AND s.day = r.day AND s.number = r.seat_numbers[1]`
}

// UserDatesPlan makes a reservation of each of the first 3,000 seats, a
// third each paid, held and expired, analyzes the reservations and the
// seats, then returns the generic plan, as EXPLAIN prints it, of a hold's
// read of its user's seats and past holds.
func UserDatesPlan(ctx context.Context, db *DB) (string, error) {
	setup := reservationsSQL(thirdsUser, thirdsStatus, thirdsExpiry) + `; ANALYZE reservations, seats`
	return poolPlan(ctx, db, setup, "user_dates_plan", "(text[], uuid[], date[], timestamptz[], int8[])",
		userDatesSQL, "('{u}', '{"+uuid.Nil.String()+"}', '{2026-07-01}', '{NULL}', '{1000000}')")
}

// SweepPlan holds the first 3,000 seats in reservations that have all
// lapsed, analyzes the reservations and the seats, then returns the generic
// plan, as EXPLAIN prints it, of a sweep of store's, made in the
// transaction that sweeps.
func SweepPlan(ctx context.Context, db *DB, store *BookingStore) (plan string, err error) {
	setup := holdingSQL(`'user ' || i`, `'HELD'`, `now() - interval '1 minute'`) + `; ANALYZE reservations, seats`
	if _, err := db.pool.Exec(ctx, setup); err != nil {
		return "", err
	}
	err = store.sweepTx(ctx, func(tx pgx.Tx) error {
		plan, err = genericPlan(ctx, tx.Conn(), "sweep_plan", "(timestamptz, int, bool)", sweepSQL, "(now(), 500, false)")
		return err
	})
	return plan, err
}

// HeldSeatsPlan makes a reservation of each of the first 3,000 seats, a
// third each paid, held and expired, holds the held ones' seats, then
// returns the generic plan, as EXPLAIN prints it, of a payment batch's
// lock of the held seats of 100 reservations, on tables not analyzed.
func HeldSeatsPlan(ctx context.Context, db *DB) (string, error) {
	setup := holdingSQL(thirdsUser, thirdsStatus, thirdsExpiry)
	if _, err := db.pool.Exec(ctx, setup); err != nil {
		return "", err
	}
	var ids string
	err := db.pool.QueryRow(ctx, `SELECT array_agg(id)::text FROM (SELECT id FROM reservations WHERE status = 'HELD' LIMIT 100) AS r`).Scan(&ids)
	if err != nil {
		return "", err
	}
	return poolPlan(ctx, db, `SELECT 1`, "held_seats_plan", "(uuid[])", lockHeldSeats, "('"+ids+"')")
}

// SeatsPlan returns the generic plan, as EXPLAIN prints it, of a hold
// batch's lock of three seats, on tables not analyzed.
func SeatsPlan(ctx context.Context, db *DB) (string, error) {
	var concert, day string
	if err := db.pool.QueryRow(ctx, `SELECT concert_id::text, day::text FROM seats LIMIT 1`).Scan(&concert, &day); err != nil {
		return "", err
	}
	return poolPlan(ctx, db, `SELECT 1`, "seats_plan", "(uuid[], date[], int2[])", lockSeats,
		"('{"+concert+","+concert+","+concert+"}', '{"+day+","+day+","+day+"}', '{3,1,2}')")
}

// WritePlans returns the generic plans, as EXPLAIN prints them, of a hold
// batch's write and a payment batch's write, made in a transaction begun
// as the batches begin theirs.
func WritePlans(ctx context.Context, db *DB) (hold, settle string, err error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return "", "", err
	}
	defer conn.Release()
	b := &pgx.Batch{}
	beginKeyed(b)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return "", "", err
	}
	defer conn.Exec(ctx, `ROLLBACK`)
	empty := func(n int) string { return "(" + strings.Repeat("'{}', ", n-1) + "'{}')" }
	if hold, err = genericPlan(ctx, conn.Conn(), "hold_write", "", holdWriteSQL, empty(25)); err != nil {
		return "", "", err
	}
	settle, err = genericPlan(ctx, conn.Conn(), "settle_write", "", settleWriteSQL, empty(32))
	return hold, settle, err
}

// poolPlan runs setup, then returns the generic plan of query on a
// connection of db's pool.
func poolPlan(ctx context.Context, db *DB, setup, name, params, query, args string) (string, error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, setup); err != nil {
		return "", err
	}
	return genericPlan(ctx, conn.Conn(), name, params, query, args)
}

// genericPlan prepares query as name with the parameter types params and
// returns its generic plan for the arguments args, as EXPLAIN prints it.
func genericPlan(ctx context.Context, conn *pgx.Conn, name, params, query, args string) (string, error) {
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		return "", err
	}
	defer conn.Exec(ctx, `RESET plan_cache_mode`)
	if _, err := conn.Exec(ctx, `PREPARE `+name+params+` AS `+query); err != nil {
		return "", err
	}
	defer conn.Exec(ctx, `DEALLOCATE `+name)
	rows, err := conn.Query(ctx, `EXPLAIN EXECUTE `+name+args)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}

// SetVacuumAfter sets how many outbox rows s numbers between two vacuums
// of the outbox.
func SetVacuumAfter(s *EventStore, n int64) { s.vacuumAfter = n }

// OutboxVacuums returns how many times the outbox of db was vacuumed other
// than by autovacuum, as the statistics read on a fresh snapshot say.
func OutboxVacuums(ctx context.Context, db *DB) (int64, error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_stat_clear_snapshot()`); err != nil {
		return 0, err
	}
	var n int64
	err = conn.QueryRow(ctx, `SELECT vacuum_count FROM pg_stat_user_tables WHERE relid = 'outbox'::regclass`).Scan(&n)
	return n, err
}
