-- Two indexes kept only for the rows their queries read, so that the
-- insert of every other row writes one index entry fewer:
--   * execute_at: ResponseTimings looks for requests received before its
--     window that execute in it, which only a request executing after it
--     was received (future-dated, deferred) can do; its query adds the term
--     execute_at > received_at that lets it use this index. The due work
--     (state, execute_at) has requests_due.
--   * (kind, due_at): AlertDeliveries reads alerts only; a Service
--     Response's delivery, one a request, is no longer in it.

-- +goose Up
DROP INDEX requests_execute;
CREATE INDEX requests_execute ON requests (execute_at) WHERE execute_at > received_at;
DROP INDEX deliveries_kind_due;
CREATE INDEX deliveries_kind_due ON deliveries (kind, due_at) WHERE kind = 'alert';

-- +goose Down
DROP INDEX requests_execute;
CREATE INDEX requests_execute ON requests (execute_at);
DROP INDEX deliveries_kind_due;
CREATE INDEX deliveries_kind_due ON deliveries (kind, due_at);
