-- The Service Desk's answer to a ticket (para 253-255) and when it was
-- given; a ticket not answered has '' and the zero time (the smallest
-- integer, as in 00001_init.sql). As the PostgreSQL migration of the same
-- name.

-- +goose Up
ALTER TABLE tickets ADD COLUMN answer TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN answered_at INTEGER NOT NULL DEFAULT -9223372036854775808;

-- +goose Down
ALTER TABLE tickets DROP COLUMN answered_at;
ALTER TABLE tickets DROP COLUMN answer;
