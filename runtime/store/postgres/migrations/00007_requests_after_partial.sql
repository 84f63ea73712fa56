-- Most requests name no predecessor (para 127 sequencing is the exception):
-- the index on after_id keeps only those that do, so the insert of every
-- other request writes one index entry fewer. ListRequests adds the term
-- after_id <> '' that lets a query by predecessor use it.
--
-- Built CONCURRENTLY, outside a transaction: gateways sharing the database
-- keep writing requests while it is built (a plain CREATE INDEX would hold
-- them all until it ends). The new index has a name of its own, so that
-- the old one serves until the new one is ready.

-- +goose NO TRANSACTION

-- +goose Up
CREATE INDEX CONCURRENTLY IF NOT EXISTS requests_predecessor ON requests (after_id) WHERE after_id <> '';
DROP INDEX CONCURRENTLY IF EXISTS requests_after;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS requests_after ON requests (after_id);
DROP INDEX CONCURRENTLY IF EXISTS requests_predecessor;
