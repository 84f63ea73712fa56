-- Communications Hubs (chapter 7, para 287-356): Suppliers' forecasts and
-- orders (one line per HAN variant, para 320-322), and each hub delivered,
-- kept with its order as a batch (para 356), with the dates of its life
-- and its removal, and the invoices parties did not pay: see
-- runtime/store/hubs.go. The conventions of
-- 00001_init.sql hold (times as INTEGER nanoseconds, the zero time the
-- smallest integer). An order's lines are JSON.

-- +goose Up
CREATE TABLE hub_forecasts (
	supplier TEXT NOT NULL,
	month    TEXT NOT NULL,
	variant  TEXT NOT NULL,
	quantity INTEGER NOT NULL,
	filed_at INTEGER NOT NULL,
	PRIMARY KEY (supplier, month, variant)
) STRICT;

CREATE TABLE hub_orders (
	id               TEXT PRIMARY KEY,
	supplier         TEXT NOT NULL,
	region           TEXT NOT NULL DEFAULT '',
	tranche          TEXT NOT NULL DEFAULT '',
	free_replacement INTEGER NOT NULL DEFAULT 0,
	lines            TEXT NOT NULL,
	ordered_at       INTEGER NOT NULL,
	delivered_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX hub_orders_supplier ON hub_orders (supplier, ordered_at);

CREATE TABLE hubs (
	id                  TEXT PRIMARY KEY,
	order_id            TEXT NOT NULL,
	supplier            TEXT NOT NULL,
	variant             TEXT NOT NULL,
	delivered_at        INTEGER NOT NULL,
	installed_at        INTEGER NOT NULL,
	commissioned_at     INTEGER NOT NULL,
	installer           TEXT NOT NULL DEFAULT '',
	premises            TEXT NOT NULL DEFAULT '',
	removed_at          INTEGER NOT NULL,
	removed_by          TEXT NOT NULL DEFAULT '',
	removal_reason      TEXT NOT NULL DEFAULT '',
	replacement_variant TEXT NOT NULL DEFAULT '',
	csp_requested       INTEGER NOT NULL DEFAULT 0,
	refresh_programme   TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX hubs_order ON hubs (order_id);
CREATE INDEX hubs_supplier ON hubs (supplier);

-- hub_defaults: a party did not pay one of its invoices of a month (K9.7):
-- its bad debt is socialised across the other users.
CREATE TABLE hub_defaults (
	party       TEXT NOT NULL,
	month       TEXT NOT NULL,
	invoice     TEXT NOT NULL,
	recorded_at INTEGER NOT NULL,
	PRIMARY KEY (party, month, invoice)
) STRICT;

-- +goose Down
DROP TABLE hub_defaults;
DROP TABLE hubs;
DROP TABLE hub_orders;
DROP TABLE hub_forecasts;
