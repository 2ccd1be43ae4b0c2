package postgres

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/event"
)

// EventStore is event.Store on PostgreSQL: the outbox every change writes
// its events into, in its own transaction (see writeEventSQL), and the
// numbered events the feed serves.
//
// Numbering runs after commit, in one REPEATABLE READ transaction of the
// relay holding the claim: it takes the outbox rows its snapshot sees, in
// the order of n, and moves them into events with the next positions and
// per-concert seqs. n is drawn from a sequence inside the change's own
// statement once its locks are held, so a change that saw another's effect
// has a larger n; a change still in flight when a batch is numbered commits
// after every change of that batch and is numbered in a later one. The
// positions therefore follow commit order wherever one change could see
// another, and no gap is ever left: events are numbered only once their
// transaction committed, and a rolled-back change leaves no row.
type EventStore struct {
	db *DB
	// spare is the connection of the last Claim that found the lock
	// taken, kept for the next try.
	mu    sync.Mutex
	spare *pgx.Conn

	// numbered counts the outbox rows numbered, and so deleted, since the
	// relay last vacuumed the outbox; it vacuums once vacuumAfter have.
	numbered    atomic.Int64
	vacuumAfter int64
}

var _ event.Store = (*EventStore)(nil)

// NewEventStore returns the event store of db.
func NewEventStore(db *DB) *EventStore { return &EventStore{db: db, vacuumAfter: outboxVacuumAfter} }

// outboxVacuumAfter is how many outbox rows the relay numbers, and
// deletes, between two vacuums of the outbox. The outbox is a queue: rows
// go in at the high end of n and out at the low end, where the relay reads
// them, in n order, through outbox_pkey. Every row it deleted stays there
// as a dead tuple until a vacuum, and each read stepped over all of them
// before its first live row: autovacuum visits a database about once a
// minute, and 40 s into a hold run the outbox held 269,000 dead rows in
// front of 2,300 live ones, which took the read 17 ms to step over; with
// this vacuum a read finds at most about 10,000 (docs/benchmarks.md, "A
// ninth sitting"). The vacuum runs on the claim's connection, after the
// numbering's commit, and skips the table while another vacuum holds it.
const outboxVacuumAfter = 10_000

// Append writes evs into the outbox in one transaction.
func (s *EventStore) Append(ctx context.Context, evs ...event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, e := range evs {
		queueEvent(b, e)
	}
	return s.db.wrapWrite("append events", s.db.pool.SendBatch(ctx, b).Close())
}

// Events returns a page of numbered events. Errors: INVALID_REQUEST,
// UNAVAILABLE.
func (s *EventStore) Events(ctx context.Context, q event.Query) ([]event.Event, error) {
	if q.Limit < 1 || q.Limit > event.MaxLimit {
		return nil, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "limit must be 1..%d", event.MaxLimit)
	}
	pq := pageQuery{after: q.After, limit: q.Limit, typ: string(q.Type)}
	if q.ConcertID != "" {
		key, ok := boxoffice.CanonID(q.ConcertID)
		if !ok {
			return nil, nil // no event is about it
		}
		pq.concert = key
	}
	evs, err := readPages(ctx, s.db.pool, pq)
	if err != nil {
		return nil, s.db.wrap("read events", err)
	}
	return evs, nil
}

// Backlog measures the outbox and the events kept.
func (s *EventStore) Backlog(ctx context.Context) (event.Backlog, error) {
	var b event.Backlog
	var unnumbered, unrelayed *time.Time
	err := s.db.pool.QueryRow(ctx, `
		WITH o AS (SELECT count(*) AS n, min(at) AS oldest FROM outbox)
		SELECT o.n, r.numbered - r.relayed,
		       coalesce(r.numbered - (SELECT min(first_position) FROM event_pages) + 1, 0),
		       o.oldest, least(o.oldest, (
		           SELECT (e->>'at')::timestamptz
		           FROM (SELECT events FROM event_pages WHERE last_position > r.relayed ORDER BY last_position LIMIT 1) AS p,
		                json_array_elements(p.events) AS e
		           WHERE (e->>'position')::int8 = r.relayed + 1))
		FROM event_relay r, o WHERE part = 0`).Scan(&b.Unnumbered, &b.Unrelayed, &b.Kept, &unnumbered, &unrelayed)
	if err != nil {
		return event.Backlog{}, s.db.wrap("measure outbox", err)
	}
	if unnumbered != nil {
		b.OldestUnnumbered = unnumbered.UTC()
	}
	if unrelayed != nil {
		b.OldestUnrelayed = unrelayed.UTC()
	}
	return b, nil
}

