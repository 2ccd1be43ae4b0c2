package postgres

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// QueueJournal is the queue.Journal in PostgreSQL: the tables
// queue_joins, queue_ends, queue_admissions and queue_draws, appended to and
// never updated. The places of one Joined call are one row, so that the
// journal costs a statement per gathered batch of joins, not per fan.
type QueueJournal struct {
	db *DB
}

var _ queue.Journal = (*QueueJournal)(nil)

// NewQueueJournal returns the journal kept in db.
func NewQueueJournal(db *DB) *QueueJournal { return &QueueJournal{db: db} }

// Joined records places; one already recorded is left as it is.
func (j *QueueJournal) Joined(ctx context.Context, concertID string, ps []queue.Place) error {
	if !boxoffice.ValidID(concertID) {
		return queue.NoRoomError(concertID)
	}
	seqs, keys := make([]int64, len(ps)), make([]int64, len(ps))
	users, at := make([]string, len(ps)), make([]time.Time, len(ps))
	for i, p := range ps {
		seqs[i], keys[i], users[i], at[i] = p.Seq, p.Key, p.UserID, utc(p.JoinedAt)
	}
	_, err := j.db.pool.Exec(ctx, `INSERT INTO queue_joins (concert_id, seqs, users, keys, joined_at) VALUES ($1, $2, $3, $4, $5)`,
		concertID, seqs, users, keys, at)
	return j.db.wrapWrite("journal joins", err)
}

