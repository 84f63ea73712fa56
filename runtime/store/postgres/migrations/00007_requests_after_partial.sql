-- Most requests name no predecessor (para 127 sequencing is the exception):
-- the index on after_id keeps only those that do, so the insert of every
-- other request writes one index entry fewer. ListRequests adds the term
-- after_id <> '' that lets a query by predecessor use it.

-- +goose Up
DROP INDEX requests_after;
CREATE INDEX requests_after ON requests (after_id) WHERE after_id <> '';

-- +goose Down
DROP INDEX requests_after;
CREATE INDEX requests_after ON requests (after_id);
