-- The results of the remote diagnostics users ran (para 226-227), kept
-- until the user raises the incident they are for: one per user and device
-- (a new run replaces the last). In the store, not in a process's memory,
-- so that an incident may be raised after a restart, or through another
-- gateway process than the one that ran the diagnostic. Times as in
-- 00001_init.sql; data is JSON. As the PostgreSQL migration of the same
-- name.

-- +goose Up
CREATE TABLE diagnoses (
	id        TEXT PRIMARY KEY,
	tool      TEXT NOT NULL,
	caller    TEXT NOT NULL,
	device_id TEXT NOT NULL,
	result    TEXT NOT NULL DEFAULT '',
	data      TEXT NOT NULL DEFAULT '',
	at        INTEGER NOT NULL
);
CREATE UNIQUE INDEX diagnoses_caller_device ON diagnoses (caller, device_id);

-- +goose Down
DROP TABLE diagnoses;
