-- A shrinking share keeps counting only what its holder may still have in the window.
--
-- 0006 kept a shrunk (or given back) share counted at its old size until the old lease could
-- no longer be spent: 3 s of ttl plus a window. A fleet whose shares shrink as its workers go
-- quiet thus had most of its counted shares in old sizes nobody was spending (measured in a
-- 20-worker run: 15 counted, 7 live), and an order found the whole limit taken while the
-- broker saw a quarter of it. Now a holder that shrinks stops spending beyond its new ask from
-- the moment it asks (``rate_share.py``) and says how many places it may still occupy
-- (p_keep_at_most: those in its window now, or the new ask if more); the old size is kept
-- counted only up to that, for as long as before. A caller that does not say (NULL) keeps
-- 0006's rule.
DROP FUNCTION tf_rate_share(TEXT, TEXT, INTEGER, DOUBLE PRECISION, INTEGER, DOUBLE PRECISION,
                            INTEGER);

CREATE FUNCTION tf_rate_share(p_key TEXT, p_holder TEXT, p_limit INTEGER,
                              p_window DOUBLE PRECISION, p_want INTEGER,
                              p_ttl DOUBLE PRECISION, p_pool INTEGER,
                              p_keep_at_most INTEGER DEFAULT NULL)
RETURNS TABLE (granted INTEGER, starts_in DOUBLE PRECISION, valid_for DOUBLE PRECISION)
LANGUAGE plpgsql AS $$
DECLARE
    t           TIMESTAMPTZ;
    in_win      INTEGER;
    others      INTEGER;
    others_live INTEGER;
    mine        rate_shares;
    keep        INTEGER := 0;
    keep_until  TIMESTAMPTZ := '-infinity';
    s           INTEGER;
    excess      INTEGER;
    start_at    TIMESTAMPTZ;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('tf_rate:' || p_key, 0));
    t := clock_timestamp();
    DELETE FROM rate_grants
     WHERE budget_key = p_key AND granted_at <= t - make_interval(secs => p_window);
    DELETE FROM rate_shares r
     WHERE r.budget_key = p_key AND tf_rate_share_counted(r, t, p_window) = 0
       AND r.holder <> p_holder;
    SELECT count(*) INTO in_win FROM rate_grants WHERE budget_key = p_key;
    SELECT coalesce(sum(tf_rate_share_counted(r, t, p_window)), 0),
           coalesce(sum(r.share) FILTER (WHERE r.expires_at > t), 0)
      INTO others, others_live
      FROM rate_shares r WHERE r.budget_key = p_key AND r.holder <> p_holder;
    SELECT * INTO mine FROM rate_shares r WHERE r.budget_key = p_key AND r.holder = p_holder;
    IF FOUND THEN
        -- the old lease may be spent until it expires: keep what its holder may still occupy
        -- of it counted until then + a window
        keep := LEAST(tf_rate_share_counted(mine, t, p_window),
                      coalesce(p_keep_at_most, 2147483647));
        keep_until := GREATEST(mine.expires_at + make_interval(secs => p_window),
                               mine.past_until);
    END IF;
    s := GREATEST(0, LEAST(p_want, p_limit - others, p_pool - others_live));
    start_at := t;
    excess := in_win + others + GREATEST(s, keep) - p_limit;  -- grants that must age out first
    IF s > 0 AND excess > 0 THEN
        SELECT g.granted_at + make_interval(secs => p_window) INTO start_at
          FROM rate_grants g WHERE g.budget_key = p_key
         ORDER BY g.granted_at OFFSET excess - 1 LIMIT 1;
    END IF;
    INSERT INTO rate_shares AS r (budget_key, holder, share, expires_at, past_share, past_until)
    VALUES (p_key, p_holder, s, start_at + make_interval(secs => p_ttl), keep, keep_until)
    ON CONFLICT (budget_key, holder) DO UPDATE
       SET share = EXCLUDED.share, expires_at = EXCLUDED.expires_at,
           past_share = EXCLUDED.past_share, past_until = EXCLUDED.past_until;
    granted := s;
    starts_in := EXTRACT(EPOCH FROM (start_at - t));
    valid_for := CASE WHEN s > 0 THEN starts_in + p_ttl ELSE 0 END;
    RETURN NEXT;
END;
$$;
