-- One scan per account and quote snapshot: the candidate ranking is computed by one worker
-- (the claimer) and read by every other worker whose scan is the same (account, universe,
-- strategy, parameter version, filters). A claim expires by the database clock, so a
-- claimer killed mid-scan holds the others up for at most its claim's lifetime.
CREATE TABLE shared_scans (
    scan_key         TEXT NOT NULL,            -- account hash + universe/strategy/filters hash
    window_id        BIGINT NOT NULL,          -- the quote snapshot's poll window
    result           JSONB NULL,               -- NULL while claimed and being computed
    claimed_by       TEXT NOT NULL,
    claim_expires_at TIMESTAMPTZ NOT NULL,
    computed_at      TIMESTAMPTZ NULL,
    PRIMARY KEY (scan_key, window_id)
);

-- How far the session clock runs ahead of each worker: session time at the start and end of
-- its polls (a compressed day must never outrun the fleet). One row per worker and day,
-- refreshed at most a few times a real second; `recent_max_lag_s` is the largest lag since the
-- previous write, `max_lag_s` the day's.
CREATE UNLOGGED TABLE poll_lags (
    worker_id        TEXT NOT NULL,
    trading_day      DATE NOT NULL,
    polls            BIGINT NOT NULL,
    recent_max_lag_s DOUBLE PRECISION NOT NULL,
    max_lag_s        DOUBLE PRECISION NOT NULL,
    last_poll_at     TIMESTAMPTZ NOT NULL,     -- session time at the end of the last poll
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (worker_id, trading_day)
);
