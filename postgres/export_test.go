package postgres

import (
	"context"
	"strings"

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
