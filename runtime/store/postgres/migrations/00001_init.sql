-- The gateway's state (see runtime/store/store.go). Shared conventions
-- with the sqlite schema, so one set of queries serves both:
--   times are BIGINT nanoseconds since the Unix epoch, UTC; the zero
--   time is -9223372036854775808 (the smallest integer, so it sorts first);
--   users.last_counter is the uint64 counter with its top bit flipped
--   (counter - 2^63), which keeps the order across the whole range;
--   absent byte slices are NULL.

-- +goose Up
CREATE TABLE users (
	id           TEXT PRIMARY KEY,
	role         TEXT NOT NULL DEFAULT '',
	party        TEXT NOT NULL DEFAULT '',
	suspended    BOOLEAN NOT NULL DEFAULT FALSE,
	entered      BOOLEAN NOT NULL DEFAULT FALSE,
	cert_pem     TEXT NOT NULL DEFAULT '',
	last_counter BIGINT NOT NULL
);

CREATE TABLE registrations (
	mpxn             TEXT NOT NULL,
	effective_from   BIGINT NOT NULL,
	fuel             TEXT NOT NULL DEFAULT '',
	import_supplier  TEXT NOT NULL DEFAULT '',
	export_supplier  TEXT NOT NULL DEFAULT '',
	network_operator TEXT NOT NULL DEFAULT '',
	postcode         TEXT NOT NULL DEFAULT '',
	premises         TEXT NOT NULL DEFAULT '',
	uprn             TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (mpxn, effective_from)
);
CREATE INDEX registrations_address ON registrations (postcode, premises);
CREATE INDEX registrations_uprn ON registrations (uprn);

CREATE TABLE devices (
	id          TEXT PRIMARY KEY,
	type        TEXT NOT NULL DEFAULT '',
	status      TEXT NOT NULL DEFAULT '',
	mpxn        TEXT NOT NULL DEFAULT '',
	chf         TEXT NOT NULL DEFAULT '',
	meter       TEXT NOT NULL DEFAULT '',
	credentials TEXT NOT NULL DEFAULT '',
	updated_at  BIGINT NOT NULL
);
CREATE INDEX devices_chf ON devices (chf);
CREATE INDEX devices_meter ON devices (meter);
CREATE INDEX devices_mpxn ON devices (mpxn);

CREATE TABLE requests (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL,
	service      TEXT NOT NULL DEFAULT '',
	device_id    TEXT NOT NULL DEFAULT '',
	category     TEXT NOT NULL DEFAULT '',
	delivery     TEXT NOT NULL DEFAULT '',
	execute_at   BIGINT NOT NULL,
	after_id     TEXT NOT NULL DEFAULT '',
	body         BYTEA,
	schedule     BYTEA,
	state        TEXT NOT NULL DEFAULT '',
	reason       TEXT NOT NULL DEFAULT '',
	clause       TEXT NOT NULL DEFAULT '',
	message      TEXT NOT NULL DEFAULT '',
	received_at  BIGINT NOT NULL,
	due_at       BIGINT NOT NULL,
	completed_at BIGINT NOT NULL,
	response     BYTEA,
	pre_command  BYTEA,
	signed       BYTEA,
	schedule_id  TEXT NOT NULL DEFAULT '',
	attempts     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX requests_due ON requests (state, execute_at);
CREATE INDEX requests_user ON requests (user_id, service, received_at);
CREATE INDEX requests_device ON requests (device_id);
CREATE INDEX requests_after ON requests (after_id);

CREATE TABLE schedules (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL DEFAULT '',
	device_id  TEXT NOT NULL DEFAULT '',
	service    TEXT NOT NULL DEFAULT '',
	every_ns   BIGINT NOT NULL DEFAULT 0,
	next_at    BIGINT NOT NULL,
	body       BYTEA,
	created_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX schedules_next ON schedules (next_at);

-- BIGSERIAL: a cursor is never reused (Reset deletes, it does not restart the
-- sequence). Appenders take a transaction-scoped advisory lock first, so
-- cursors commit in order (see postgres.go).
CREATE TABLE deliveries (
	seq        BIGSERIAL PRIMARY KEY,
	user_id    TEXT NOT NULL DEFAULT '',
	kind       TEXT NOT NULL DEFAULT '',
	request_id TEXT NOT NULL DEFAULT '',
	code       TEXT NOT NULL DEFAULT '',
	device_id  TEXT NOT NULL DEFAULT '',
	payload    BYTEA,
	created_at BIGINT NOT NULL,
	due_at     BIGINT NOT NULL
);
CREATE INDEX deliveries_user ON deliveries (user_id, seq);

-- +goose Down
DROP TABLE deliveries;
DROP TABLE schedules;
DROP TABLE requests;
DROP TABLE devices;
DROP TABLE registrations;
DROP TABLE users;
