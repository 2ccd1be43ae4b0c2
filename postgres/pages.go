package postgres

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/boxoffice/boxoffice/event"
)

// Numbered events are kept as pages: one row of event_pages per numbering
// transaction, holding its events (a contiguous run of positions) as one
// JSON array, with the types and concerts found in it so that a filtered
// read of the feed skips pages without decoding them. A row per event cost
// the relay a heap row and three index entries per event, on the same
// cores as the sale; a page costs one row and three index entries per
// numbering of up to 5,000 events.

// pageEvent is an event as a page holds it: the feed's JSON with its
// position.
type pageEvent struct {
	Position int64 `json:"position"`
	event.JSON
}

func (p pageEvent) event() event.Event {
	e := p.JSON.Event()
	e.Position, e.At = p.Position, e.At.UTC()
	return e
}

// key is the event's concert key.
func (p pageEvent) key() string { return event.Key(deref(p.ConcertID)) }

// page is a page read: its positions and its events.
type page struct {
	first, last int64
	evs         []pageEvent
}

// collectPages reads rows of first_position, last_position and events.
func collectPages(rows pgx.Rows) ([]page, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (page, error) {
		var p page
		var body []byte
		if err := row.Scan(&p.first, &p.last, &body); err != nil {
			return p, err
		}
		return p, json.Unmarshal(body, &p.evs)
	})
}

// writePage writes out, the events of one numbering in position order, as
// one page.
func writePage(ctx context.Context, tx pgx.Tx, out []event.Event) error {
	if len(out) == 0 {
		return nil
	}
	evs := make([]pageEvent, len(out))
	for i, e := range out {
		evs[i] = pageEvent{Position: e.Position, JSON: e.ToJSON()}
	}
	return putPage(ctx, tx, 0, evs)
}

// putPage writes the page of evs (in position order, at least one); it
// replaces the page that began at position was, when was is not 0.
func putPage(ctx context.Context, tx pgx.Tx, was int64, evs []pageEvent) error {
	var types, concerts []string
	minAt, maxAt := evs[0].At, evs[0].At
	for _, e := range evs {
		if !slices.Contains(types, string(e.Type)) {
			types = append(types, string(e.Type))
		}
		if key := e.key(); !slices.Contains(concerts, key) {
			concerts = append(concerts, key)
		}
		if e.At.Before(minAt) {
			minAt = e.At
		}
		if e.At.After(maxAt) {
			maxAt = e.At
		}
	}
	body := appendPage(make([]byte, 0, 400*len(evs)), evs)
	if was != 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM event_pages WHERE first_position = $1`, was); err != nil {
			return err
		}
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO event_pages (first_position, last_position, n, types, concerts, min_at, max_at, events)
		VALUES ($1, $2, $3, $4, $5::uuid[], $6, $7, $8::json)`,
		evs[0].Position, evs[len(evs)-1].Position, len(evs), types, concerts, utc(minAt), utc(maxAt), string(body))
	return err
}

// appendPage appends to b the JSON array of evs, as json.Marshal writes it
// but without reflection, whose cost was most of the relay's own CPU: the
// fields are fixed, and data is JSON already.
func appendPage(b []byte, evs []pageEvent) []byte {
	b = append(b, '[')
	for i, e := range evs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"position":`...)
		b = strconv.AppendInt(b, e.Position, 10)
		b = append(b, `,"id":`...)
		b = appendJSONString(b, e.ID)
		b = append(b, `,"type":`...)
		b = appendJSONString(b, string(e.Type))
		b = append(b, `,"at":"`...)
		b = e.At.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","concertId":`...)
		if e.ConcertID == nil {
			b = append(b, "null"...)
		} else {
			b = appendJSONString(b, *e.ConcertID)
		}
		b = append(b, `,"seq":`...)
		b = strconv.AppendInt(b, e.Seq, 10)
		b = append(b, `,"data":`...)
		if len(e.Data) == 0 {
			b = append(b, "null"...)
		} else {
			b = append(b, e.Data...)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendJSONString appends s as a JSON string: as it is when it needs no
// escaping (ids and type names do not), else as json.Marshal escapes it.
func appendJSONString(b []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// pageQuery selects what readPages reads.
type pageQuery struct {
	after   int64  // events past this position
	limit   int    // at most this many
	concert string // the events of this concert key only, when set
	typ     string // the events of this type only, when set
}

// pagesAtOnce is how many pages one statement of readPages reads.
const pagesAtOnce = 4

// querier is a pool, a connection or a transaction.
type querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

// readPages reads, with conn, the events pq selects, in position order,
// pagesAtOnce pages at a time.
func readPages(ctx context.Context, conn querier, pq pageQuery) ([]event.Event, error) {
	var concert, typ *string
	if pq.concert != "" {
		concert = &pq.concert
	}
	if pq.typ != "" {
		typ = &pq.typ
	}
	var out []event.Event
	after := pq.after
	for len(out) < pq.limit {
		rows, err := conn.Query(ctx, `
			SELECT first_position, last_position, events FROM event_pages
			WHERE last_position > $1 AND ($2::uuid IS NULL OR $2::uuid = ANY (concerts))
			  AND ($3::text IS NULL OR $3::text = ANY (types))
			ORDER BY last_position LIMIT $4`, after, concert, typ, pagesAtOnce)
		if err != nil {
			return nil, err
		}
		pages, err := collectPages(rows)
		if err != nil {
			return nil, err
		}
		for _, p := range pages {
			for _, e := range p.evs {
				if len(out) < pq.limit && e.Position > pq.after && pq.matches(e) {
					out = append(out, e.event())
				}
			}
			after = p.last
		}
		if len(pages) < pagesAtOnce {
			break
		}
	}
	return out, nil
}

func (pq pageQuery) matches(p pageEvent) bool {
	if pq.typ != "" && string(p.Type) != pq.typ {
		return false
	}
	return pq.concert == "" || p.key() == pq.concert
}
