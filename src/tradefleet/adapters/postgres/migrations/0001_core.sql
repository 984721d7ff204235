-- Core schema of tradefleet. Money is BIGINT won (prices that are averages: NUMERIC).
-- Ages are always judged against the database clock (now()), never a worker's clock.

CREATE TABLE workers (
    worker_id        TEXT PRIMARY KEY CHECK (worker_id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    pid              INTEGER NOT NULL CHECK (pid > 0),
    host             TEXT NOT NULL,
    mode             TEXT NOT NULL CHECK (mode IN ('sim', 'paper', 'real')),
    status           TEXT NOT NULL CHECK (status IN ('IDLE', 'SCAN', 'HOLD', 'EXIT')),
    current_symbol   TEXT NULL CHECK (current_symbol ~ '^[0-9A-Z]{6}$'),
    lock_ttl_seconds INTEGER NOT NULL CHECK (lock_ttl_seconds BETWEEN 1 AND 3600),
    -- bumped on every (re)registration: a zombie with an older epoch cannot heartbeat
    epoch            BIGINT NOT NULL DEFAULT 1 CHECK (epoch > 0),
    buy_blocked      TEXT NULL,          -- reason buying stopped for the day (risk breach), NULL = may buy
    started_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    stopped_at       TIMESTAMPTZ NULL
);
CREATE INDEX workers_live_heartbeat ON workers (heartbeat_at) WHERE status <> 'EXIT';

-- Fencing tokens: strictly increasing across the whole fleet.
CREATE SEQUENCE fencing_token_seq AS BIGINT;

CREATE TABLE stock_locks (
    symbol        TEXT PRIMARY KEY CHECK (symbol ~ '^[0-9A-Z]{6}$'),   -- the UNIQUE that decides races
    worker_id     TEXT NOT NULL REFERENCES workers (worker_id),
    fencing_token BIGINT NOT NULL UNIQUE,
    locked_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    ttl_seconds   INTEGER NOT NULL CHECK (ttl_seconds BETWEEN 1 AND 3600),
    heartbeat_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX stock_locks_worker ON stock_locks (worker_id);

CREATE TABLE candidates (
    candidate_id     BIGSERIAL PRIMARY KEY,
    scan_id          UUID NOT NULL,
    worker_id        TEXT NOT NULL REFERENCES workers (worker_id),
    trading_day      DATE NOT NULL,
    symbol           TEXT NOT NULL CHECK (symbol ~ '^[0-9A-Z]{6}$'),
    price            BIGINT NOT NULL CHECK (price > 0),
    volume           BIGINT NOT NULL CHECK (volume >= 0),
    traded_value     BIGINT NOT NULL CHECK (traded_value >= 0),
    change_rate      NUMERIC(8, 4) NOT NULL,
    spread_ticks     INTEGER NULL CHECK (spread_ticks >= 0),
    passed_filters   BOOLEAN NOT NULL,
    rejected_by      TEXT[] NOT NULL DEFAULT '{}',
    indicators       JSONB NOT NULL DEFAULT '{}',
    signal           BOOLEAN NOT NULL,
    strategy_name    TEXT NOT NULL,
    strategy_version TEXT NOT NULL,
    param_version    TEXT NOT NULL,
    scanned_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX candidates_worker_time ON candidates (worker_id, scanned_at);
CREATE INDEX candidates_day_signal ON candidates (trading_day, symbol) WHERE signal;

CREATE TABLE orders (
    order_id         BIGSERIAL PRIMARY KEY,
    client_order_id  TEXT NOT NULL UNIQUE,          -- ours, made before sending
    worker_id        TEXT NOT NULL REFERENCES workers (worker_id),
    trading_day      DATE NOT NULL,
    symbol           TEXT NOT NULL CHECK (symbol ~ '^[0-9A-Z]{6}$'),
    side             TEXT NOT NULL CHECK (side IN ('BUY', 'SELL')),
    order_type       TEXT NOT NULL CHECK (order_type IN ('MARKET', 'LIMIT')),
    qty              BIGINT NOT NULL CHECK (qty > 0),
    limit_price      BIGINT NULL CHECK (limit_price > 0),
    -- NEW: row written, not yet sent. SENT: broker acknowledged. UNKNOWN: ambiguous send, never resent,
    -- settled only by a broker lookup. Terminal: FILLED, CANCELLED, REJECTED, EXPIRED.
    status           TEXT NOT NULL CHECK (status IN ('NEW', 'SENT', 'UNKNOWN', 'PARTIALLY_FILLED',
                                                     'FILLED', 'CANCELLED', 'REJECTED', 'EXPIRED')),
    filled_qty       BIGINT NOT NULL DEFAULT 0 CHECK (filled_qty >= 0 AND filled_qty <= qty),
    filled_amount    BIGINT NOT NULL DEFAULT 0 CHECK (filled_amount >= 0),   -- sum(price*qty) won
    fencing_token    BIGINT NOT NULL,
    purpose          TEXT NOT NULL,                 -- ENTRY, STOP_LOSS, TAKE_PROFIT, TREND_BREAK, TIME_EXIT, LIQUIDATION ...
    attempt          INTEGER NOT NULL DEFAULT 1 CHECK (attempt BETWEEN 1 AND 10),
    broker_order_id  TEXT NULL,                     -- KIS ODNO
    broker_branch    TEXT NULL,                     -- KIS KRX_FWDG_ORD_ORGNO
    reject_code      TEXT NULL,
    reject_message   TEXT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at          TIMESTAMPTZ NULL,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((order_type = 'LIMIT') = (limit_price IS NOT NULL)),
    CHECK (status <> 'FILLED' OR filled_qty = qty)
);
CREATE INDEX orders_open ON orders (worker_id)
    WHERE status IN ('NEW', 'SENT', 'UNKNOWN', 'PARTIALLY_FILLED');
CREATE UNIQUE INDEX orders_broker_id ON orders (trading_day, broker_order_id)
    WHERE broker_order_id IS NOT NULL;
CREATE INDEX orders_symbol_day ON orders (trading_day, symbol);

CREATE TABLE fills (
    fill_id         BIGSERIAL PRIMARY KEY,
    order_id        BIGINT NOT NULL REFERENCES orders (order_id),
    -- dedupe key from the broker report (e.g. ODNO:cumulative_qty), so a replayed report is not counted twice
    broker_fill_key TEXT NOT NULL,
    symbol          TEXT NOT NULL CHECK (symbol ~ '^[0-9A-Z]{6}$'),
    side            TEXT NOT NULL CHECK (side IN ('BUY', 'SELL')),
    qty             BIGINT NOT NULL CHECK (qty > 0),
    price           NUMERIC(18, 4) NOT NULL CHECK (price > 0),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    filled_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (order_id, broker_fill_key)
);
CREATE INDEX fills_symbol_time ON fills (symbol, filled_at);

CREATE TABLE positions (
    position_id      BIGSERIAL PRIMARY KEY,
    worker_id        TEXT NOT NULL REFERENCES workers (worker_id),
    trading_day      DATE NOT NULL,
    symbol           TEXT NOT NULL CHECK (symbol ~ '^[0-9A-Z]{6}$'),
    status           TEXT NOT NULL CHECK (status IN ('OPEN', 'CLOSED')),
    qty              BIGINT NOT NULL CHECK (qty >= 0),        -- currently held
    bought_qty       BIGINT NOT NULL DEFAULT 0 CHECK (bought_qty >= 0),
    sold_qty         BIGINT NOT NULL DEFAULT 0 CHECK (sold_qty >= 0),
    buy_amount       BIGINT NOT NULL DEFAULT 0 CHECK (buy_amount >= 0),
    sell_amount      BIGINT NOT NULL DEFAULT 0 CHECK (sell_amount >= 0),
    fees             BIGINT NOT NULL DEFAULT 0 CHECK (fees >= 0),
    taxes            BIGINT NOT NULL DEFAULT 0 CHECK (taxes >= 0),
    entry_price      NUMERIC(18, 4) NULL,
    entry_at         TIMESTAMPTZ NULL,
    strategy_name    TEXT NOT NULL,
    strategy_version TEXT NOT NULL,
    param_version    TEXT NOT NULL,
    fencing_token    BIGINT NOT NULL,
    exit_reason      TEXT NULL,
    exit_price       NUMERIC(18, 4) NULL,
    exit_at          TIMESTAMPTZ NULL,
    realized_pnl     BIGINT NULL,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (qty = bought_qty - sold_qty),
    CHECK (status = 'OPEN' OR qty = 0)
);
-- The database itself refuses a second open position on one symbol, whoever asks.
CREATE UNIQUE INDEX positions_one_open_per_symbol ON positions (symbol) WHERE status = 'OPEN';
CREATE INDEX positions_worker_day ON positions (worker_id, trading_day);

CREATE TABLE daily_summaries (
    trading_day   DATE NOT NULL,
    worker_id     TEXT NOT NULL REFERENCES workers (worker_id),
    realized_pnl  BIGINT NOT NULL DEFAULT 0,
    trades_count  INTEGER NOT NULL DEFAULT 0 CHECK (trades_count >= 0),
    win_count     INTEGER NOT NULL DEFAULT 0 CHECK (win_count >= 0),
    loss_count    INTEGER NOT NULL DEFAULT 0 CHECK (loss_count >= 0),
    max_loss      BIGINT NOT NULL DEFAULT 0 CHECK (max_loss <= 0),   -- most negative trade PnL
    fees          BIGINT NOT NULL DEFAULT 0 CHECK (fees >= 0),
    taxes         BIGINT NOT NULL DEFAULT 0 CHECK (taxes >= 0),
    win_rate      NUMERIC(6, 4) GENERATED ALWAYS AS
                  (CASE WHEN trades_count > 0 THEN win_count::NUMERIC / trades_count END) STORED,
    avg_pnl       NUMERIC(18, 2) GENERATED ALWAYS AS
                  (CASE WHEN trades_count > 0 THEN realized_pnl::NUMERIC / trades_count END) STORED,
    -- next-day tuning data: filters that passed, adverse fills, forced-liquidation losses, shortfalls
    tuning        JSONB NOT NULL DEFAULT '{}',
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (trading_day, worker_id),
    CHECK (win_count + loss_count <= trades_count)
);

-- Append-only event history. No foreign key: events outlive and precede the rows they mention.
CREATE TABLE events (
    event_id    BIGSERIAL PRIMARY KEY,
    event_type  TEXT NOT NULL CHECK (event_type ~ '^[A-Z][A-Za-z]+Event$'),
    worker_id   TEXT NULL,
    symbol      TEXT NULL,
    payload     JSONB NOT NULL DEFAULT '{}',
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX events_type_time ON events (event_type, occurred_at);
CREATE INDEX events_worker_time ON events (worker_id, occurred_at);
