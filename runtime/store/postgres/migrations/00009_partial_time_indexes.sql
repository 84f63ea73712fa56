-- Two indexes kept only for the rows their queries read, so that the
-- insert of every other row writes one index entry fewer:
--   * execute_at: ResponseTimings looks for requests received before its
--     window that execute in it, which only a request executing after it
--     was received (future-dated, deferred) can do; its query adds the term
--     execute_at > received_at that lets it use this index. The due work
--     (state, execute_at) has requests_due.
--   * (kind, due_at): AlertDeliveries reads alerts only; a Service
--     Response's delivery, one a request, is no longer in it.
--
-- Built CONCURRENTLY, outside a transaction, under names of their own, so
-- that gateways sharing the database keep writing while they are built and
-- the old indexes serve until the new ones are ready (as migration 7).

-- +goose NO TRANSACTION

-- +goose Up
CREATE INDEX CONCURRENTLY IF NOT EXISTS requests_executes_later ON requests (execute_at) WHERE execute_at > received_at;
DROP INDEX CONCURRENTLY IF EXISTS requests_execute;
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_alerts_due ON deliveries (kind, due_at) WHERE kind = 'alert';
DROP INDEX CONCURRENTLY IF EXISTS deliveries_kind_due;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS requests_execute ON requests (execute_at);
DROP INDEX CONCURRENTLY IF EXISTS requests_executes_later;
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_kind_due ON deliveries (kind, due_at);
DROP INDEX CONCURRENTLY IF EXISTS deliveries_alerts_due;
