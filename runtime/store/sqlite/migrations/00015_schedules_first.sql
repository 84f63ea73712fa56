-- A schedule's first run: a run's timestamp fields are its body's moved by
-- the run's distance from it (spec categories.scheduled.moves_times). A
-- schedule made before keeps its body as at its next run: first_at is
-- that run. Times as in 00001_init.sql. As the PostgreSQL migration of the
-- same name.

-- +goose Up
ALTER TABLE schedules ADD COLUMN first_at INTEGER NOT NULL DEFAULT 0;
UPDATE schedules SET first_at = next_at;

-- +goose Down
ALTER TABLE schedules DROP COLUMN first_at;
