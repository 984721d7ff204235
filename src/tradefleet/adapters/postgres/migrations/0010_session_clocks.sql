-- The simulated session clock a local fleet ran on (tradefleet demo), per trading day, so that
-- a report drawn later plots the session's KST clock rather than the wall time rows carry.
CREATE TABLE session_clocks (
    trading_day DATE PRIMARY KEY,
    clock       JSONB NOT NULL,          -- SimClock.to_env(): sim_start, speed, real_start
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
