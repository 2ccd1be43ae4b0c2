-- +goose Up

-- A charge or payment with an Idempotency-Key that the data refused
-- (INVALID_REQUEST past the cap, ALREADY_PAID, HOLD_EXPIRED,
-- INSUFFICIENT_BALANCE) keeps that answer under its key: a retry of the same
-- request gets it again, another request is IDEMPOTENCY_KEY_REUSED. The row
-- is written in the transaction that decided the refusal. Failures that
-- decided nothing are never written.
CREATE TABLE idempotency_failures (
    user_id         TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('CHARGE', 'PAYMENT')),
    idempotency_key TEXT NOT NULL,
    amount          INTEGER,  -- CHARGE: the amount asked
    reservation_id  TEXT,     -- PAYMENT: the reservation asked
    code            TEXT NOT NULL,
    message         TEXT NOT NULL,
    at              INTEGER NOT NULL,
    PRIMARY KEY (user_id, kind, idempotency_key),
    CHECK ((kind = 'CHARGE') = (amount IS NOT NULL)),
    CHECK ((kind = 'PAYMENT') = (reservation_id IS NOT NULL))
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE idempotency_failures;
