-- The scan row behind a position's entry, found without reading the worker's whole day.
--
-- Each closed trade records, for next-day tuning, the last candidate row of its worker and
-- symbol scanned at or before the entry (position_store.ENTRY_SCAN: worker_id, symbol,
-- trading_day equal; scanned_at <= entry_at, newest first, one row). The only index it could
-- use was candidates_worker_time (worker_id, scanned_at): every row the worker wrote up to the
-- entry (a scan writes one per symbol of the universe, ~100 here, thousands with the whole
-- market) read and filtered by symbol. Measured on a replayed fleet-day (10 workers, 100
-- symbols, bench/replay_statements.py): 0.65 ms a trade, 7 % of the server's statement time;
-- with this index 0.06 ms.
--
-- It replaces candidates_worker_time rather than joining it: that lookup was the old index's
-- only reader (no other statement filters candidates by worker and time), and every scan's
-- insert (the costliest statement of a replayed day) pays for each index on the table: with
-- both, the inserts' time rose by about what the lookup saved. A lookup by worker alone still
-- has this index's first column.
DROP INDEX candidates_worker_time;
CREATE INDEX candidates_worker_symbol_day_time
    ON candidates (worker_id, symbol, trading_day, scanned_at);
