-- +goose Up

-- When a hold was released (cancelled, or its holder left the waiting
-- room); NULL otherwise. A hold that lapsed ended at expires_at. A user may
-- not hold a seat again within the hold time after their own hold of it
-- ended (the cooldown).
ALTER TABLE reservations ADD COLUMN ended_at timestamptz;

-- A user's reservations, by concert and date. The cooldown check of a
-- hold reads the user's holds of the date that are live or ended within
-- the hold time (ended_at is never after expires_at, so the range on
-- expires_at bounds the read); leaving the waiting room finds the user's
-- live holds of the concert; the user's list of reservations reads the
-- user's range and sorts it. Every one of these names the user, and the
-- first two the concert (and date) as every hot statement does; one index
-- serves them all, so a hold writes one index entry more, not two.
CREATE INDEX reservations_user ON reservations (user_id, concert_id, day, expires_at);

-- A hold asked with an Idempotency-Key: what was asked (concert, date,
-- sorted seats) and the answer, the reservation made or the refusal the
-- data decided (SEAT_UNAVAILABLE, SEAT_LIMIT_EXCEEDED). Written by the
-- statement that decided, under the user's wallet lock; the primary key is
-- the last line against a second answer.
CREATE TABLE hold_keys (
    user_id         text NOT NULL,
    idempotency_key text NOT NULL,
    concert_id      uuid NOT NULL,
    day             date NOT NULL,
    seat_numbers    smallint[] NOT NULL,
    reservation_id  uuid,
    code            text,
    message         text,
    at              timestamptz NOT NULL,
    PRIMARY KEY (user_id, idempotency_key),
    CHECK ((reservation_id IS NULL) <> (code IS NULL)),
    CHECK ((code IS NULL) = (message IS NULL))
);

-- +goose Down
DROP TABLE hold_keys;
DROP INDEX reservations_user;
ALTER TABLE reservations DROP COLUMN ended_at;
