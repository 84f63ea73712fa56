-- A delivery's cursor is given by dccgate_delivery_seq in the INSERT that
-- appends it. The first row of an append names its users, and the
-- function takes their locks in the order of their keys (held until
-- commit, so a user's cursors commit in cursor order) and a shared hold of
-- the lock a reading of every user's deliveries takes, before it gives the
-- cursor; the other rows name none. Taking the locks in the INSERT itself,
-- rather than in a statement before it, saves a round trip made while
-- holding them: under load the other appenders to the users queued behind
-- each one (sqlstore.Dialect.DeliverySeq).
--
-- The keys are those earlier versions lock, so processes of both exclude
-- each other during an upgrade; the earlier ones lock in the order of the
-- user IDs, so two appends to the same users at once, one by each, may
-- deadlock until all run this one: PostgreSQL fails one of them, which is
-- tried again.
--
-- The lock classes are arguments, so that they are written only in Go
-- (postgres.lockClass), where the reader of every user's deliveries takes
-- the same lock.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION dccgate_delivery_seq(all_class integer, user_class integer, users text[]) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	k integer;
BEGIN
	PERFORM pg_advisory_xact_lock_shared(all_class, hashtext(coalesce(current_schema(), '')));
	-- In the order of the keys, not of the users: two users whose keys
	-- are the same would otherwise be locked in two orders.
	FOR k IN SELECT DISTINCT hashtext(coalesce(current_schema(), '') || '/' || u) AS h
		FROM unnest(users) AS u ORDER BY h
	LOOP
		PERFORM pg_advisory_xact_lock(user_class, k);
	END LOOP;
	RETURN nextval(pg_get_serial_sequence('deliveries', 'seq'));
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION dccgate_delivery_seq(integer, integer, text[]);