// RelayApplicationName names the relay's own connection, the one
// connection of an instance outside its pool, in pg_stat_activity.
const RelayApplicationName = "boxoffice event relay"

// Claim takes the relay's advisory lock, on a connection of its own that
// holds it for as long as it lives. It returns nil when another session
// holds the lock; the connection is then kept for the next try.
func (s *EventStore) Claim(ctx context.Context) (event.Claim, error) {
	s.mu.Lock()
	conn := s.spare
	s.spare = nil
	s.mu.Unlock()
	if conn == nil || conn.IsClosed() {
		cfg := s.db.pool.Config().ConnConfig.Copy()
		cfg.RuntimeParams["application_name"] = RelayApplicationName
		// The outbox is a queue: empty when the relay keeps up, hundreds
		// of thousands of rows moments later when it does not, and its
		// statistics describe neither. A plan cached while it was small
		// scanned all of it, for every row the relay deleted, so every
		// batch took longer than the one before and the relay fell ever
		// further behind. Every statement of the relay has an index or a
		// ctid to go by; a sequential scan is never the plan wanted. Nor
		// is JIT compiling, which the cost of a disabled scan would set off
		// (50–90 ms, for statements of a millisecond).
		cfg.RuntimeParams["enable_seqscan"] = "off"
		cfg.RuntimeParams["jit"] = "off"
		var err error
		if conn, err = pgx.ConnectConfig(ctx, cfg); err != nil {
			return nil, s.db.wrap("claim events", err)
		}
	}
	var got bool
	err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended('boxoffice events ' || coalesce(current_schema(), ''), 0))`).Scan(&got)
	if err != nil {
		conn.Close(context.Background())
		return nil, s.db.wrap("claim events", err)
	}
	if !got {
		s.keep(conn)
		return nil, nil
	}
	return &eventClaim{s: s, db: s.db, conn: conn}, nil
}

// keep keeps conn, which holds no lock, for the next Claim, or closes it.
func (s *EventStore) keep(conn *pgx.Conn) {
	s.mu.Lock()
	if s.spare == nil && !s.db.closed.Load() {
		s.spare, conn = conn, nil
	}
	s.mu.Unlock()
	if conn != nil {
		conn.Close(context.Background())
	}
}

// Close closes the connection kept for claiming.
func (s *EventStore) Close() {
	s.mu.Lock()
	conn := s.spare
	s.spare = nil
	s.mu.Unlock()
	if conn != nil {
		conn.Close(context.Background())
	}
}

// eventClaim is a held claim: every statement runs on the connection that
// holds the lock, so none runs once the lock is lost with its session.
type eventClaim struct {
	s    *EventStore
	db   *DB
	conn *pgx.Conn
}

// Release unlocks before it returns, so that the next Claim, here or on
// another instance, can take the lock at once; a connection that cannot
// unlock is closed, which unlocks as its session ends.
func (c *eventClaim) Release() {
	ctx, cancel := context.WithTimeout(context.Background(), cancelGrace)
	defer cancel()
	if _, err := c.conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`); err != nil {
		c.conn.Close(context.Background())
		return
	}
	c.s.keep(c.conn)
}

// Number numbers up to limit events of the outbox, in one transaction;
// after its commit it vacuums the outbox when outboxVacuumAfter rows have
// been numbered since the last vacuum, and returns the vacuum's failure
// with the count numbered.
func (c *eventClaim) Number(ctx context.Context, limit int) (int, error) {
	var n int
	err := pgx.BeginTxFunc(ctx, c.conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		var err error
		n, err = event.NumberOutbox(ctx, &outbox{tx: tx}, limit)
		return err
	})
	if err != nil {
		return 0, c.db.wrap("number events", err)
	}
	if c.s.numbered.Add(int64(n)) >= c.s.vacuumAfter {
		c.s.numbered.Store(0)
		if _, err := c.conn.Exec(ctx, `VACUUM (SKIP_LOCKED) outbox`); err != nil {
			return n, c.db.wrap("vacuum the outbox", err)
		}
	}
	return n, nil
}

// outbox is the outbox in the numbering's transaction tx; rows are the
// rows of the events read, by ctid: outbox rows are never updated, and
// only the claim's holder deletes them, so a row read keeps its ctid
// until the transaction deletes it (see Write).
type outbox struct {
	tx   pgx.Tx
	rows []pgtype.TID
}

