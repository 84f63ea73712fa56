-- Service management (para 206-255): the Incident Management Log and its
-- timeline, Service Desk tickets, planned maintenance windows, releases and
-- feedback on the Self-Service Interface: see runtime/store/servicemgmt.go.
-- The conventions of 00001_init.sql hold (times as BIGINT nanoseconds, the
-- zero time the smallest integer). Parties lists (interested, notified) are
-- written ",a,b," so that one party is matched with LIKE '%,id,%'.

-- +goose Up
CREATE TABLE incidents (
	id                  TEXT PRIMARY KEY,
	raised_by           TEXT NOT NULL,
	category            TEXT NOT NULL,
	priority            TEXT NOT NULL DEFAULT '',
	status              TEXT NOT NULL,
	area                TEXT NOT NULL DEFAULT '',
	device_id           TEXT NOT NULL DEFAULT '',
	request_id          TEXT NOT NULL DEFAULT '',
	title               TEXT NOT NULL DEFAULT '',
	description         TEXT NOT NULL DEFAULT '',
	responsible_party   TEXT NOT NULL DEFAULT '',
	responsible_user    TEXT NOT NULL DEFAULT '',
	responsibility_rule TEXT NOT NULL DEFAULT '',
	clause              TEXT NOT NULL DEFAULT '',
	interested          TEXT NOT NULL DEFAULT ',',
	major               BOOLEAN NOT NULL DEFAULT FALSE,
	dcc_manager         TEXT NOT NULL DEFAULT '',
	party_manager       TEXT NOT NULL DEFAULT '',
	notified            TEXT NOT NULL DEFAULT ',',
	raised_at           BIGINT NOT NULL,
	target_at           BIGINT NOT NULL,
	allocated_at        BIGINT NOT NULL,
	resolved_at         BIGINT NOT NULL,
	closed_at           BIGINT NOT NULL,
	review_due_at       BIGINT NOT NULL,
	reviewed_at         BIGINT NOT NULL,
	review              TEXT NOT NULL DEFAULT '',
	ticket_id           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX incidents_raised ON incidents (raised_at);
CREATE INDEX incidents_raised_by ON incidents (raised_by);
CREATE INDEX incidents_responsible ON incidents (responsible_user);

CREATE TABLE incident_events (
	incident_id TEXT NOT NULL,
	seq         BIGINT NOT NULL,
	at          BIGINT NOT NULL,
	actor       TEXT NOT NULL DEFAULT '',
	kind        TEXT NOT NULL,
	status      TEXT NOT NULL DEFAULT '',
	note        TEXT NOT NULL DEFAULT '',
	data        BYTEA,
	PRIMARY KEY (incident_id, seq)
);

CREATE TABLE tickets (
	id          TEXT PRIMARY KEY,
	raised_by   TEXT NOT NULL,
	party       TEXT NOT NULL DEFAULT '',
	is_user     BOOLEAN NOT NULL DEFAULT FALSE,
	kind        TEXT NOT NULL,
	subject     TEXT NOT NULL DEFAULT '',
	body        TEXT NOT NULL DEFAULT '',
	status      TEXT NOT NULL,
	incident_id TEXT NOT NULL DEFAULT '',
	created_at  BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL
);
CREATE INDEX tickets_raised_by ON tickets (raised_by, created_at);

CREATE TABLE maintenance_windows (
	id                TEXT PRIMARY KEY,
	starts_at         BIGINT NOT NULL,
	ends_at           BIGINT NOT NULL,
	description       TEXT NOT NULL DEFAULT '',
	published_at      BIGINT NOT NULL,
	panel_approval    TEXT NOT NULL DEFAULT '',
	panel_approved_at BIGINT NOT NULL,
	cancelled         BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX maintenance_windows_starts ON maintenance_windows (starts_at);

CREATE TABLE releases (
	id           TEXT PRIMARY KEY,
	kind         TEXT NOT NULL,
	name         TEXT NOT NULL DEFAULT '',
	announced_at BIGINT NOT NULL,
	implement_at BIGINT NOT NULL,
	notes        TEXT NOT NULL DEFAULT ''
);

CREATE TABLE ssi_feedback (
	id      TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	page    TEXT NOT NULL DEFAULT '',
	body    TEXT NOT NULL DEFAULT '',
	at      BIGINT NOT NULL
);

-- +goose Down
DROP TABLE ssi_feedback;
DROP TABLE releases;
DROP TABLE maintenance_windows;
DROP TABLE tickets;
DROP TABLE incident_events;
DROP TABLE incidents;
