-- +goose Up

-- The waiting rooms' journal (queue.Journal): what a room lost from Redis
-- is rebuilt from. It is appended to, never updated, one row per gathered
-- batch: a batch of joins (a row of arrays, one entry per place), a batch
-- of places or sessions that ended, an admission step. Loading a room
-- replays its rows; a user's latest ticket is their live one.
CREATE TABLE queue_joins (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    concert_id uuid NOT NULL,
    seqs       bigint[] NOT NULL,
    users      text[] NOT NULL,
    keys       bigint[] NOT NULL,
    joined_at  timestamptz[] NOT NULL
);
CREATE INDEX queue_joins_concert ON queue_joins (concert_id);

CREATE TABLE queue_ends (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    concert_id uuid NOT NULL,
    seqs       bigint[] NOT NULL
);
CREATE INDEX queue_ends_concert ON queue_ends (concert_id);

-- An admission step: seqs admitted at at, numbered first, first + 1, … in
-- the room's admission log.
CREATE TABLE queue_admissions (
    concert_id uuid NOT NULL,
    first      bigint NOT NULL,
    seqs       bigint[] NOT NULL,
    at         timestamptz NOT NULL,
    PRIMARY KEY (concert_id, first)
);

-- A room's draw, as made at its first step from the opening.
CREATE TABLE queue_draws (
    concert_id uuid PRIMARY KEY,
    drawn_at   timestamptz NOT NULL,
    users      text[] NOT NULL
);

-- +goose Down
DROP TABLE queue_draws;
DROP TABLE queue_admissions;
DROP TABLE queue_ends;
DROP TABLE queue_joins;