// Admitted records admissions numbered from first; recording one step
// again changes nothing.
func (j *QueueJournal) Admitted(ctx context.Context, concertID string, first int64, seqs []int64, at time.Time) error {
	_, err := j.db.pool.Exec(ctx, `INSERT INTO queue_admissions (concert_id, first, seqs, at) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, concertID, first, seqs, utc(at))
	return j.db.wrapWrite("journal admissions", err)
}

// Ended records ended places and sessions.
func (j *QueueJournal) Ended(ctx context.Context, concertID string, seqs []int64) error {
	if !boxoffice.ValidID(concertID) {
		return nil
	}
	_, err := j.db.pool.Exec(ctx, `INSERT INTO queue_ends (concert_id, seqs) VALUES ($1, $2)`, concertID, seqs)
	return j.db.wrapWrite("journal ended places", err)
}

// Drawn records the room's draw, once.
func (j *QueueJournal) Drawn(ctx context.Context, concertID string, users []string, at time.Time) error {
	_, err := j.db.pool.Exec(ctx, `
		WITH d AS (
			INSERT INTO queue_draws (concert_id, drawn_at, users) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING
			RETURNING concert_id, drawn_at, users
		)
		`+lotteryPublishedEventSQL, concertID, utc(at), users)
	return j.db.wrapWrite("journal draw", err)
}

// Load replays the room's rows, read in one snapshot of the database.
func (j *QueueJournal) Load(ctx context.Context, concertID string) (queue.Snapshot, error) {
	var r replay
	if !boxoffice.ValidID(concertID) {
		return queue.Snapshot{}, nil
	}
	err := pgx.BeginTxFunc(ctx, j.db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		return r.read(ctx, tx, concertID)
	})
	if err != nil {
		return queue.Snapshot{}, j.db.wrap("load waiting room journal", err)
	}
	return r.snapshot(), nil
}

// replay is a room's journal as read, to be turned into a Snapshot.
type replay struct {
	places   map[int64]queue.Place // by seq: every ticket, first record kept
	ended    map[int64]bool
	admitted []admissionRow
	draw     queue.Snapshot // Drawn, DrawnAt and Draw only
}

type admissionRow struct {
	first int64
	seqs  []int64
	at    time.Time
}

func (r *replay) read(ctx context.Context, tx pgx.Tx, concertID string) error {
	r.places, r.ended = make(map[int64]queue.Place), make(map[int64]bool)
	rows, _ := tx.Query(ctx, `SELECT seqs, users, keys, joined_at FROM queue_joins WHERE concert_id = $1 ORDER BY id`, concertID)
	var (
		seqs, keys []int64
		users      []string
		at         []time.Time
	)
	_, err := pgx.ForEachRow(rows, []any{&seqs, &users, &keys, &at}, func() error {
		for i, seq := range seqs {
			if _, ok := r.places[seq]; !ok {
				r.places[seq] = queue.Place{UserID: users[i], Seq: seq, Key: keys[i], JoinedAt: at[i].UTC()}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	rows, _ = tx.Query(ctx, `SELECT seqs FROM queue_ends WHERE concert_id = $1`, concertID)
	if _, err := pgx.ForEachRow(rows, []any{&seqs}, func() error {
		for _, seq := range seqs {
			r.ended[seq] = true
		}
		return nil
	}); err != nil {
		return err
	}
	rows, _ = tx.Query(ctx, `SELECT first, seqs, at FROM queue_admissions WHERE concert_id = $1 ORDER BY first`, concertID)
	r.admitted, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (admissionRow, error) {
		var a admissionRow
		err := row.Scan(&a.first, &a.seqs, &a.at)
		a.at = a.at.UTC()
		return a, err
	})
	if err != nil {
		return err
	}
	err = tx.QueryRow(ctx, `SELECT drawn_at, users FROM queue_draws WHERE concert_id = $1`, concertID).Scan(&r.draw.DrawnAt, &r.draw.Draw)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	r.draw.Drawn, r.draw.DrawnAt = true, r.draw.DrawnAt.UTC()
	if r.draw.Draw == nil {
		r.draw.Draw = []string{}
	}
	return nil
}

// snapshot is what the rows say: each user's latest ticket, if it has not
// ended, marked admitted, with the instant, if an admission step took it;
// the admission log.
func (r *replay) snapshot() queue.Snapshot {
	snap := queue.Snapshot{Drawn: r.draw.Drawn, DrawnAt: r.draw.DrawnAt, Draw: r.draw.Draw}
	admitted := make(map[int64]time.Time)
	for _, a := range r.admitted {
		for i, seq := range a.seqs {
			admitted[seq] = a.at
			p, ok := r.places[seq]
			if !ok {
				continue // never journaled as joined: cannot be
			}
			snap.Log = append(snap.Log, queue.AdmissionRecord{N: a.first + int64(i), UserID: p.UserID, Seq: seq, At: a.at, Prequeue: p.Key < queue.DrawSpan})
		}
	}
	if n := len(snap.Log); n > 0 {
		snap.Admitted = snap.Log[n-1].N
		snap.Log = snap.Log[max(0, n-queue.AdmissionLogLen):]
	}
	latest := make(map[string]queue.Place)
	for seq, p := range r.places {
		snap.Seq = max(snap.Seq, seq)
		if q, ok := latest[p.UserID]; !ok || seq > q.Seq {
			latest[p.UserID] = p
		}
	}
	for _, p := range latest {
		if !r.ended[p.Seq] {
			p.AdmittedAt, p.Admitted = admitted[p.Seq]
			snap.Places = append(snap.Places, p)
		}
	}
	slices.SortFunc(snap.Places, func(a, b queue.Place) int { return cmp.Compare(a.Seq, b.Seq) })
	return snap
}

// Rooms lists the rooms with live places or sessions, but not those that
// have ended (see RoomArchive): each journaled room is replayed, so this
// is for the rare moment a store has lost every room.
func (j *QueueJournal) Rooms(ctx context.Context) ([]string, error) {
	rows, err := j.db.pool.Query(ctx, `SELECT DISTINCT concert_id::text FROM queue_joins
		WHERE concert_id NOT IN (SELECT concert_id FROM queue_room_ends WHERE ended_at IS NOT NULL) ORDER BY 1`)
	if err != nil {
		return nil, j.db.wrap("list journaled waiting rooms", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, j.db.wrap("list journaled waiting rooms", err)
	}
	live := ids[:0]
	for _, id := range ids {
		snap, err := j.Load(ctx, id)
		if err != nil {
			return nil, err
		}
		if len(snap.Places) > 0 {
			live = append(live, id)
		}
	}
	return live, nil
}
