-- +goose Up

-- A user's paid reservations, by concert and date. A hold counts the seats
-- the user owns on the date against the seat limit, and reads them from
-- the user's reservations: every paid one, found here, and the held ones,
-- found in reservations_user by their expiry. Reading them from the
-- date's seats instead scanned all 50 rows of the date, and the versions
-- every hold and lapse leaves, for each request.
CREATE INDEX reservations_paid ON reservations (user_id, concert_id, day) WHERE status = 'PAID';

-- +goose Down

DROP INDEX reservations_paid;
