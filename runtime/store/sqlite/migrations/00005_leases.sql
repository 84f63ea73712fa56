-- Leases on the work in progress, so that several gateway processes can
-- share one database (runtime/store/lease.go): the process that claimed a
-- request (owner) and until when its claim holds (lease_until, wall-clock
-- nanoseconds since the Unix epoch; 0: never leased). A live process renews
-- its leases; another takes over a request whose lease has expired.
--
-- The file has one gateway (SQLite is not a shared store: the gateway
-- resumes all work at start and never renews or reclaims), so unlike on
-- PostgreSQL there are no indexes for renewing and reclaiming: the hot
-- path pays nothing for them.

-- +goose Up
ALTER TABLE requests ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE requests DROP COLUMN lease_until;
ALTER TABLE requests DROP COLUMN owner;
