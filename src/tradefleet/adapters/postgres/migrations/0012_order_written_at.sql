-- When the writer's clock (the session clock: the broker's time scale, which a demo or chaos
-- run may compress) said the row was written. It bounds the by-symbol lookup of a row no
-- live process remembers: an order placed at the broker before our row existed (a person's
-- own, by hand) is never matched to it. NULL for rows written before this column existed.
ALTER TABLE orders ADD COLUMN written_at TIMESTAMPTZ NULL;

-- EXPIRED rows the broker never showed are looked up again for a day (order_follower.py):
-- found by every worker's follower without reading the whole order history.
CREATE INDEX orders_expired_unseen ON orders (trading_day)
    WHERE status = 'EXPIRED' AND broker_order_id IS NULL AND filled_qty = 0;
