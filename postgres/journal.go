package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/batch"
	"github.com/boxoffice/boxoffice/queue"
)

// QueueJournal is the queue.Journal in PostgreSQL: the queue_places and
// queue_draws tables. Places joined at once into one room are written by
// one statement.
type QueueJournal struct {
	db    *DB
	joins *batch.Group[string, queue.Place, struct{}]
}

var _ queue.Journal = (*QueueJournal)(nil)

// NewQueueJournal returns the journal kept in db.
func NewQueueJournal(db *DB) *QueueJournal {
	j := &QueueJournal{db: db}
	j.joins = batch.New(512, 10*time.Second, j.writeJoins)
	return j
}

// Joined records a place; one already recorded is left as it is.
func (j *QueueJournal) Joined(ctx context.Context, concertID string, p queue.Place) error {
	if !boxoffice.ValidID(concertID) {
		return queue.NoRoomError(concertID)
	}
	_, err := j.joins.Do(ctx, concertID, p)
	return err
}

func (j *QueueJournal) writeJoins(ctx context.Context, concertID string, ps []queue.Place) ([]struct{}, error) {
	seqs, keys := make([]int64, len(ps)), make([]int64, len(ps))
	users, at := make([]string, len(ps)), make([]time.Time, len(ps))
	for i, p := range ps {
		seqs[i], keys[i], users[i], at[i] = p.Seq, p.Key, p.UserID, utc(p.JoinedAt)
	}
	// A user's newer ticket ends their older ones, so that each user has at
	// most one live row.
	_, err := j.db.pool.Exec(ctx, `
		WITH joined AS (
			INSERT INTO queue_places (concert_id, seq, user_id, key, joined_at)
			SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::timestamptz[])
			ON CONFLICT DO NOTHING
			RETURNING user_id, seq)
		UPDATE queue_places q SET ended = true FROM joined
		WHERE q.concert_id = $1 AND q.user_id = joined.user_id AND q.seq < joined.seq AND NOT q.ended`,
		concertID, seqs, users, keys, at)
	if err != nil {
		return nil, j.db.wrapWrite("journal joins", err)
	}
	return make([]struct{}, len(ps)), nil
}

// Admitted records admissions numbered from first.
func (j *QueueJournal) Admitted(ctx context.Context, concertID string, first int64, seqs []int64, at time.Time) error {
	_, err := j.db.pool.Exec(ctx, `
		UPDATE queue_places q SET admitted_n = $3 + u.i - 1, admitted_at = $4
		FROM unnest($2::bigint[]) WITH ORDINALITY AS u (seq, i)
		WHERE q.concert_id = $1 AND q.seq = u.seq`, concertID, seqs, first, utc(at))
	return j.db.wrapWrite("journal admissions", err)
}

// Ended records ended places and sessions.
func (j *QueueJournal) Ended(ctx context.Context, concertID string, seqs []int64) error {
	if !boxoffice.ValidID(concertID) {
		return nil
	}
	_, err := j.db.pool.Exec(ctx, `
		UPDATE queue_places SET ended = true
		WHERE concert_id = $1 AND seq = ANY($2::bigint[]) AND NOT ended`, concertID, seqs)
	return j.db.wrapWrite("journal ended places", err)
}

// Drawn records the room's draw, once.
func (j *QueueJournal) Drawn(ctx context.Context, concertID string, users []string, at time.Time) error {
	_, err := j.db.pool.Exec(ctx, `
		INSERT INTO queue_draws (concert_id, drawn_at, users) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, concertID, utc(at), users)
	return j.db.wrapWrite("journal draw", err)
}

// Load reads the room's record in one snapshot of the database.
func (j *QueueJournal) Load(ctx context.Context, concertID string) (queue.Snapshot, error) {
	var snap queue.Snapshot
	if !boxoffice.ValidID(concertID) {
		return snap, nil
	}
	err := pgx.BeginTxFunc(ctx, j.db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM queue_places WHERE concert_id = $1`, concertID).Scan(&snap.Seq); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			SELECT user_id, seq, key, joined_at, admitted_n IS NOT NULL FROM queue_places
			WHERE concert_id = $1 AND NOT ended`, concertID)
		if err != nil {
			return err
		}
		snap.Places, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (queue.Place, error) {
			var p queue.Place
			err := r.Scan(&p.UserID, &p.Seq, &p.Key, &p.JoinedAt, &p.Admitted)
			return p, err
		})
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `
			SELECT admitted_n, user_id, seq, admitted_at, key < $2 FROM queue_places
			WHERE concert_id = $1 AND admitted_n IS NOT NULL
			ORDER BY admitted_n DESC LIMIT $3`, concertID, int64(queue.DrawSpan), queue.AdmissionLogLen)
		if err != nil {
			return err
		}
		snap.Log, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (queue.AdmissionRecord, error) {
			var a queue.AdmissionRecord
			err := r.Scan(&a.N, &a.UserID, &a.Seq, &a.At, &a.Prequeue)
			a.At = a.At.UTC()
			return a, err
		})
		if err != nil {
			return err
		}
		slices.Reverse(snap.Log)
		if n := len(snap.Log); n > 0 {
			snap.Admitted = snap.Log[n-1].N
		}
		err = tx.QueryRow(ctx, `SELECT drawn_at, users FROM queue_draws WHERE concert_id = $1`, concertID).Scan(&snap.DrawnAt, &snap.Draw)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return nil
		case err != nil:
			return err
		}
		snap.Drawn, snap.DrawnAt = true, snap.DrawnAt.UTC()
		if snap.Draw == nil {
			snap.Draw = []string{}
		}
		return nil
	})
	if err != nil {
		return queue.Snapshot{}, j.db.wrap("load waiting room journal", err)
	}
	for i := range snap.Places {
		snap.Places[i].JoinedAt = snap.Places[i].JoinedAt.UTC()
	}
	return snap, nil
}

// Rooms lists the rooms with live places or sessions.
func (j *QueueJournal) Rooms(ctx context.Context) ([]string, error) {
	rows, err := j.db.pool.Query(ctx, `SELECT DISTINCT concert_id::text FROM queue_places WHERE NOT ended ORDER BY 1`)
	if err != nil {
		return nil, j.db.wrap("list journaled waiting rooms", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, j.db.wrap("list journaled waiting rooms", err)
	}
	return ids, nil
}
