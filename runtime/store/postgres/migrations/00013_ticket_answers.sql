-- The Service Desk's answer to a ticket (para 253-255) and when it was
-- given; a ticket not answered has '' and the zero time (the smallest
-- integer, as in 00001_init.sql). A process of an earlier version sharing
-- the database during an upgrade writes tickets without these columns and
-- leaves an answer as it is.

-- +goose Up
ALTER TABLE tickets ADD COLUMN answer text NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN answered_at bigint NOT NULL DEFAULT -9223372036854775808;

-- +goose Down
ALTER TABLE tickets DROP COLUMN answered_at;
ALTER TABLE tickets DROP COLUMN answer;
