-- The device alerts anomaly detection stopped (para 136, footnote 14):
-- kept for the DCC to examine, never sent on. recipients is the users the
-- alert was for, comma-separated; payload the alert as it would have been
-- delivered (JSON). Times as in 00001_init.sql. As the SQLite migration of
-- the same name.

-- +goose Up
CREATE TABLE quarantined_alerts (
	id             BIGSERIAL PRIMARY KEY,
	device_id      TEXT NOT NULL,
	code           TEXT NOT NULL,
	recipients     TEXT NOT NULL DEFAULT '',
	payload        TEXT NOT NULL DEFAULT '',
	reason         TEXT NOT NULL,
	clause         TEXT NOT NULL DEFAULT '',
	detail         TEXT NOT NULL DEFAULT '',
	raised_at      BIGINT NOT NULL,
	quarantined_at BIGINT NOT NULL
);
CREATE INDEX quarantined_alerts_device ON quarantined_alerts (device_id, id);

-- +goose Down
DROP TABLE quarantined_alerts;
