-- The contact a SEC Party that is not a DCC User gives with a query at the
-- public Service Desk (para 254-255), where the Service Desk answers it,
-- and the SHA-256 (hex) of the secret code with which it looks the ticket
-- up; '' where there is none (a user's ticket). A process of an earlier
-- version sharing the database during an upgrade writes tickets without
-- these columns (a new ticket gets the defaults, and an update, such as
-- the Service Desk's answer, leaves them as they are) and does not read
-- them.

-- +goose Up
ALTER TABLE tickets ADD COLUMN contact text NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN lookup_hash text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE tickets DROP COLUMN lookup_hash;
ALTER TABLE tickets DROP COLUMN contact;
