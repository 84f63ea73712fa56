-- A request that a held request names as its predecessor (para 126-127)
-- is marked awaited, by a trigger on the held request's insert, in the
-- same transaction. The predecessor's final update returns the mark
-- (store.Leaser's FinishRequest), and a process looks for held successors
-- only when it is set: one statement a request fewer. The mark is written
-- on the predecessor's row, so an insert that sets it and the final update
-- of the predecessor take the row in turn: the update returns the mark of
-- a successor committed before it, and a successor committed after it
-- finds its predecessor final when the gateway reads it again. A mark set
-- already is left as it is (no write, no wait): it is never cleared, and
-- no update of a request writes it, so any later version of the row
-- carries it. A trigger, not the gateway's insert, so that a process of an
-- earlier version sharing the database during an upgrade marks them too.

-- +goose Up
ALTER TABLE requests ADD COLUMN awaited boolean NOT NULL DEFAULT false;
UPDATE requests SET awaited = true WHERE id IN (SELECT after_id FROM requests WHERE state = 'held' AND after_id <> '');
-- +goose StatementBegin
CREATE FUNCTION dccgate_mark_awaited() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	UPDATE requests SET awaited = true WHERE id = NEW.after_id AND NOT awaited;
	RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER requests_mark_awaited AFTER INSERT ON requests FOR EACH ROW
	WHEN (NEW.state = 'held' AND NEW.after_id <> '') EXECUTE FUNCTION dccgate_mark_awaited();

-- +goose Down
DROP TRIGGER requests_mark_awaited ON requests;
DROP FUNCTION dccgate_mark_awaited();
ALTER TABLE requests DROP COLUMN awaited;
