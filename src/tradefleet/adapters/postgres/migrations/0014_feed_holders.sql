-- One WebSocket feed per account for the whole fleet (issue 20): its holder is elected by a
-- lease in this table, judged by the database clock, and fenced by a token that grows with
-- every new holder. A publish names its token and is refused in the same statement once the
-- lease lapsed or passed to another holder, so a frozen holder that wakes up publishes
-- nothing.
CREATE SEQUENCE feed_lease_token_seq;

CREATE TABLE feed_holders (
    account_key  TEXT PRIMARY KEY,
    holder_id    TEXT NOT NULL,
    lease_token  BIGINT NOT NULL,
    ttl_seconds  DOUBLE PRECISION NOT NULL CHECK (ttl_seconds > 0),
    acquired_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    renewed_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
