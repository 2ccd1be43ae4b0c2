-- +goose Up

-- The transactional outbox (event.Store). A change writes its event into
-- outbox in its own transaction; n, taken from a sequence once the change's
-- locks are held, orders the events of the transactions that committed
-- before a given snapshot in the order they happened. After commit the
-- relay moves them into events, giving each its feed position and its seq
-- within its concert; no row is shared by the changes, so holds and
-- payments of one concert never wait on one another for their events.
CREATE TABLE outbox (
    n          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         uuid NOT NULL,
    type       text NOT NULL,
    concert_id uuid,
    at         timestamptz NOT NULL,
    -- The data, or NULL when the relay makes it while numbering from ref,
    -- the immutable row the change wrote (reservation, payment, ledger
    -- entry), and reason: the hot changes write no JSON.
    data       json,
    ref        uuid,
    reason     text,
    CHECK (data IS NOT NULL OR ref IS NOT NULL)
);

-- Numbered events, what the feed serves, kept for BOXOFFICE_EVENTS_KEEP.
-- concert_key is the concert, or the nil UUID for events of no concert.
CREATE TABLE events (
    position    bigint PRIMARY KEY,
    id          uuid NOT NULL UNIQUE,
    type        text NOT NULL,
    concert_id  uuid,
    concert_key uuid NOT NULL GENERATED ALWAYS AS (coalesce(concert_id, '00000000-0000-0000-0000-000000000000')) STORED,
    seq         bigint NOT NULL CHECK (seq > 0),
    at          timestamptz NOT NULL,
    data        json NOT NULL
);
CREATE UNIQUE INDEX events_concert_seq ON events (concert_key, seq);
CREATE INDEX events_concert_position ON events (concert_key, position);

-- The last seq given in each concert (the nil UUID: events of no
-- concert), and whether its SoldOut event was written. Written by the relay
-- alone. check_sold_out: a sale was numbered in a truncated batch, so
-- whether it sold the last seat is still to be seen.
CREATE TABLE event_heads (
    concert_key    uuid PRIMARY KEY,
    seq            bigint NOT NULL,
    sold_out       boolean NOT NULL DEFAULT false,
    check_sold_out boolean NOT NULL DEFAULT false
);

-- The last position numbered and the last relayed to the stream.
CREATE TABLE event_relay (
    part     integer PRIMARY KEY,
    numbered bigint NOT NULL,
    relayed  bigint NOT NULL
);
INSERT INTO event_relay (part, numbered, relayed) VALUES (0, 0, 0);

-- An instant as event data carries it: RFC 3339 in UTC, with as many
-- fractional digits as it needs (Go's time.RFC3339Nano).
-- +goose StatementBegin
CREATE FUNCTION event_time(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT rtrim(rtrim(to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0'), '.') || 'Z'
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION event_time(timestamptz);
DROP TABLE event_relay;
DROP TABLE event_heads;
DROP TABLE events;
DROP TABLE outbox;
