-- What the operator asks of a worker, through the database (the source of truth), so that the
-- order holds whether or not Kubernetes can reach the pod, survives a restart of either side,
-- and is there before the worker's first poll.
--
-- A table of its own, not columns on `workers`: the operator writes a worker's controls before
-- its first pod ever registers (a TradingWorker created paused must never buy), and the
-- worker's registration upsert never touches them. No foreign key, for the same reason.
CREATE TABLE worker_controls (
    worker_id              TEXT PRIMARY KEY CHECK (worker_id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    -- stop buying (TradingWorker spec.paused); what is held is still managed and sold
    buy_paused             BOOLEAN NOT NULL DEFAULT false,
    -- liquidate at this time of its trading day (the operator's clock): the second trigger
    -- beside the worker's own close - offset; the worker takes the earlier of the two.
    -- A request dated another day is ignored.
    liquidate_requested_at TIMESTAMPTZ NULL,
    liquidate_requested_by TEXT NULL,
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per LiquidationSchedule and session day: when it fired, whom it ordered, and how the
-- check after the close ended. The schedule's Kubernetes status is derived from this.
CREATE TABLE liquidation_runs (
    schedule     TEXT NOT NULL,
    trading_day  DATE NOT NULL,
    run_at       TIMESTAMPTZ NOT NULL,          -- close - offset, as planned
    fired_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    workers      TEXT[] NOT NULL DEFAULT '{}',  -- the workers ordered to liquidate
    orphans_sold INTEGER NOT NULL DEFAULT 0 CHECK (orphans_sold >= 0),
    checked_at   TIMESTAMPTZ NULL,              -- the check after the close
    flat         BOOLEAN NULL,
    detail       JSONB NOT NULL DEFAULT '{}',   -- what was left, when not flat
    PRIMARY KEY (schedule, trading_day)
);
