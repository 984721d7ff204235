-- Leased shares of an appkey's per-second budget.
--
-- A per-request grant (tf_rate_acquire_batch) costs a database round trip before every broker
-- call. A process that calls steadily (a worker polling its position once a second, and now
-- and then an order) instead leases a small share: "at most `share` requests in any window"
-- until `expires_at`, spent locally with no round trip. Grants and shares are judged together,
-- so at every decision   in-window grants + counted shares <= limit.
--
-- A share is counted while it can still have requests inside a window: until expires_at plus
-- one window. When a holder renews with a smaller share, the larger one it replaces stays
-- counted (past_share) for as long as the old lease could still be in use plus one window,
-- since the holder keeps spending the old share until the renewal's answer reaches it.
CREATE UNLOGGED TABLE rate_shares (
    budget_key TEXT NOT NULL,
    holder     TEXT NOT NULL,
    share      INTEGER NOT NULL CHECK (share >= 0),
    expires_at TIMESTAMPTZ NOT NULL,
    past_share INTEGER NOT NULL DEFAULT 0 CHECK (past_share >= 0),
    past_until TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
    PRIMARY KEY (budget_key, holder)
);

-- What one holder's row occupies of the budget at time p_t.
CREATE FUNCTION tf_rate_share_counted(r rate_shares, p_t TIMESTAMPTZ, p_window DOUBLE PRECISION)
RETURNS INTEGER
LANGUAGE sql IMMUTABLE AS $$
    SELECT GREATEST(
        CASE WHEN r.expires_at + make_interval(secs => p_window) > p_t THEN r.share ELSE 0 END,
        CASE WHEN r.past_until > p_t THEN r.past_share ELSE 0 END)
$$;

-- Per-request grants now leave room for the leased shares (same contract as in 0004).
CREATE OR REPLACE FUNCTION tf_rate_acquire_batch(p_key TEXT, p_limit INTEGER,
                                                 p_window DOUBLE PRECISION, p_want INTEGER)
RETURNS DOUBLE PRECISION
LANGUAGE plpgsql AS $$
DECLARE
    t       TIMESTAMPTZ;
    in_win  INTEGER;
    oldest  TIMESTAMPTZ;
    shared  INTEGER;
    n       INTEGER;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('tf_rate:' || p_key, 0));
    t := clock_timestamp();
    DELETE FROM rate_grants
     WHERE budget_key = p_key AND granted_at <= t - make_interval(secs => p_window);
    SELECT count(*), min(granted_at) INTO in_win, oldest
      FROM rate_grants WHERE budget_key = p_key;
    SELECT coalesce(sum(tf_rate_share_counted(s, t, p_window)), 0) INTO shared
      FROM rate_shares s WHERE s.budget_key = p_key;
    n := LEAST(GREATEST(p_want, 1), p_limit - in_win - shared);
    IF n >= 1 THEN
        INSERT INTO rate_grants (budget_key, granted_at)
        SELECT p_key, t FROM generate_series(1, n);
        RETURN n;
    END IF;
    IF oldest IS NULL THEN          -- the shares hold the whole budget: ask again shortly
        RETURN -0.05;
    END IF;
    RETURN -GREATEST(0.001, EXTRACT(EPOCH FROM (oldest + make_interval(secs => p_window) - t)));
END;
$$;

-- Lease (or renew, or with p_want = 0 give back) a share for p_holder. Returns the share
-- granted (0..p_want: what fits under the limit and under the pool that shares may take
-- together), the seconds until it may be spent, and the seconds it is valid for, both counted
-- from the call. A share counts from now, so no new grant takes its room; when grants already
-- in the window leave too little room, it starts once enough of them have aged out. Shares
-- thus get their place even while per-call grants keep the window full.
CREATE FUNCTION tf_rate_share(p_key TEXT, p_holder TEXT, p_limit INTEGER,
                              p_window DOUBLE PRECISION, p_want INTEGER,
                              p_ttl DOUBLE PRECISION, p_pool INTEGER)
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
        -- the old lease may be spent until it expires: keep it counted until then + a window
        keep := tf_rate_share_counted(mine, t, p_window);
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
