-- +goose Up

-- Users come from POST /v1/users or an external identity provider, whose
-- subjects need not be UUIDs: user ids are text. Every other id is a UUIDv7.
CREATE TABLE users (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL
);

-- One row per user. Locking it serializes one user's holds, payments and
-- charges, which keeps the per-date seat limit and idempotency exact.
-- entries counts the user's ledger entries: each movement takes the next
-- number under the row lock, so the ledger's order is the order in which
-- movements reached the balance.
CREATE TABLE wallets (
    user_id text PRIMARY KEY REFERENCES users (id),
    balance bigint NOT NULL DEFAULT 0 CHECK (balance >= 0),
    entries bigint NOT NULL DEFAULT 0
);

CREATE TABLE ledger (
    id              uuid PRIMARY KEY,
    user_id         text NOT NULL REFERENCES users (id),
    seq             bigint NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('CHARGE', 'PAYMENT', 'REFUND')),
    amount          bigint NOT NULL CHECK (amount >= 0),
    balance_after   bigint NOT NULL CHECK (balance_after >= 0),
    at              timestamptz NOT NULL,
    idempotency_key text
);
-- History pages walk a user's entries newest first, in the order they moved
-- the balance (ids are made before the wallet lock is taken, so they are not
-- in that order).
CREATE UNIQUE INDEX ledger_user_seq ON ledger (user_id, seq DESC);
-- A charge key is used once per user; payment keys live on payments.
CREATE UNIQUE INDEX ledger_charge_key ON ledger (user_id, idempotency_key)
    WHERE kind = 'CHARGE' AND idempotency_key IS NOT NULL;

CREATE TABLE concerts (
    id                 uuid PRIMARY KEY,
    title              text NOT NULL,
    venue              text NOT NULL,
    sales_open_at      timestamptz NOT NULL,
    hold_seconds       integer NOT NULL CHECK (hold_seconds > 0),
    max_seats_per_user integer NOT NULL CHECK (max_seats_per_user > 0),
    grades             jsonb NOT NULL,
    waiting_room       jsonb NOT NULL,
    created_at         timestamptz NOT NULL
);
CREATE INDEX concerts_sales_open_at ON concerts (sales_open_at, id);

CREATE TABLE concert_dates (
    concert_id uuid NOT NULL REFERENCES concerts (id),
    day        date NOT NULL,
    starts_at  timestamptz NOT NULL,
    PRIMARY KEY (concert_id, day)
);

-- Every seat row is keyed by (concert_id, day) so that the table can be
-- partitioned by concert. The primary key is its only index: seat updates
-- change no indexed column and stay heap-only, helped by the fill factor.
CREATE TABLE seats (
    concert_id      uuid NOT NULL,
    day             date NOT NULL,
    number          smallint NOT NULL CHECK (number BETWEEN 1 AND 50),
    grade           text NOT NULL,
    price           bigint NOT NULL CHECK (price >= 0),
    status          text NOT NULL DEFAULT 'AVAILABLE' CHECK (status IN ('AVAILABLE', 'HELD', 'SOLD')),
    reservation_id  uuid,
    user_id         text,
    hold_expires_at timestamptz,
    PRIMARY KEY (concert_id, day, number),
    FOREIGN KEY (concert_id, day) REFERENCES concert_dates (concert_id, day),
    CHECK (status = 'AVAILABLE' OR (reservation_id IS NOT NULL AND user_id IS NOT NULL)),
    CHECK (status <> 'HELD' OR hold_expires_at IS NOT NULL)
) WITH (fillfactor = 70);

-- Reservations and payments carry no foreign keys: the statement that
-- writes one reads the rows it refers to (the wallet, the locked seats, the
-- locked reservation) in the same transaction, and a foreign key check
-- would make every hold and payment of a sale take a KEY SHARE lock on the
-- one concert or date row that all of its fans share.
CREATE TABLE reservations (
    id           uuid PRIMARY KEY,
    user_id      text NOT NULL,
    concert_id   uuid NOT NULL,
    day          date NOT NULL,
    seat_numbers smallint[] NOT NULL,
    seat_prices  bigint[] NOT NULL,
    amount       bigint NOT NULL CHECK (amount >= 0),
    status       text NOT NULL CHECK (status IN ('HELD', 'PAID', 'EXPIRED', 'CANCELLED')),
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL,
    paid_at      timestamptz,
    CHECK (cardinality(seat_numbers) = cardinality(seat_prices))
);
-- The sweeper's work list: only live holds are in it.
CREATE INDEX reservations_lapsing ON reservations (expires_at) WHERE status = 'HELD';

CREATE TABLE payments (
    id              uuid PRIMARY KEY,
    reservation_id  uuid NOT NULL UNIQUE,
    user_id         text NOT NULL,
    concert_id      uuid NOT NULL,
    amount          bigint NOT NULL CHECK (amount >= 0),
    balance_after   bigint NOT NULL CHECK (balance_after >= 0),
    paid_at         timestamptz NOT NULL,
    idempotency_key text,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX payments_concert ON payments (concert_id) INCLUDE (amount);

CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- +goose Down
DROP TABLE settings;
DROP TABLE payments;
DROP TABLE reservations;
DROP TABLE seats;
DROP TABLE concert_dates;
DROP TABLE concerts;
DROP TABLE ledger;
DROP TABLE wallets;
DROP TABLE users;
