-- +goose Up

-- Numbered events kept as pages (see postgres/pages.go): one row per
-- numbering transaction, its events a contiguous run of positions held as
-- one JSON array in position order, each {"position", "id", "type", "at",
-- "concertId", "seq", "data"}; n counts them, types and concerts (concert
-- keys, the nil UUID for events of no concert) list what the page holds,
-- each once, so that a filtered read skips the pages without it, and
-- min_at and max_at bound their instants, for trimming. A trim that takes
-- part of a page writes the rest back.
CREATE TABLE event_pages (
    first_position bigint PRIMARY KEY,
    last_position  bigint NOT NULL UNIQUE CHECK (last_position >= first_position),
    n              integer NOT NULL CHECK (n > 0),
    types          text[] NOT NULL,
    concerts       uuid[] NOT NULL,
    min_at         timestamptz NOT NULL,
    max_at         timestamptz NOT NULL,
    events         json NOT NULL
);
-- Trimming looks for the pages with events older than its cutoff.
CREATE INDEX event_pages_min_at ON event_pages (min_at);

-- lz4 where the server was built with it (a page is a few hundred KB of
-- JSON); pglz, the default, elsewhere.
-- +goose StatementBegin
DO $$
BEGIN
    ALTER TABLE event_pages ALTER COLUMN events SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    NULL;
END
$$;
-- +goose StatementEnd

INSERT INTO event_pages (first_position, last_position, n, types, concerts, min_at, max_at, events)
SELECT min(position), max(position), count(*), array_agg(DISTINCT type), array_agg(DISTINCT concert_key),
       min(at), max(at),
       json_agg(json_build_object('position', position, 'id', id, 'type', type, 'at', event_time(at),
                                  'concertId', concert_id, 'seq', seq, 'data', data) ORDER BY position)
FROM events
GROUP BY (position - 1) / 1000;

DROP TABLE events;

-- +goose Down

CREATE TABLE events (
    position    bigint PRIMARY KEY,
    id          uuid NOT NULL,
    type        text NOT NULL,
    concert_id  uuid,
    concert_key uuid NOT NULL GENERATED ALWAYS AS (coalesce(concert_id, '00000000-0000-0000-0000-000000000000')) STORED,
    seq         bigint NOT NULL CHECK (seq > 0),
    at          timestamptz NOT NULL,
    data        json NOT NULL
);
CREATE UNIQUE INDEX events_concert_seq ON events (concert_key, seq);
CREATE INDEX events_concert_position ON events (concert_key, position);

INSERT INTO events (position, id, type, concert_id, seq, at, data)
SELECT (e->>'position')::int8, (e->>'id')::uuid, e->>'type', (e->>'concertId')::uuid, (e->>'seq')::int8,
       (e->>'at')::timestamptz, e->'data'
FROM event_pages, json_array_elements(events) AS e;

DROP TABLE event_pages;
