-- Communications Hubs (chapter 7, para 287-356): Suppliers' forecasts and
-- orders (one line per HAN variant, para 320-322), and each hub delivered,
-- kept with its order as a batch (para 356), with the dates of its life
-- and its removal, and the invoices parties did not pay: see
-- runtime/store/hubs.go. The conventions of
-- 00001_init.sql hold (times as BIGINT nanoseconds, the zero time the
-- smallest integer). An order's lines are JSON.

-- +goose Up
CREATE TABLE hub_forecasts (
	supplier TEXT NOT NULL,
	month    TEXT NOT NULL,
	variant  TEXT NOT NULL,
	quantity BIGINT NOT NULL,
	filed_at BIGINT NOT NULL,
	PRIMARY KEY (supplier, month, variant)
);

CREATE TABLE hub_orders (
	id               TEXT PRIMARY KEY,
	supplier         TEXT NOT NULL,
	region           TEXT NOT NULL DEFAULT '',
	tranche          TEXT NOT NULL DEFAULT '',
	free_replacement BOOLEAN NOT NULL DEFAULT FALSE,
	lines            TEXT NOT NULL,
	ordered_at       BIGINT NOT NULL,
	delivered_at     BIGINT NOT NULL
);
CREATE INDEX hub_orders_supplier ON hub_orders (supplier, ordered_at);

CREATE TABLE hubs (
	id                  TEXT PRIMARY KEY,
	order_id            TEXT NOT NULL,
	supplier            TEXT NOT NULL,
	variant             TEXT NOT NULL,
	delivered_at        BIGINT NOT NULL,
	installed_at        BIGINT NOT NULL,
	commissioned_at     BIGINT NOT NULL,
	installer           TEXT NOT NULL DEFAULT '',
	premises            TEXT NOT NULL DEFAULT '',
	removed_at          BIGINT NOT NULL,
	removed_by          TEXT NOT NULL DEFAULT '',
	removal_reason      TEXT NOT NULL DEFAULT '',
	replacement_variant TEXT NOT NULL DEFAULT '',
	csp_requested       BOOLEAN NOT NULL DEFAULT FALSE,
	refresh_programme   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX hubs_order ON hubs (order_id);
CREATE INDEX hubs_supplier ON hubs (supplier);

-- hub_defaults: a party did not pay one of its invoices of a month (K9.7):
-- its bad debt is socialised across the other users.
CREATE TABLE hub_defaults (
	party       TEXT NOT NULL,
	month       TEXT NOT NULL,
	invoice     TEXT NOT NULL,
	recorded_at BIGINT NOT NULL,
	PRIMARY KEY (party, month, invoice)
);

-- +goose Down
DROP TABLE hub_defaults;
DROP TABLE hubs;
DROP TABLE hub_orders;
DROP TABLE hub_forecasts;
