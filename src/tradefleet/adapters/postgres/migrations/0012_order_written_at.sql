-- When the writer's clock (the session clock: the broker's time scale, which a demo or chaos
-- run may compress) said the row was written. It bounds the by-symbol lookup of a row no
-- live process remembers: an order placed at the broker before our row existed (a person's
-- own, by hand) is never matched to it. NULL for rows written before this column existed.
ALTER TABLE orders ADD COLUMN written_at TIMESTAMPTZ NULL;
