-- The contact a SEC Party that is not a DCC User gives with a query at the
-- public Service Desk (para 254-255), where the Service Desk answers it,
-- and the SHA-256 (hex) of the secret code with which it looks the ticket
-- up; '' where there is none (a user's ticket). As the PostgreSQL
-- migration of the same name.

-- +goose Up
ALTER TABLE tickets ADD COLUMN contact TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN lookup_hash TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE tickets DROP COLUMN lookup_hash;
ALTER TABLE tickets DROP COLUMN contact;