func (o *outbox) Read(ctx context.Context, limit int) (evs []event.Event, err error) {
	evs, o.rows, err = outboxEvents(ctx, o.tx, limit)
	return evs, err
}

func (o *outbox) ReadHeads(ctx context.Context, b *event.Batch) error { return readHeads(ctx, o.tx, b) }

func (o *outbox) CheckSoldOut(ctx context.Context, b *event.Batch) error {
	return checkSoldOut(ctx, o.tx, b)
}

func (o *outbox) Numbered(ctx context.Context) (int64, error) {
	var numbered int64
	err := o.tx.QueryRow(ctx, `SELECT numbered FROM event_relay WHERE part = 0`).Scan(&numbered)
	return numbered, err
}

func (o *outbox) Write(ctx context.Context, out []event.Event, heads []event.Head, last int64) error {
	if err := writePage(ctx, o.tx, out); err != nil {
		return err
	}
	if err := writeHeads(ctx, o.tx, heads); err != nil {
		return err
	}
	if _, err := o.tx.Exec(ctx, `UPDATE event_relay SET numbered = $1 WHERE part = 0`, last); err != nil {
		return err
	}
	// By ctid, a TID scan whatever the table's size or statistics: while
	// the relay runs behind, the outbox holds many rows and more dead
	// ones, and a delete by n planned for a small table (a scan of all of
	// it) took longer with every batch, so the relay fell further behind.
	_, err := o.tx.Exec(ctx, deleteOutboxSQL, o.rows)
	return err
}

// outboxEvents reads up to limit events of the outbox, in order, with
// their rows' ctids. The data of an event written with a ref is made
// here, in Go, from the row it names (outboxRefSQL).
func outboxEvents(ctx context.Context, tx pgx.Tx, limit int) (evs []event.Event, tids []pgtype.TID, err error) {
	rows, err := tx.Query(ctx, outboxRefSQL, limit)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			tid       pgtype.TID
			e         event.Event
			typ       string
			concertID *string
			data      []byte
			ref       outboxRef
		)
		if err := rows.Scan(&tid, &e.ID, &typ, &concertID, &e.At, &data, &ref.reason,
			&ref.resID, &ref.resUser, &ref.day, &ref.numbers, &ref.prices, &ref.amount, &ref.expiresAt,
			&ref.payID, &ref.payUser, &ref.payAmount,
			&ref.ledgerID, &ref.ledgerUser, &ref.ledgerAmount, &ref.balance); err != nil {
			return nil, nil, err
		}
		e.Type = event.Type(typ)
		if concertID != nil {
			e.ConcertID = *concertID
		}
		if e.Data = data; data == nil {
			if e.Data, err = ref.data(e.Type); err != nil {
				return nil, nil, err
			}
		}
		tids, evs = append(tids, tid), append(evs, e)
	}
	return evs, tids, rows.Err()
}

// outboxRefSQL reads up to $1 events of the outbox in order, each with the
// row its ref names, looked up on its own (see userDatesSQL): the
// reservation of a SeatsHeld or HoldReleased, the payment and its
// reservation of a ReservationPaid, the ledger entry of a BalanceCharged.
const outboxRefSQL = `
SELECT o.ctid, o.id, o.type, o.concert_id, o.at, o.data, o.reason,
       r.id::text, r.user_id, to_char(r.day, 'YYYY-MM-DD'), r.seat_numbers, r.seat_prices, r.amount, r.expires_at,
       p.id::text, p.user_id, p.amount,
       l.id::text, l.user_id, l.amount, l.balance_after
FROM (SELECT ctid, * FROM outbox ORDER BY n LIMIT $1) AS o
LEFT JOIN LATERAL (
	SELECT * FROM payments p WHERE o.type = 'ReservationPaid' AND p.id = o.ref OFFSET 0
) AS p ON true
LEFT JOIN LATERAL (
	SELECT * FROM reservations r
	WHERE r.id = CASE WHEN o.type = 'ReservationPaid' THEN p.reservation_id
	                  WHEN o.type IN ('SeatsHeld', 'HoldReleased') THEN o.ref END
	OFFSET 0
) AS r ON true
LEFT JOIN LATERAL (
	SELECT * FROM ledger l WHERE o.type = 'BalanceCharged' AND l.id = o.ref OFFSET 0
) AS l ON true
ORDER BY o.n`

