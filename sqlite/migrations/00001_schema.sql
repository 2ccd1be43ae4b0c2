-- +goose Up

-- Instants are INTEGER microseconds since the Unix epoch, UTC: they compare
-- exactly, cover every year a concert may carry (1970-9999), and keep the
-- precision of the PostgreSQL store, so both stores return the same values.
-- Days are text in the layout YYYY-MM-DD.
--
-- Users come from POST /v1/users or an external identity provider, whose
-- subjects need not be UUIDs: user ids are text as given. Every other id is
-- a UUIDv7 in canonical lowercase text, whose text order is its time order.

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- entries counts the user's ledger entries: each movement takes the next
-- number in the transaction that moves the balance, so the ledger's order
-- is the order in which movements reached the balance.
CREATE TABLE wallets (
    user_id TEXT PRIMARY KEY REFERENCES users (id),
    balance INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),
    entries INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE TABLE ledger (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    seq             INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('CHARGE', 'PAYMENT', 'REFUND')),
    amount          INTEGER NOT NULL CHECK (amount >= 0),
    balance_after   INTEGER NOT NULL CHECK (balance_after >= 0),
    at              INTEGER NOT NULL,
    idempotency_key TEXT
) STRICT;
-- History pages walk a user's entries newest first, in the order they moved
-- the balance (ids are made before the transaction, so they are not in that
-- order).
CREATE UNIQUE INDEX ledger_user_seq ON ledger (user_id, seq DESC);
-- A charge key is used once per user; payment keys live on payments.
CREATE UNIQUE INDEX ledger_charge_key ON ledger (user_id, idempotency_key)
    WHERE kind = 'CHARGE' AND idempotency_key IS NOT NULL;

CREATE TABLE concerts (
    id                 TEXT PRIMARY KEY,
    title              TEXT NOT NULL,
    venue              TEXT NOT NULL,
    sales_open_at      INTEGER NOT NULL,
    hold_seconds       INTEGER NOT NULL CHECK (hold_seconds > 0),
    max_seats_per_user INTEGER NOT NULL CHECK (max_seats_per_user > 0),
    grades             TEXT NOT NULL CHECK (json_valid(grades)),
    waiting_room       TEXT NOT NULL CHECK (json_valid(waiting_room)),
    created_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX concerts_sales_open_at ON concerts (sales_open_at, id);

CREATE TABLE concert_dates (
    concert_id TEXT NOT NULL REFERENCES concerts (id),
    day        TEXT NOT NULL,
    starts_at  INTEGER NOT NULL,
    PRIMARY KEY (concert_id, day)
) STRICT, WITHOUT ROWID;

-- The seats of one date are neighbours in the primary key, the table's only
-- index: a seat map is one range read, and every change to seats names
-- (concert_id, day) and the seat numbers.
CREATE TABLE seats (
    concert_id      TEXT NOT NULL,
    day             TEXT NOT NULL,
    number          INTEGER NOT NULL CHECK (number BETWEEN 1 AND 50),
    grade           TEXT NOT NULL,
    price           INTEGER NOT NULL CHECK (price >= 0),
    status          TEXT NOT NULL DEFAULT 'AVAILABLE' CHECK (status IN ('AVAILABLE', 'HELD', 'SOLD')),
    reservation_id  TEXT,
    user_id         TEXT,
    hold_expires_at INTEGER,
    PRIMARY KEY (concert_id, day, number),
    FOREIGN KEY (concert_id, day) REFERENCES concert_dates (concert_id, day),
    CHECK (status = 'AVAILABLE' OR (reservation_id IS NOT NULL AND user_id IS NOT NULL)),
    CHECK (status <> 'HELD' OR hold_expires_at IS NOT NULL)
) STRICT, WITHOUT ROWID;

-- seat_numbers and seat_prices are JSON arrays of integers, by seat number.
CREATE TABLE reservations (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    concert_id   TEXT NOT NULL,
    day          TEXT NOT NULL,
    seat_numbers TEXT NOT NULL,
    seat_prices  TEXT NOT NULL,
    amount       INTEGER NOT NULL CHECK (amount >= 0),
    status       TEXT NOT NULL CHECK (status IN ('HELD', 'PAID', 'EXPIRED', 'CANCELLED')),
    expires_at   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    paid_at      INTEGER,
    FOREIGN KEY (concert_id, day) REFERENCES concert_dates (concert_id, day),
    CHECK (json_array_length(seat_numbers) = json_array_length(seat_prices))
) STRICT;
-- The sweeper's work list: only live holds are in it.
CREATE INDEX reservations_lapsing ON reservations (expires_at) WHERE status = 'HELD';

CREATE TABLE payments (
    id              TEXT PRIMARY KEY,
    reservation_id  TEXT NOT NULL UNIQUE REFERENCES reservations (id),
    user_id         TEXT NOT NULL REFERENCES users (id),
    concert_id      TEXT NOT NULL REFERENCES concerts (id),
    amount          INTEGER NOT NULL CHECK (amount >= 0),
    balance_after   INTEGER NOT NULL CHECK (balance_after >= 0),
    paid_at         INTEGER NOT NULL,
    idempotency_key TEXT,
    UNIQUE (user_id, idempotency_key)
) STRICT;
CREATE INDEX payments_concert ON payments (concert_id, amount);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;

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
