-- Grant up to p_want requests at once (a short lease a busy process spends locally), so a
-- burst of calls pays one database round trip per batch instead of one per call.
-- Returns the number granted (>= 1) or, when none is free, minus the seconds to wait.
CREATE FUNCTION tf_rate_acquire_batch(p_key TEXT, p_limit INTEGER, p_window DOUBLE PRECISION,
                                      p_want INTEGER)
RETURNS DOUBLE PRECISION
LANGUAGE plpgsql AS $$
DECLARE
    t       TIMESTAMPTZ;
    in_win  INTEGER;
    oldest  TIMESTAMPTZ;
    n       INTEGER;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('tf_rate:' || p_key, 0));
    t := clock_timestamp();
    DELETE FROM rate_grants
     WHERE budget_key = p_key AND granted_at <= t - make_interval(secs => p_window);
    SELECT count(*), min(granted_at) INTO in_win, oldest
      FROM rate_grants WHERE budget_key = p_key;
    n := LEAST(GREATEST(p_want, 1), p_limit - in_win);
    IF n >= 1 THEN
        INSERT INTO rate_grants (budget_key, granted_at)
        SELECT p_key, t FROM generate_series(1, n);
        RETURN n;
    END IF;
    RETURN -GREATEST(0.001, EXTRACT(EPOCH FROM (oldest + make_interval(secs => p_window) - t)));
END;
$$;