// deleteOutboxSQL deletes the outbox rows numbered, by ctid.
const deleteOutboxSQL = `DELETE FROM outbox WHERE ctid = ANY ($1::tid[])`

// outboxRef is the row an outbox event's ref names, as outboxRefSQL reads
// it; the columns of the rows it does not name are NULL.
type outboxRef struct {
	reason                *string
	resID, resUser, day   *string
	numbers               []int32
	prices                []int64
	amount                *int64
	expiresAt             *time.Time
	payID, payUser        *string
	payAmount             *int64
	ledgerID, ledgerUser  *string
	ledgerAmount, balance *int64
}

// data makes the data of an event of type t from its ref's row: {"v": 1}
// for a type written with a ref that names no row it knows.
func (r *outboxRef) data(t event.Type) (json.RawMessage, error) {
	var d any
	switch {
	case t == event.SeatsHeld && r.resID != nil:
		seats := make([]event.Seat, len(r.numbers))
		for i, n := range r.numbers {
			seats[i] = event.Seat{Number: int(n), Price: r.prices[i]}
		}
		slices.SortFunc(seats, func(a, b event.Seat) int { return a.Number - b.Number })
		d = event.SeatsHeldData{V: event.Version, ReservationID: *r.resID, UserID: *r.resUser, Date: *r.day,
			Seats: seats, Amount: *r.amount, ExpiresAt: r.expiresAt.UTC()}
	case t == event.HoldReleased && r.resID != nil:
		d = event.HoldReleasedData{V: event.Version, ReservationID: *r.resID, UserID: *r.resUser, Date: *r.day,
			Seats: r.seats(), Reason: deref(r.reason)}
	case t == event.ReservationPaid && r.payID != nil && r.resID != nil:
		d = event.ReservationPaidData{V: event.Version, ReservationID: *r.resID, PaymentID: *r.payID,
			UserID: *r.payUser, Date: *r.day, Seats: r.seats(), Amount: *r.payAmount}
	case t == event.BalanceCharged && r.ledgerID != nil:
		d = event.BalanceChargedData{V: event.Version, UserID: *r.ledgerUser, ChargeID: *r.ledgerID,
			Amount: *r.ledgerAmount, Balance: *r.balance}
	default:
		return json.RawMessage(`{"v":1}`), nil
	}
	return json.Marshal(d)
}

