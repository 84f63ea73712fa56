-- The results of the remote diagnostics users ran (para 226-227), kept
-- until the user raises the incident they are for: one per user and device
-- (a new run replaces the last). In the database, so that any process may
-- take the incident whichever process ran the diagnostic. A process of an
-- earlier version sharing the database during an upgrade keeps its own
-- diagnoses in memory and does not read these. Times as in 00001_init.sql;
-- data is JSON.

-- +goose Up
CREATE TABLE diagnoses (
	id        TEXT PRIMARY KEY,
	tool      TEXT NOT NULL,
	caller    TEXT NOT NULL,
	device_id TEXT NOT NULL,
	result    TEXT NOT NULL DEFAULT '',
	data      TEXT NOT NULL DEFAULT '',
	at        BIGINT NOT NULL
);
CREATE UNIQUE INDEX diagnoses_caller_device ON diagnoses (caller, device_id);

-- +goose Down
DROP TABLE diagnoses;
