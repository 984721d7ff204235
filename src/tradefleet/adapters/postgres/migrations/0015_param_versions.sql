-- Parameter versions (issue 21): a strategy's parameters with the evidence that produced
-- them (`tradefleet tune`: scores, days, trials), approved by a person before the fleet
-- takes them. Times are the database clock's. A version is never edited after approval:
-- a new tune writes a new row.
CREATE TABLE param_versions (
    version_id   BIGSERIAL PRIMARY KEY,
    strategy     TEXT NOT NULL CHECK (strategy ~ '^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$'),
    params       JSONB NOT NULL CHECK (jsonb_typeof(params) = 'object'),
    evidence     JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(evidence) = 'object'),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    approved_by  TEXT NULL CHECK (approved_by IS NULL OR length(btrim(approved_by)) > 0),
    approved_at  TIMESTAMPTZ NULL,
    approve_reason TEXT NULL,
    CHECK ((approved_by IS NULL) = (approved_at IS NULL))
);
CREATE INDEX param_versions_approved ON param_versions (strategy, approved_at DESC)
    WHERE approved_at IS NOT NULL;

-- The version a worker took at the start of its session: a restart later that day takes
-- the same one, whatever was approved meanwhile (never a switch mid-session).
CREATE TABLE session_param_versions (
    trading_day  DATE NOT NULL,
    worker_id    TEXT NOT NULL,
    version_id   BIGINT NOT NULL REFERENCES param_versions (version_id),
    taken_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (trading_day, worker_id)
);