// seats are the reservation's seat numbers, as stored.
func (r *outboxRef) seats() []int {
	out := make([]int, len(r.numbers))
	for i, n := range r.numbers {
		out[i] = int(n)
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// readHeads reads into b the heads of its concerts and of those left to
// check for a sale of the last seat.
func readHeads(ctx context.Context, tx pgx.Tx, b *event.Batch) error {
	rows, err := tx.Query(ctx, `SELECT concert_key::text, seq, sold_out, check_sold_out FROM event_heads
		WHERE concert_key = ANY ($1::uuid[]) OR check_sold_out`, b.Keys())
	if err != nil {
		return err
	}
	for rows.Next() {
		var h event.Head
		if err := rows.Scan(&h.Key, &h.Seq, &h.SoldOut, &h.Check); err != nil {
			rows.Close()
			return err
		}
		b.SetHead(h)
	}
	return rows.Err()
}

// checkSoldOut tells b which of its candidate concerts have sold their
// last seat.
func checkSoldOut(ctx context.Context, tx pgx.Tx, b *event.Batch) error {
	if cands := b.SoldOutCandidates(); len(cands) > 0 {
		// The snapshot is the one the outbox was read with: a concert sold
		// out in it had every sale committed, and so numbered by now.
		var sold []string
		var now time.Time
		rows, err := tx.Query(ctx, `
			SELECT coalesce(array_agg(c::text), '{}'), now() FROM unnest($1::uuid[]) AS c
			WHERE EXISTS (SELECT 1 FROM seats WHERE concert_id = c)
			  AND NOT EXISTS (SELECT 1 FROM seats WHERE concert_id = c AND status <> 'SOLD')`, cands)
		if err != nil {
			return err
		}
		_, err = pgx.ForEachRow(rows, []any{&sold, &now}, func() error { return nil })
		if err != nil {
			return err
		}
		b.SoldOut(cands, sold, now.UTC())
	}
	return nil
}

// writeHeads writes the concerts' heads, as Number moved them on.
func writeHeads(ctx context.Context, tx pgx.Tx, heads []event.Head) error {
	var (
		keys          []string
		hseq          []int64
		hsold, hcheck []bool
	)
	for _, h := range heads { // Number moved the seqs on
		keys, hseq = append(keys, h.Key), append(hseq, h.Seq)
		hsold, hcheck = append(hsold, h.SoldOut), append(hcheck, h.Check)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO event_heads (concert_key, seq, sold_out, check_sold_out)
		SELECT * FROM unnest($1::uuid[], $2::int8[], $3::bool[], $4::bool[])
		ON CONFLICT (concert_key) DO UPDATE
		SET seq = excluded.seq, sold_out = excluded.sold_out, check_sold_out = excluded.check_sold_out`,
		keys, hseq, hsold, hcheck); err != nil {
		return err
	}
	return nil
}

// Unrelayed returns numbered events past the relayed mark.
func (c *eventClaim) Unrelayed(ctx context.Context, limit int) ([]event.Event, error) {
	relayed, err := relayedMark(ctx, c.conn)
	if err != nil {
		return nil, c.db.wrap("read unrelayed events", err)
	}
	evs, err := readPages(ctx, c.conn, pageQuery{after: relayed, limit: limit})
	if err != nil {
		return nil, c.db.wrap("read unrelayed events", err)
	}
	return evs, nil
}

// Relayed moves the relayed mark up to position.
func (c *eventClaim) Relayed(ctx context.Context, position int64) error {
	_, err := c.conn.Exec(ctx, `UPDATE event_relay SET relayed = greatest(relayed, $1) WHERE part = 0`, position)
	return c.db.wrap("mark events relayed", err)
}

// relayedMark reads the position of the last event published.
func relayedMark(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int64, error) {
	var mark int64
	err := q.QueryRow(ctx, `SELECT relayed FROM event_relay WHERE part = 0`).Scan(&mark)
	return mark, err
}

// trimBatch bounds the pages one statement of Trim deletes or rewrites.
const trimBatch = 100

// Trim deletes the events older than before (and, when relayed, relayed):
// the pages all of whose events go, then what goes of the pages that hold
// some, whose other events are written back.
func (c *eventClaim) Trim(ctx context.Context, before time.Time, relayed bool) (int, error) {
	total := 0
	for {
		var pages, n int
		err := c.conn.QueryRow(ctx, `
			WITH gone AS (
				DELETE FROM event_pages WHERE first_position IN (
					SELECT first_position FROM event_pages
					WHERE min_at < $1 AND max_at < $1 -- min_at: for its index
					  AND (NOT $2 OR last_position <= (SELECT relayed FROM event_relay WHERE part = 0))
					ORDER BY first_position LIMIT $3)
				RETURNING n)
			SELECT count(*), coalesce(sum(n), 0) FROM gone`,
			utc(before), relayed, trimBatch).Scan(&pages, &n)
		if err != nil {
			return total, c.db.wrap("trim events", err)
		}
		total += n
		if pages < trimBatch {
			break
		}
	}
	n, err := c.trimPartly(ctx, before, relayed)
	if err != nil {
		return total, c.db.wrap("trim events", err)
	}
	return total + n, nil
}

// trimPartly trims the pages that hold events to keep and to delete.
func (c *eventClaim) trimPartly(ctx context.Context, before time.Time, relayed bool) (int, error) {
	total := 0
	err := pgx.BeginTxFunc(ctx, c.conn, pgx.TxOptions{}, func(tx pgx.Tx) error {
		mark, err := relayedMark(ctx, tx)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			SELECT first_position, last_position, events FROM event_pages
			WHERE min_at < $1 AND (NOT $2 OR first_position <= $3)
			ORDER BY first_position LIMIT $4`, utc(before), relayed, mark, trimBatch)
		if err != nil {
			return err
		}
		pages, err := collectPages(rows)
		if err != nil {
			return err
		}
		for _, p := range pages {
			keep := slices.DeleteFunc(slices.Clone(p.evs), func(e pageEvent) bool {
				return e.At.Before(before) && (!relayed || e.Position <= mark)
			})
			switch {
			case len(keep) == len(p.evs):
				continue
			case len(keep) == 0:
				_, err = tx.Exec(ctx, `DELETE FROM event_pages WHERE first_position = $1`, p.first)
			default:
				err = putPage(ctx, tx, p.first, keep)
			}
			if err != nil {
				return err
			}
			total += len(p.evs) - len(keep)
		}
		return nil
	})
	return total, err
}

