-- +goose Up

-- The waiting rooms' journal (queue.Journal): every ticket a room gave, so
-- that a room lost from Redis is rebuilt as it was. Rows are keyed by
-- (concert, seq), written once by the join that answered the ticket, then
-- marked admitted and ended; a user's latest ticket is their live one.
CREATE TABLE queue_places (
    concert_id  uuid NOT NULL,
    seq         bigint NOT NULL,
    user_id     text NOT NULL,
    key         bigint NOT NULL,
    joined_at   timestamptz NOT NULL,
    admitted_n  bigint,
    admitted_at timestamptz,
    ended       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (concert_id, seq)
);
CREATE INDEX queue_places_live ON queue_places (concert_id, user_id) WHERE NOT ended;
CREATE INDEX queue_places_log ON queue_places (concert_id, admitted_n) WHERE admitted_n IS NOT NULL;

-- A room's draw, as made at its first step from the opening.
CREATE TABLE queue_draws (
    concert_id uuid PRIMARY KEY,
    drawn_at   timestamptz NOT NULL,
    users      text[] NOT NULL
);

-- +goose Down
DROP TABLE queue_draws;
DROP TABLE queue_places;
