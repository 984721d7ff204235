-- Orders get places of their own in the account's budget.
--
-- Until now an order whose share was spent asked tf_rate_acquire_batch under the whole limit,
-- judged on the whole count. That count holds places nobody is using on paper (a share granted
-- but waiting to start, a late answer's extra row, a shrunk share still counted), so the last
-- places of the limit filled up on paper and a sell on a stop waited ~500 ms for a second in
-- which the broker had seen 2 to 4 requests. Now every order's row is marked (for_order) and an
-- order is granted at once while fewer than p_order_places (the reserve) order rows are in the
-- window, whatever the rest of the count; past that it falls back to the whole-count rule.
--
-- Why the broker still never sees more than the limit. Call N the places in a window that are
-- not order rows (read rows, leased shares) and O the order rows (every order's, by its own
-- places or by the fallback); what holds after every grant is N <= limit - reserve and
-- N + O <= limit.
--   * Reads (tf_rate_acquire_batch) and shares (tf_rate_share) are granted under limit -
--     reserve against everything counted, order rows included: after a grant N + O is at most
--     limit - reserve. (Were order rows left out, reads would fill limit - reserve on top of
--     orders granted by the fallback past the reserve.)
--   * An order by its own places is granted only while O < reserve: after it O <= reserve, so
--     N + O <= (limit - reserve) + reserve.
--   * An order by the fallback is granted only while N + O < limit.
--   * Late answers (rate_budget.py) insert a row without asking: the request already had its
--     place, and the row keeps that place counted past its grant. An order's late row is an
--     order row: marked as a read's, it would put N above limit - reserve unasked once its
--     order row aged out, and that order row's place would go to another order on top. (A
--     read's late row stays a read's; an order that had spent a share's place and comes back
--     as an order row only moves a place from N to O, the sum unchanged.)
-- A share granted but waiting to start is counted in N from its grant, before it can be spent:
-- the count on paper is at least what the broker can see, and only orders' own places look
-- past it.
-- The clock and the lock are tf_rate_acquire_batch's, so both judge the same window.
ALTER TABLE rate_grants ADD COLUMN for_order BOOLEAN NOT NULL DEFAULT false;

-- One place for an order: 1 when granted (its row marked for_order), else minus the seconds to
-- wait, as tf_rate_acquire_batch answers.
CREATE FUNCTION tf_rate_acquire_order(p_key TEXT, p_limit INTEGER, p_window DOUBLE PRECISION,
                                      p_order_places INTEGER)
RETURNS DOUBLE PRECISION
LANGUAGE plpgsql AS $$
DECLARE
    t       TIMESTAMPTZ;
    in_win  INTEGER;
    orders  INTEGER;
    oldest  TIMESTAMPTZ;
    shared  INTEGER;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('tf_rate:' || p_key, 0));
    t := clock_timestamp();
    DELETE FROM rate_grants
     WHERE budget_key = p_key AND granted_at <= t - make_interval(secs => p_window);
    SELECT count(*), count(*) FILTER (WHERE for_order), min(granted_at)
      INTO in_win, orders, oldest
      FROM rate_grants WHERE budget_key = p_key;
    SELECT coalesce(sum(tf_rate_share_counted(s, t, p_window)), 0) INTO shared
      FROM rate_shares s WHERE s.budget_key = p_key;
    IF orders < p_order_places OR in_win + shared < p_limit THEN
        INSERT INTO rate_grants (budget_key, granted_at, for_order) VALUES (p_key, t, true);
        RETURN 1;
    END IF;
    IF oldest IS NULL THEN          -- the shares hold the whole budget: ask again shortly
        RETURN -0.05;
    END IF;
    RETURN -GREATEST(0.001, EXTRACT(EPOCH FROM (oldest + make_interval(secs => p_window) - t)));
END;
$$;
