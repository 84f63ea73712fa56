-- The insert of a held request (para 126-127) takes its predecessor's row
-- also when the predecessor is marked awaited already, so that it is
-- ordered with the predecessor's end. A request ends together with the
-- moves of the requests held behind it (store.Store's UpdateRequests),
-- whose check for one still held is a statement after the ending UPDATE:
-- a held request stored first is committed before that UPDATE takes the
-- row, and the check sees it; one stored later waits for the end's commit
-- and finds its predecessor final when the gateway reads it again.
-- Migration 10 took the row only to mark it, so the insert of a second
-- successor went by an end under way, and could commit between its check
-- and its commit. FOR SHARE: inserts of successors of one request do not
-- wait for each other, only for an update of it; after the mark's UPDATE,
-- not before, so that two of them never hold the row shared and then
-- wait for each other to mark it.

-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION dccgate_mark_awaited() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	UPDATE requests SET awaited = true WHERE id = NEW.after_id AND NOT awaited;
	PERFORM 1 FROM requests WHERE id = NEW.after_id FOR SHARE;
	RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION dccgate_mark_awaited() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	UPDATE requests SET awaited = true WHERE id = NEW.after_id AND NOT awaited;
	RETURN NULL;
END
$$;
-- +goose StatementEnd
