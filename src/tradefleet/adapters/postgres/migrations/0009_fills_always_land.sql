-- A fill is recorded whatever happened to the lock it was ordered under (issue 9): an order
-- sent by a paused process whose lock was reclaimed meanwhile may still fill at the exchange,
-- and those shares must be tracked (then sold as an orphan), not rolled back by an index.
-- One OPEN position per worker and symbol; two workers holding one symbol is an invariant
-- the fencing prevents and the books check, not a reason to lose a fill.
DROP INDEX positions_one_open_per_symbol;
CREATE UNIQUE INDEX positions_one_open_per_worker_symbol ON positions (worker_id, symbol)
    WHERE status = 'OPEN';
CREATE INDEX positions_open_symbol ON positions (symbol) WHERE status = 'OPEN';

-- Which positions were taken over from a worker that was no longer live (orphans), and from
-- whom: the adopter sells them; the books and the report can tell them apart.
ALTER TABLE positions ADD COLUMN adopted_from TEXT NULL;
ALTER TABLE positions ADD COLUMN adopted_at TIMESTAMPTZ NULL;

-- An order row refused before it was sent (fence or lease refused at send time) is
-- REJECTED with a reject_code of our own; nothing reached the exchange.
