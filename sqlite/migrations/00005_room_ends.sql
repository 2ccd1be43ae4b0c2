-- +goose Up

-- Waiting rooms that can end, and those that have (queue.Archive): the
-- in-process room keeps nothing once it ends, so its final stats, its
-- draw and its admission log are copied here first.
CREATE TABLE queue_room_ends (
    concert_id   TEXT PRIMARY KEY,
    endable_at   INTEGER NOT NULL,
    ended_at     INTEGER,
    waiting      INTEGER NOT NULL DEFAULT 0,
    active       INTEGER NOT NULL DEFAULT 0,
    admitted     INTEGER NOT NULL DEFAULT 0,
    dropped      INTEGER NOT NULL DEFAULT 0,
    abandoned    INTEGER NOT NULL DEFAULT 0,
    rate         REAL NOT NULL DEFAULT 0,
    abandon_rate REAL NOT NULL DEFAULT 0,
    waits        TEXT NOT NULL DEFAULT '[]',
    paused       INTEGER NOT NULL DEFAULT 0,
    sold_out     INTEGER NOT NULL DEFAULT 0,
    drawn        INTEGER NOT NULL DEFAULT 0,
    -- the draw: drawn_at is NULL when none was made; users a JSON array
    drawn_at     INTEGER,
    draw         TEXT
) STRICT;

-- An ended room's admission log, one row per entry.
CREATE TABLE queue_room_log (
    concert_id TEXT NOT NULL,
    n          INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    prequeue   INTEGER NOT NULL,
    user_id    TEXT NOT NULL,
    PRIMARY KEY (concert_id, n)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE queue_room_log;
DROP TABLE queue_room_ends;
