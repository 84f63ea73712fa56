-- The DUIS outbox (runtime/store/sqlstore/duis_outbox.go): each user's
-- Receive Response address, and the signed sr:Response documents (results
-- and alerts) waiting to be POSTed there or already acknowledged. A message
-- comes from one delivery of the user's stream (source, its cursor): the
-- unique key makes collecting it again a no-op, so a restart neither loses
-- nor repeats one. Times are INTEGER nanoseconds (00001_init.sql), the
-- zero time the smallest integer: sent_at is the zero time until a 2xx.

-- +goose Up
-- duis_requests: what a request sent in DUIS was (its SRV and its DUIS
-- RequestID), keyed by its ID on the gateway, for the responses that follow.
CREATE TABLE duis_requests (
	request_id      TEXT PRIMARY KEY,
	duis_request_id TEXT NOT NULL,
	srv             TEXT NOT NULL
) STRICT;

CREATE TABLE duis_receivers (
	user_id TEXT PRIMARY KEY,
	address TEXT NOT NULL
) STRICT;

CREATE TABLE duis_outbox (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id    TEXT NOT NULL,
	source     INTEGER NOT NULL,
	request_id TEXT NOT NULL DEFAULT '',
	address    TEXT NOT NULL,
	body       BLOB NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	next_at    INTEGER NOT NULL,
	sent_at    INTEGER NOT NULL,
	last_error TEXT NOT NULL DEFAULT '',
	UNIQUE (user_id, source)
) STRICT;
CREATE INDEX duis_outbox_due ON duis_outbox (next_at) WHERE sent_at = -9223372036854775808;

-- +goose Down
DROP INDEX duis_outbox_due;
DROP TABLE duis_outbox;
DROP TABLE duis_receivers;
DROP TABLE duis_requests;
