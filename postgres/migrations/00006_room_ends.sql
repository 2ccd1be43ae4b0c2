-- +goose Up

-- Waiting rooms that can end, and those that have (queue.Archive). A row
-- is written when a room is first seen able to end (endable_at); the
-- instance that ends it, grace later, holds the row's lock (FOR UPDATE
-- SKIP LOCKED) while it copies the room's final stats here, tops up the
-- journal's queue_admissions and queue_draws with what the journal lacks
-- of the admission log and the draw, and sets ended_at. The admission log
-- and the lottery of an ended room are read from those journal tables.
CREATE TABLE queue_room_ends (
    concert_id   uuid PRIMARY KEY,
    endable_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    waiting      bigint NOT NULL DEFAULT 0,
    active       bigint NOT NULL DEFAULT 0,
    admitted     bigint NOT NULL DEFAULT 0,
    dropped      bigint NOT NULL DEFAULT 0,
    abandoned    bigint NOT NULL DEFAULT 0,
    rate         double precision NOT NULL DEFAULT 0,
    abandon_rate double precision NOT NULL DEFAULT 0,
    waits        bigint[] NOT NULL DEFAULT '{}',
    paused       boolean NOT NULL DEFAULT false,
    sold_out     boolean NOT NULL DEFAULT false,
    drawn        boolean NOT NULL DEFAULT false
);
CREATE INDEX queue_room_ends_due ON queue_room_ends (endable_at) WHERE ended_at IS NULL;

-- +goose Down
DROP TABLE queue_room_ends;
