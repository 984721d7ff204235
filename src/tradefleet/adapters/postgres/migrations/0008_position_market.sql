-- The KRX market of a position's symbol (domain/markets.py): the sell-side taxes depend on it
-- (KOSPI: transaction tax + rural special tax; KOSDAQ, KONEX: transaction tax only; ETF, ETN:
-- none), so the close computes PnL with the market recorded at entry.
--
-- NULL means "not known": rows from before this migration, or an entry made by a worker that
-- did not know the market. No default: guessing KOSPI would undercharge a KOSDAQ sell. A close
-- of such a position is still recorded (refusing it would leave a real fill unrecorded) and
-- charged the highest tax any market would on that amount, so PnL is never overstated.
-- Workers refuse to OPEN a position whose market they cannot tell.
ALTER TABLE positions ADD COLUMN market TEXT NULL
    CHECK (market IN ('KOSPI', 'KOSDAQ', 'KONEX', 'ETF', 'ETN'));

-- The same on orders, written when the order row is made (before anything is sent), so that a
-- fill applied after a restart or by reconciliation still knows the market of its position.
ALTER TABLE orders ADD COLUMN market TEXT NULL
    CHECK (market IN ('KOSPI', 'KOSDAQ', 'KONEX', 'ETF', 'ETN'));
