-- Leases on the work in progress, so that several gateway processes can
-- share one database (runtime/store/lease.go): the process that claimed a
-- request (owner) and until when its claim holds (lease_until, wall-clock
-- nanoseconds since the Unix epoch; 0: never leased). A live process renews
-- its leases; another takes over a request whose lease has expired.

-- +goose Up
ALTER TABLE requests ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX requests_owner ON requests (owner) WHERE state = 'executing';
CREATE INDEX requests_lease ON requests (lease_until) WHERE state IN ('acknowledged', 'executing');

-- +goose Down
DROP INDEX requests_lease;
DROP INDEX requests_owner;
ALTER TABLE requests DROP COLUMN lease_until;
ALTER TABLE requests DROP COLUMN owner;
