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
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		return "", "", err
	}
	defer conn.Exec(ctx, `RESET plan_cache_mode`)
	plan := func(name, params, query, args string) (string, error) {
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
	if read, err = plan("relay_read", "(int)", outboxRefSQL, "(500)"); err != nil {
		return "", "", err
	}
	del, err = plan("relay_delete", "(tid[])", deleteOutboxSQL, "('{}')")
	return read, del, err
}

// SupplyPlan analyzes the seats, then returns the generic plan, as EXPLAIN
// prints it, of the supply report of concertID.
func SupplyPlan(ctx context.Context, db *DB, concertID string) (string, error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Release()
	for _, q := range []string{`ANALYZE seats`, `SET plan_cache_mode = force_generic_plan`,
		`PREPARE supply_plan (uuid, timestamptz, bool) AS ` + supplySQL} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return "", err
		}
	}
	defer conn.Exec(ctx, `DEALLOCATE supply_plan; RESET plan_cache_mode`)
	id, err := uuid.Parse(concertID) // EXPLAIN takes no parameters: the id is written in
	if err != nil {
		return "", err
	}
	rows, err := conn.Query(ctx, `EXPLAIN EXECUTE supply_plan ('`+id.String()+`', now(), false)`)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}
