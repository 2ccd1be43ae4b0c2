-- +goose Up

-- The transactional outbox (event.Store). A change writes its event into
-- outbox in its own write transaction; SQLite has one writer, so the rowid
-- order of the rows is the order the changes committed in. The relay moves
-- them into events after commit, giving each its feed position and its seq
-- within its concert.
CREATE TABLE outbox (
    n          INTEGER PRIMARY KEY,
    id         TEXT NOT NULL,
    type       TEXT NOT NULL,
    concert_id TEXT,
    at         INTEGER NOT NULL,
    data       TEXT NOT NULL
) STRICT;

-- Numbered events, what the feed serves, kept for BOXOFFICE_EVENTS_KEEP.
-- concert_key is the concert, or the nil UUID for events of no concert.
CREATE TABLE events (
    position    INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    concert_id  TEXT,
    concert_key TEXT NOT NULL,
    seq         INTEGER NOT NULL CHECK (seq > 0),
    at          INTEGER NOT NULL,
    data        TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX events_concert_seq ON events (concert_key, seq);
CREATE INDEX events_concert_position ON events (concert_key, position);

-- The last seq given in each concert, and whether its SoldOut was written.
CREATE TABLE event_heads (
    concert_key    TEXT PRIMARY KEY,
    seq            INTEGER NOT NULL,
    sold_out       INTEGER NOT NULL DEFAULT 0,
    check_sold_out INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

-- The last position numbered and the last relayed to the stream.
CREATE TABLE event_relay (
    part     INTEGER PRIMARY KEY,
    numbered INTEGER NOT NULL,
    relayed  INTEGER NOT NULL
) STRICT;
INSERT INTO event_relay (part, numbered, relayed) VALUES (0, 0, 0);

-- +goose Down
DROP TABLE event_relay;
DROP TABLE event_heads;
DROP TABLE events;
DROP TABLE outbox;
