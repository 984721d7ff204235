-- What the whole fleet shares per broker appkey: one access token, one request budget, and
-- one quote snapshot per poll window. Appkeys are never stored: only a SHA-256 of them.

CREATE TABLE broker_tokens (
    appkey_hash  TEXT PRIMARY KEY CHECK (appkey_hash ~ '^[0-9a-f]{64}$'),
    mode         TEXT NOT NULL CHECK (mode IN ('sim', 'paper', 'real')),
    token_cipher TEXT NOT NULL,               -- Fernet-encrypted when a key is configured
    expires_at   TIMESTAMPTZ NOT NULL,        -- from access_token_token_expired (KST)
    issued_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    issue_count  INTEGER NOT NULL DEFAULT 1 CHECK (issue_count > 0)
);

-- Grants of the per-appkey request budget, judged by the database clock.
CREATE UNLOGGED TABLE rate_grants (
    budget_key TEXT NOT NULL,
    granted_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX rate_grants_key_time ON rate_grants (budget_key, granted_at);

-- Returns 0 when a request may be sent now (and records it), else the seconds to wait.
-- The advisory lock serialises grants of one key across every process of the fleet.
CREATE FUNCTION tf_rate_acquire(p_key TEXT, p_limit INTEGER, p_window DOUBLE PRECISION)
RETURNS DOUBLE PRECISION
LANGUAGE plpgsql AS $$
DECLARE
    t        TIMESTAMPTZ;
    in_win   INTEGER;
    oldest   TIMESTAMPTZ;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('tf_rate:' || p_key, 0));
    t := clock_timestamp();
    DELETE FROM rate_grants
     WHERE budget_key = p_key AND granted_at <= t - make_interval(secs => p_window);
    SELECT count(*), min(granted_at) INTO in_win, oldest
      FROM rate_grants WHERE budget_key = p_key;
    IF in_win < p_limit THEN
        INSERT INTO rate_grants (budget_key, granted_at) VALUES (p_key, t);
        RETURN 0;
    END IF;
    RETURN GREATEST(0.001, EXTRACT(EPOCH FROM (oldest + make_interval(secs => p_window) - t)));
END;
$$;

CREATE TABLE shared_quotes (
    scope_key  TEXT NOT NULL,                 -- appkey hash + universe hash
    window_id  BIGINT NOT NULL,               -- poll window number (market clock / interval)
    quotes     JSONB NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (scope_key, window_id)
);