// newEventID is the id of an event a batch writes: a UUIDv7 made here,
// which costs the batch's statement nothing to make.
func newEventID() string {
	return uuid.Must(uuid.NewV7()).String() // fails only if the system's randomness does
}

// The events of the changes, written by the changes' own statements as one
// more CTE each (so no round trip is added): the same data as the event
// package makes (event.OfSeatsHeld…). Each names the CTE rows it is made
// of.
const (
	insertOutbox = `INSERT INTO outbox (id, type, concert_id, at, data)`

	// eventIDSQL makes a UUIDv7 now, written out in the statement rather
	// than as a SQL function, which would be planned at every call: 48 bits of Unix milliseconds, then random
	// bits with the version 7 and the RFC 9562 variant.
	eventIDSQL = `encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
		PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::int8) FROM 3) FROM 1 FOR 6),
		52, 1), 53, 1), 'hex')::uuid`

	// insertOutboxRef writes an event whose data the relay makes while
	// numbering (outboxEvents), from the row ref and reason.
	insertOutboxRef = `INSERT INTO outbox (id, type, concert_id, at, ref, reason)`

	// seatsHeldEventSQL: holdSQL's, from ok and clock.
	seatsHeldEventSQL = insertOutboxRef + `
	SELECT ` + eventIDSQL + `, 'SeatsHeld', $2, clock.now, $7::uuid, NULL FROM ok, clock`

	// holdReleasedEventSQL: a release by its holder, from the released
	// reservation as live and clock.
	holdReleasedEventSQL = insertOutboxRef + `
	SELECT ` + eventIDSQL + `, 'HoldReleased', live.concert_id, clock.now, live.id, 'CANCELLED'`

	// leftQueueEventSQL: the release of user $2's holds of concert $1
	// when the user leaves the waiting room, from the released
	// reservations as live and clock.
	leftQueueEventSQL = insertOutboxRef + `
	SELECT ` + eventIDSQL + `, 'HoldReleased', $1::uuid, clock.now, live.id, 'LEFT_QUEUE' FROM live, clock`

	// reservationPaidEventSQL: paySQL's, from ok, debit and clock.
	reservationPaidEventSQL = insertOutboxRef + `
	SELECT ` + eventIDSQL + `, 'ReservationPaid', ok.concert_id, clock.now, $5::uuid, NULL FROM ok, debit, clock`

	// lapsedEventSQL: sweepSQL's, from lapsed and clock. A lapse has no
	// transaction of its own: its event is written when the sweeper tidies
	// the hold.
	lapsedEventSQL = insertOutboxRef + `
	SELECT ` + eventIDSQL + `, 'HoldReleased', lapsed.concert_id, clock.now, lapsed.id, 'LAPSED' FROM lapsed, clock`

	// balanceChargedEventSQL: chargeSQL's, from credit.
	balanceChargedEventSQL = insertOutboxRef + `
	SELECT ` + eventIDSQL + `, 'BalanceCharged', NULL, $6::timestamptz, $5::uuid, NULL FROM credit`

	// waitingRoomChangedEventSQL: SetWaitingRoom's, from the updated
	// concert as up.
	waitingRoomChangedEventSQL = insertOutbox + `
	SELECT ` + eventIDSQL + `, 'WaitingRoomChanged', up.id, clock_timestamp(), json_build_object(
		'v', 1, 'version', (up.waiting_room->>'version')::int8, 'waitingRoom', (up.waiting_room - 'version')::json)
	FROM up`

	// lotteryPublishedEventSQL: the journal's record of a draw, from the
	// row written as d: the first record only.
	lotteryPublishedEventSQL = insertOutbox + `
	SELECT ` + eventIDSQL + `, 'LotteryPublished', d.concert_id, d.drawn_at, json_build_object(
		'v', 1, 'drawnAt', event_time(d.drawn_at), 'entries', cardinality(d.users))
	FROM d`
)

// queueEvent adds the writing of e to b, a change's batch.
func queueEvent(b *pgx.Batch, e event.Event) {
	var concertID *string
	if e.ConcertID != "" {
		concertID = &e.ConcertID
	}
	b.Queue(insertOutbox+` VALUES ($1, $2, $3, $4, $5)`, e.ID, string(e.Type), concertID, utc(e.At), []byte(e.Data))
}
