-- The Registration Data Interface (chapter 4) and the state of the reports
-- (para 259-273): see runtime/store/reporting.go. The conventions of
-- 00001_init.sql hold (times as BIGINT nanoseconds, the zero time the
-- smallest integer).

-- +goose Up
-- What an RDP sends beside the fields the gateway's checks read.
ALTER TABLE registrations ADD COLUMN meter_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE registrations ADD COLUMN profile_class TEXT NOT NULL DEFAULT '';
ALTER TABLE registrations ADD COLUMN source TEXT NOT NULL DEFAULT '';
CREATE INDEX registrations_network ON registrations (network_operator);

CREATE TABLE rdps (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL DEFAULT '',
	cert_pem   TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL
);

CREATE TABLE rdp_nominations (
	network_operator TEXT NOT NULL,
	rdp              TEXT NOT NULL,
	nominated_at     BIGINT NOT NULL,
	PRIMARY KEY (network_operator, nominated_at)
);

CREATE TABLE registration_files (
	id          TEXT PRIMARY KEY,
	rdp         TEXT NOT NULL,
	kind        TEXT NOT NULL DEFAULT '',
	fuel        TEXT NOT NULL DEFAULT '',
	seq_no      BIGINT NOT NULL DEFAULT 0,
	name        TEXT NOT NULL DEFAULT '',
	sha256      TEXT NOT NULL DEFAULT '',
	received_at BIGINT NOT NULL,
	state       TEXT NOT NULL DEFAULT '',
	row_count   BIGINT NOT NULL DEFAULT 0,
	written     BIGINT NOT NULL DEFAULT 0,
	deleted     BIGINT NOT NULL DEFAULT 0,
	incident    TEXT NOT NULL DEFAULT ''
);
-- Of the applied files of an RDP and fuel, one per sequence number.
CREATE UNIQUE INDEX registration_files_seq ON registration_files (rdp, fuel, seq_no) WHERE state = 'applied';
CREATE INDEX registration_files_received ON registration_files (rdp, received_at);

CREATE TABLE registration_incidents (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL DEFAULT '',
	rdp         TEXT NOT NULL DEFAULT '',
	file_id     TEXT NOT NULL DEFAULT '',
	dedupe_key  TEXT NOT NULL DEFAULT '',
	raised_at   BIGINT NOT NULL,
	resolved_at BIGINT NOT NULL,
	summary     TEXT NOT NULL DEFAULT '',
	resolution  TEXT NOT NULL DEFAULT '',
	row_count   BIGINT NOT NULL DEFAULT 0,
	detail      BYTEA
);
CREATE UNIQUE INDEX registration_incidents_key ON registration_incidents (dedupe_key) WHERE dedupe_key <> '';
CREATE INDEX registration_incidents_raised ON registration_incidents (raised_at);

CREATE TABLE refresh_requests (
	id               TEXT PRIMARY KEY,
	rdp              TEXT NOT NULL,
	network_operator TEXT NOT NULL DEFAULT '',
	fuel             TEXT NOT NULL DEFAULT '',
	requested_at     BIGINT NOT NULL,
	due_at           BIGINT NOT NULL,
	received_at      BIGINT NOT NULL,
	file_id          TEXT NOT NULL DEFAULT '',
	overdue_at       BIGINT NOT NULL
);
CREATE INDEX refresh_requests_rdp ON refresh_requests (rdp, requested_at);

CREATE TABLE forecasts (
	user_id  TEXT NOT NULL,
	service  TEXT NOT NULL,
	month    TEXT NOT NULL,
	revision BIGINT NOT NULL,
	requests BIGINT NOT NULL,
	filed_at BIGINT NOT NULL,
	PRIMARY KEY (user_id, service, month, revision)
);

CREATE TABLE enrolment_days (
	day         BIGINT PRIMARY KEY,
	recorded_at BIGINT NOT NULL
);

CREATE TABLE enrolment_counts (
	day     BIGINT NOT NULL,
	user_id TEXT NOT NULL,
	systems BIGINT NOT NULL,
	PRIMARY KEY (day, user_id)
);

-- The reports find a request's response, alerts by due time, and a month's
-- requests by receipt or execution.
CREATE INDEX deliveries_request ON deliveries (request_id, seq);
CREATE INDEX deliveries_kind_due ON deliveries (kind, due_at);
CREATE INDEX requests_received ON requests (received_at);
CREATE INDEX requests_execute ON requests (execute_at);

-- +goose Down
DROP INDEX requests_execute;
DROP INDEX requests_received;
DROP INDEX deliveries_kind_due;
DROP INDEX deliveries_request;
DROP TABLE enrolment_counts;
DROP TABLE enrolment_days;
DROP TABLE forecasts;
DROP TABLE refresh_requests;
DROP TABLE registration_incidents;
DROP TABLE registration_files;
DROP TABLE rdp_nominations;
DROP TABLE rdps;
DROP INDEX registrations_network;
ALTER TABLE registrations DROP COLUMN source;
ALTER TABLE registrations DROP COLUMN profile_class;
ALTER TABLE registrations DROP COLUMN meter_agent;
