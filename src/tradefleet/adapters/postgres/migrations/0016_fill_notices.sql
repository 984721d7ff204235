-- Fill notices pushed over the account's WebSocket (issue 20, H0STCNI0/H0STCNI9), one row per
-- distinct notice of one of our orders. A notice carries no execution number, so a notice is
-- known by what it says: (order, HHMMSS, shares, price). The same notice twice (a duplicate
-- push, a resent frame) inserts nothing the second time. Two real executions of one order
-- alike in all four are told apart only by the order follower (REST), which records the
-- second: the push is fast, REST is the safety net.
-- ``applied``: whether this notice moved the order (its fill recorded from the push), or only
-- joined the ledger because the order follower had already recorded fills the pushed
-- notices did not account for (then the follower alone records that order's fills).
-- Numbered 0016: 0015 is taken by another branch of the same session (param versions).
CREATE TABLE fill_notices (
    notice_id        BIGSERIAL PRIMARY KEY,
    order_id         BIGINT NOT NULL REFERENCES orders (order_id),
    broker_order_id  TEXT NOT NULL,
    executed_hms     TEXT NOT NULL CHECK (executed_hms ~ '^[0-9]{6}$'),
    qty              BIGINT NOT NULL CHECK (qty > 0),
    price            BIGINT NOT NULL CHECK (price > 0),
    applied          BOOLEAN NOT NULL,
    received_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (order_id, executed_hms, qty, price)
);
