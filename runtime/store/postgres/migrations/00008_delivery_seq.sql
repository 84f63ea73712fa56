-- A delivery's cursor is given by dccgate_delivery_seq in the INSERT that
-- appends it. The first row of an append names its users (sorted), and the
-- function takes their locks in that order (held until commit, so a user's
-- cursors commit in cursor order) and a shared hold of the lock a reading
-- of every user's deliveries takes, before it gives the cursor; the other
-- rows name none. Taking the locks in the INSERT itself, rather than in a
-- statement before it, saves a round trip made while holding them: under
-- load the other appenders to the users queued behind each one
-- (sqlstore.Dialect.DeliverySeq).
--
-- The lock classes are arguments, so that they are written only in Go
-- (postgres.lockClass), where the reader of every user's deliveries takes
-- the same lock.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION dccgate_delivery_seq(all_class integer, user_class integer, users text[]) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
	SELECT pg_advisory_xact_lock_shared(all_class, hashtext(coalesce(current_schema(), '')));
	SELECT count(pg_advisory_xact_lock(user_class, hashtext(coalesce(current_schema(), '') || '/' || u)))
		FROM unnest(users) AS u;
	SELECT nextval(pg_get_serial_sequence('deliveries', 'seq'));
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION dccgate_delivery_seq(integer, integer, text[]);
