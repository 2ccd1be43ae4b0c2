-- +goose Up

-- A charge or payment with an Idempotency-Key that the data refused
-- (INVALID_REQUEST past the cap, ALREADY_PAID, HOLD_EXPIRED,
-- INSUFFICIENT_BALANCE) keeps that answer under its key: a retry of the same
-- request gets it again, another request is IDEMPOTENCY_KEY_REUSED. The row
-- is written by the statement that decided the refusal, under the wallet
-- lock; the primary key is the last line against a second answer. Failures
-- that decided nothing (unreachable database, cancelled request) are never
-- written. Successful keys live on the ledger (charges) and payments.
CREATE TABLE idempotency_failures (
    user_id         text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('CHARGE', 'PAYMENT')),
    idempotency_key text NOT NULL,
    amount          bigint,  -- CHARGE: the amount asked
    reservation_id  uuid,    -- PAYMENT: the reservation asked
    code            text NOT NULL,
    message         text NOT NULL,
    at              timestamptz NOT NULL,
    PRIMARY KEY (user_id, kind, idempotency_key),
    CHECK ((kind = 'CHARGE') = (amount IS NOT NULL)),
    CHECK ((kind = 'PAYMENT') = (reservation_id IS NOT NULL))
);

-- +goose Down
DROP TABLE idempotency_failures;
