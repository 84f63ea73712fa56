-- A request that a held request names as its predecessor (para 126-127)
-- is marked awaited, by a trigger on the held request's insert, in the
-- same transaction; its final update returns the mark (store.Leaser's
-- FinishRequest), and a process sharing the store looks for held
-- successors only when it is set. The mark is never cleared. (A gateway
-- alone on its file keeps the same knowledge in memory.) As the
-- PostgreSQL migration of the same name.

-- +goose Up
ALTER TABLE requests ADD COLUMN awaited INTEGER NOT NULL DEFAULT 0;
UPDATE requests SET awaited = 1 WHERE id IN (SELECT after_id FROM requests WHERE state = 'held' AND after_id <> '');
-- +goose StatementBegin
CREATE TRIGGER requests_mark_awaited AFTER INSERT ON requests
WHEN NEW.state = 'held' AND NEW.after_id <> ''
BEGIN
	UPDATE requests SET awaited = 1 WHERE id = NEW.after_id AND awaited = 0;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER requests_mark_awaited;
ALTER TABLE requests DROP COLUMN awaited;
