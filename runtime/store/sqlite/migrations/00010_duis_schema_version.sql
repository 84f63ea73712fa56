-- The schemaVersion a request was sent in DUIS, for the responses that
-- follow: a response carries the version of the request it answers
-- (spec/duis.cue schema_version). '' for a request recorded before: its
-- results carry the gateway's own version (own_schema_version). As the
-- PostgreSQL migration of the same name.

-- +goose Up
ALTER TABLE duis_requests ADD COLUMN schema_version TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE duis_requests DROP COLUMN schema_version;
