-- +goose Up

-- An event's id is a UUIDv7 made once, when its change writes it, and
-- copied by the relay: nothing looks events up by id, and the index that
-- kept ids unique was one of four that every numbered event is written
-- into.
ALTER TABLE events DROP CONSTRAINT events_id_key;

-- +goose Down
ALTER TABLE events ADD CONSTRAINT events_id_key UNIQUE (id);
